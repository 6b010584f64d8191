"""A column the database fills in (a server default) may be left blank on create: the INSERT leaves it out and
the database's default is stored, instead of NULL or "This field is required."."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import MetaData, String, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tests.conftest import add_account
from tests.hosts import Person, own_tables, signed_in
from webapp.admin.models import AdminLogEntry

pytestmark = pytest.mark.anyio


class Base(DeclarativeBase):
    metadata = MetaData()


class Ticket(Base):
    __tablename__ = "defaults_ticket"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(10), server_default=text("'new'"))
    queue: Mapped[str | None] = mapped_column(String(10), server_default=text("'general'"))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    async with own_tables(database_url, Base.metadata) as sessions:
        await add_account(sessions, "clerk", superuser=True)
        yield sessions


@pytest.fixture
async def clerk(db: Any, database_url: str) -> AsyncIterator[Person]:
    async with signed_in(database_url, Base.metadata, [Ticket], "clerk") as person:
        yield person


async def _tickets(db: Any) -> list[tuple[str, str, str | None]]:
    async with db() as session:
        return [tuple(r) for r in await session.execute(select(Ticket.title, Ticket.state, Ticket.queue))]


async def test_a_blank_field_with_a_server_default_takes_the_databases_default(clerk, db):
    form = await clerk.get("/admin/ticket/new")
    assert form.text.count("Left blank, the database's default is used.") == 2
    created = await clerk.post("/admin/ticket/", {"title": "Printer", "state": "", "queue": " "})
    assert created.status_code == 303
    assert await _tickets(db) == [("Printer", "new", "general")]
    async with db() as session:
        entry = await session.scalar(select(AdminLogEntry))
    assert entry.changes["state"] == [None, "new"], "the history records what the database stored"


async def test_a_typed_value_wins_over_the_server_default(clerk, db):
    created = await clerk.post("/admin/ticket/", {"title": "Door", "state": "open", "queue": "doors"})
    assert created.status_code == 303
    assert await _tickets(db) == [("Door", "open", "doors")]
    async with db() as session:
        key = await session.scalar(select(Ticket.id))
    edit = await clerk.get(f"/admin/ticket/{key}/edit")
    assert "the database's default" not in edit.text, "only a new record can leave it to the database"
