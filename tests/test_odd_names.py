"""Names a real schema has: reserved words (`order`, `group`, `user`), CamelCase tables and columns, and on
PostgreSQL a table in a schema of its own (itself CamelCase). Every route quotes them: list, search, sort,
filter, create, detail, edit, delete, restore, history and export."""

from __future__ import annotations

import json
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


class Order(Base):
    __tablename__ = "order"
    id: Mapped[int] = mapped_column("select", primary_key=True)
    group: Mapped[str] = mapped_column(String(20))
    user: Mapped[str] = mapped_column("User", String(20))
    Total: Mapped[int] = mapped_column("from", default=0)


class PgBase(DeclarativeBase):
    metadata = MetaData(schema="Sales")


class InvoiceLine(PgBase):
    __tablename__ = "InvoiceLine"
    InvoiceLineId: Mapped[int] = mapped_column(primary_key=True)
    TrackName: Mapped[str] = mapped_column(String(40))
    Quantity: Mapped[int] = mapped_column(default=1)


async def _walk(person: Person, slug: str, key: Any, form: dict[str, str], changed: dict[str, str], db: Any) -> None:
    """Every route of one record, from a form post to its undone delete."""
    assert (await person.get(f"/admin/{slug}/{key}")).status_code == 200
    assert (await person.get(f"/admin/{slug}/{key}/edit")).status_code == 200
    assert (await person.post(f"/admin/{slug}/{key}", {**form, **changed})).status_code == 303
    assert (await person.get(f"/admin/{slug}/{key}/history")).status_code == 200
    lines = (await person.get(f"/admin/{slug}/export.jsonl")).text.splitlines()
    assert len(lines) == 1 and changed.items() <= {k: str(v) for k, v in json.loads(lines[0]).items()}.items()
    assert (await person.get(f"/admin/{slug}/export.csv")).status_code == 200
    assert (await person.post(f"/admin/{slug}/{key}/delete", {})).status_code == 303
    async with db() as session:
        entry = await session.scalar(select(AdminLogEntry).where(AdminLogEntry.action == "delete"))
    assert (await person.post(f"/admin/{slug}/{key}/restore", {"entry": str(entry.id)})).status_code == 303


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    async with own_tables(database_url, Base.metadata) as sessions:
        await add_account(sessions, "clerk", superuser=True)
        yield sessions


async def test_reserved_words_as_table_and_column_names(db, database_url):
    async with signed_in(database_url, Base.metadata, [Order], "clerk") as clerk:
        form = {"group": "books", "user": "ada", "Total": "3"}
        assert (await clerk.post("/admin/order/", form)).status_code == 303
        async with db() as session:
            (key,) = list(await session.scalars(select(Order.id)))
        page = await clerk.get("/admin/order/?q=book&sort=-group&Total__gte=1")
        assert page.status_code == 200 and f'<tr id="order-{key}">' in page.text
        await _walk(clerk, "order", key, form, {"group": "records"}, db)
        async with db() as session:
            back = await session.get(Order, key)
        assert (back.group, back.user, back.Total) == ("records", "ada", 3)


@pytest.fixture
async def sales(postgres_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    """A CamelCase schema of the run's PostgreSQL database, dropped after."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(postgres_url)
    async with engine.begin() as conn:
        await conn.execute(text('CREATE SCHEMA IF NOT EXISTS "Sales"'))
        tables = ", ".join(f'"{t.name}"' for t in AdminLogEntry.metadata.sorted_tables)
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    try:
        async with own_tables(postgres_url, PgBase.metadata) as sessions:
            await add_account(sessions, "clerk", superuser=True)
            yield sessions
    finally:
        async with engine.begin() as conn:
            await conn.execute(text('DROP SCHEMA IF EXISTS "Sales" CASCADE'))
        await engine.dispose()


async def test_a_camelcase_table_in_a_postgresql_schema_of_its_own(sales, postgres_url):
    async with signed_in(postgres_url, PgBase.metadata, [InvoiceLine], "clerk") as clerk:
        form = {"TrackName": "Balls to the Wall", "Quantity": "2"}
        assert (await clerk.post("/admin/invoice_line/", form)).status_code == 303
        async with sales() as session:
            (key,) = list(await session.scalars(select(InvoiceLine.InvoiceLineId)))
        page = await clerk.get("/admin/invoice_line/?q=wall&sort=-Quantity")
        assert page.status_code == 200 and "Balls to the Wall" in page.text
        await _walk(clerk, "invoice_line", key, form, {"Quantity": "5"}, sales)
        async with sales() as session:
            assert (await session.get(InvoiceLine, key)).Quantity == 5
