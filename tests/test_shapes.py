"""Mapped shapes beyond a plain table: joined-table and single-table inheritance, a `column_property` and a
hybrid attribute (shown, never edited), a foreign key without a relationship (its raw key, filterable)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import ForeignKey, MetaData, String, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column

from tests.conftest import add_account
from tests.hosts import Person, own_tables, signed_in
from webapp.admin.models import AdminLogEntry

pytestmark = pytest.mark.anyio


class Base(DeclarativeBase):
    metadata = MetaData()


class Staff(Base):
    """Joined-table inheritance: every staff member has a row here, a manager one in `manager` too."""

    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    first_name: Mapped[str] = mapped_column(String(40))
    last_name: Mapped[str] = mapped_column(String(40))
    full_name: Mapped[str] = column_property(first_name + " " + last_name)
    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "staff"}

    @hybrid_property
    def initials(self) -> str:
        return f"{self.first_name[:1]}{self.last_name[:1]}"


class Manager(Staff):
    __tablename__ = "manager"
    id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    budget: Mapped[int]
    __mapper_args__ = {"polymorphic_identity": "manager"}


class Vehicle(Base):
    """Single-table inheritance: cars and vans in one table."""

    __tablename__ = "vehicle"
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    plate: Mapped[str] = mapped_column(String(20))
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # no relationship
    __mapper_args__ = {"polymorphic_on": "type", "polymorphic_identity": "vehicle"}


class Car(Vehicle):
    seats: Mapped[int | None]
    __mapper_args__ = {"polymorphic_identity": "car"}


ADMINS = [Staff, Manager, Vehicle, Car]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    async with own_tables(database_url, Base.metadata) as sessions:
        async with sessions() as session:
            # The database numbers the rows (1 and 2 on fresh tables): explicit ids would leave its sequences behind.
            ada, grace = (
                Staff(first_name="Ada", last_name="Lovelace"),
                Manager(first_name="Grace", last_name="Hopper", budget=100),
            )
            session.add_all([ada, grace])
            await session.flush()
            session.add_all([Vehicle(plate="V-1", driver_id=ada.id), Car(plate="C-2", seats=4)])
            await session.commit()
        await add_account(sessions, "clerk", superuser=True)
        yield sessions


@pytest.fixture
async def clerk(db: async_sessionmaker[Any], database_url: str) -> AsyncIterator[Person]:
    async with signed_in(database_url, Base.metadata, ADMINS, "clerk") as person:
        yield person


async def _rows(db: async_sessionmaker[Any], sql: str) -> list[tuple[Any, ...]]:
    async with db() as session:
        return [tuple(row) for row in await session.execute(text(sql))]


async def test_joined_table_inheritance_lists_adds_deletes_and_restores_both_rows(clerk, db):
    managers = await clerk.get("/admin/manager/")
    assert managers.status_code == 200 and "Grace" in managers.text and "Ada" not in managers.text
    form = await clerk.get("/admin/manager/new")
    assert 'name="budget"' in form.text and 'name="kind"' not in form.text, "the ORM writes the discriminator"
    added = await clerk.post("/admin/manager/", {"first_name": "Alan", "last_name": "Kay", "budget": "7", "kind": "x"})
    assert added.status_code == 303, added.text[:1500]
    assert await _rows(
        db, "SELECT s.kind, m.budget FROM staff s JOIN manager m ON m.id = s.id WHERE s.first_name = 'Alan'"
    ) == [("manager", 7)]
    deleted = await clerk.post("/admin/manager/2/delete", {})
    assert deleted.status_code == 303
    assert (
        await _rows(db, "SELECT id FROM staff WHERE id = 2") == []
        and await _rows(db, "SELECT id FROM manager WHERE id = 2") == []
    )
    async with db() as session:
        entry = await session.scalar(select(AdminLogEntry).where(AdminLogEntry.action == "delete"))
    restored = await clerk.post("/admin/manager/2/restore", {"entry": str(entry.id)})
    assert restored.status_code == 303, restored.text[:1500]
    assert await _rows(
        db, "SELECT s.first_name, s.kind, m.budget FROM staff s JOIN manager m ON m.id = s.id WHERE s.id = 2"
    ) == [("Grace", "manager", 100)]


async def test_single_table_inheritance_lists_each_kind_apart(clerk, db):
    cars = await clerk.get("/admin/car/")
    assert "C-2" in cars.text and "V-1" not in cars.text
    vehicles = await clerk.get("/admin/vehicle/")
    assert "C-2" in vehicles.text and "V-1" in vehicles.text
    added = await clerk.post("/admin/car/", {"plate": "C-3", "seats": "2", "driver_id": ""})
    assert added.status_code == 303, added.text[:1500]
    assert await _rows(db, "SELECT type, seats FROM vehicle WHERE plate = 'C-3'") == [("car", 2)]


async def test_computed_values_are_shown_exported_and_sorted_but_never_written(clerk, db):
    listed = await clerk.get("/admin/staff/?sort=-full_name")
    assert listed.status_code == 200
    assert "<td>Grace Hopper</td>" in listed.text and "<td>GH</td>" in listed.text
    assert listed.text.index("Grace Hopper") < listed.text.index("Ada Lovelace"), "sorted by the SQL expression"
    assert (await clerk.get("/admin/staff/?sort=initials")).status_code == 400, "a Python-only hybrid has no SQL"
    detail = await clerk.get("/admin/staff/1")
    assert "Ada Lovelace" in detail.text and "AL" in detail.text
    form = await clerk.get("/admin/staff/1/edit")
    assert 'name="full_name"' not in form.text and 'name="initials"' not in form.text and "Ada Lovelace" in form.text
    changed = await clerk.post("/admin/staff/1", {"first_name": "Augusta", "last_name": "Lovelace", "full_name": "X"})
    assert changed.status_code == 303, changed.text[:1500]
    assert await _rows(db, "SELECT first_name FROM staff WHERE id = 1") == [("Augusta",)]
    exported = (await clerk.get("/admin/staff/export.jsonl")).text
    assert '"full_name": "Augusta Lovelace"' in exported and '"initials": "AL"' in exported


async def test_a_foreign_key_without_a_relationship_shows_its_raw_key_and_filters(clerk):
    vehicles = await clerk.get("/admin/vehicle/?driver_id__gte=1&driver_id__lte=1")
    assert vehicles.status_code == 200 and "V-1" in vehicles.text and "C-2" not in vehicles.text
    assert "<td>1</td>" in vehicles.text
    form = await clerk.get("/admin/vehicle/1/edit")
    assert 'name="driver_id"' in form.text and 'value="1"' in form.text
