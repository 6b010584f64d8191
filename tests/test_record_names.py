"""A record is named by its `__str__` when its class defines one, else by a column that names it (name, title,
label, username, email; first and last name together; else the first short string column), or by the fields a
model's options name. "Album #1" only when the row has nothing better."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import ForeignKey, MetaData, String, Text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tests.conftest import add_account
from tests.hosts import Person, own_tables, signed_in
from webapp.admin import ModelAdmin

pytestmark = pytest.mark.anyio


class Base(DeclarativeBase):
    metadata = MetaData()


class Album(Base):
    __tablename__ = "names_album"
    AlbumId: Mapped[int] = mapped_column(primary_key=True)
    Title: Mapped[str] = mapped_column(String(160))


class Employee(Base):
    __tablename__ = "names_employee"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[int] = mapped_column(default=0)
    LastName: Mapped[str] = mapped_column(String(20))
    FirstName: Mapped[str] = mapped_column(String(20))
    ReportsTo: Mapped[int | None] = mapped_column(ForeignKey("names_employee.id"))
    manager: Mapped[Employee | None] = relationship(remote_side=[id])


class Invoice(Base):
    """No naming column: the first short string column names it."""

    __tablename__ = "names_invoice"
    id: Mapped[int] = mapped_column(primary_key=True)
    notes: Mapped[str | None] = mapped_column(Text)
    BillingCity: Mapped[str | None] = mapped_column(String(40))
    AlbumId: Mapped[int | None] = mapped_column(ForeignKey("names_album.AlbumId"))
    album: Mapped[Album | None] = relationship()


class Counter(Base):
    """Nothing to name it by."""

    __tablename__ = "names_counter"
    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


class Track(Base):
    __tablename__ = "names_track"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    composer: Mapped[str | None] = mapped_column(String(100))

    def __str__(self) -> str:
        return f"♪ {self.name}"


class InvoiceAdmin(ModelAdmin, model=Invoice):
    list_display = ("BillingCity", "AlbumId")


class ComposedTrackAdmin(ModelAdmin, model=Track):
    """Options name the fields, over the class's __str__."""

    label_fields = ("name", "composer")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    async with own_tables(database_url, Base.metadata) as sessions:
        await add_account(sessions, "clerk", superuser=True)
        async with sessions() as session:
            session.add(Album(AlbumId=1, Title="For Those About To Rock"))
            session.add(Employee(id=1, FirstName="Andrew", LastName="Adams"))
            session.add(Employee(id=2, FirstName="Nancy", LastName="Edwards", ReportsTo=1))
            session.add(Invoice(id=1, BillingCity="Stuttgart", AlbumId=1))
            session.add(Invoice(id=2, BillingCity=None))
            session.add(Counter(id=1, value=3))
            session.add(Track(id=1, name="Balls to the Wall", composer="U. Dirkschneider"))
            await session.commit()
        yield sessions


@pytest.fixture
async def clerk(db: Any, database_url: str) -> AsyncIterator[Person]:
    async with signed_in(database_url, Base.metadata, [Album, Employee, InvoiceAdmin, Counter, Track], "clerk") as p:
        yield p


async def test_a_title_column_names_the_record_in_links_pages_and_messages(clerk):
    invoices = await clerk.get("/admin/invoice/")
    assert '<a href="/admin/album/1">For Those About To Rock</a>' in invoices.text
    assert "Album #1" not in invoices.text
    detail = await clerk.get("/admin/album/1")
    assert "For Those About To Rock</nav>" in detail.text, "the breadcrumb names it"
    lookup = await clerk.get("/admin/album/lookup?q=rock", accept="application/json")
    assert [r["label"] for r in lookup.json()["results"]] == ["For Those About To Rock"]


async def test_first_and_last_name_together_name_a_person_even_through_a_self_reference(clerk):
    employees = await clerk.get("/admin/employee/")
    assert '<a href="/admin/employee/1">Andrew Adams</a>' in employees.text, "Nancy reports to Andrew"
    form = await clerk.get("/admin/employee/2/edit")
    assert ">Andrew Adams</option>" in form.text
    deleted = await clerk.post("/admin/employee/2/delete", {})
    assert deleted.status_code == 303
    page = await clerk.get("/admin/employee/")
    assert "The employee “Nancy Edwards” was deleted." in page.text


async def test_the_first_short_string_column_names_a_record_without_a_naming_column(clerk):
    invoice = await clerk.get("/admin/invoice/1")
    assert "Stuttgart</nav>" in invoice.text
    empty = await clerk.get("/admin/invoice/2")
    assert "Invoice #2</nav>" in empty.text, "a row whose naming column is empty falls back to its key"
    counter = await clerk.get("/admin/counter/1")
    assert "Counter #1</nav>" in counter.text


async def test_a_class_str_names_its_records_unless_the_options_name_fields(clerk, database_url):
    assert "♪ Balls to the Wall</nav>" in (await clerk.get("/admin/track/1")).text
    async with signed_in(database_url, Base.metadata, [ComposedTrackAdmin], "clerk") as other:
        page = await other.get("/admin/track/1")
        assert "Balls to the Wall U. Dirkschneider</nav>" in page.text


def test_label_fields_must_name_fields():
    class Wrong(ModelAdmin, model=Album):
        label_fields = ("Name",)

    with pytest.raises(TypeError, match="label_fields names unknown fields: Name"):
        Wrong()
