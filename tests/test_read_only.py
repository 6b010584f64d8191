"""Rows that are only read: a SQL view and a table without a primary key are listed, searched and exported, and
never written. No add, edit or delete control is drawn, and those routes refuse whatever is posted."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tests.conftest import add_account
from tests.hosts import Person, own_tables, signed_in
from webapp.admin import ModelAdmin

pytestmark = pytest.mark.anyio


class Base(DeclarativeBase):
    metadata = MetaData()


class Product(Base):
    __tablename__ = "product"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    price: Mapped[int]


# A view is not made by create_all: its table lives in metadata of its own, and the test creates the view.
cheap_product = Table(
    "cheap_product",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", String(80)),
    Column("price", Integer),
)


class CheapProduct(Base):
    __table__ = cheap_product


class CheapProductAdmin(ModelAdmin, model=CheapProduct):
    read_only = True


visit_log = Table("visit_log", Base.metadata, Column("path", String(200), nullable=False), Column("hits", Integer))


class Visit(Base):
    """A table without a primary key, mapped (as SQLAlchemy needs) on all its columns."""

    __table__ = visit_log
    __mapper_args__ = {"primary_key": [visit_log.c.path, visit_log.c.hits]}


ADMINS = [Product, CheapProductAdmin, Visit]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    async with own_tables(database_url, Base.metadata) as sessions:
        async with sessions() as session:
            await session.execute(
                Product.__table__.insert(),
                [
                    {"id": 1, "name": "Pencil", "price": 2},
                    {"id": 2, "name": "Lamp", "price": 40},
                    {"id": 3, "name": "Pen", "price": 5},
                ],
            )
            await session.execute(visit_log.insert(), [{"path": "/home", "hits": 3}, {"path": "/about", "hits": None}])
            await session.execute(
                text("CREATE VIEW cheap_product AS SELECT id, name, price FROM product WHERE price < 10")
            )
            await session.commit()
        await add_account(sessions, "clerk", superuser=True)
        try:
            yield sessions
        finally:
            async with sessions() as session:
                await session.execute(text("DROP VIEW cheap_product"))
                await session.commit()


@pytest.fixture
async def clerk(db: async_sessionmaker[Any], database_url: str) -> AsyncIterator[Person]:
    async with signed_in(database_url, Base.metadata, ADMINS, "clerk") as person:
        yield person


async def _rows(db: async_sessionmaker[Any]) -> tuple[int, int]:
    async with db() as session:
        products = await session.scalar(select(func.count()).select_from(Product))
        visits = await session.scalar(select(func.count()).select_from(visit_log))
        return products, visits


async def test_a_view_is_listed_searched_shown_and_exported_without_write_controls(clerk):
    page = await clerk.get("/admin/cheap_product/")
    assert page.status_code == 200
    assert "<td>Pencil</td>" in page.text and "<td>Pen</td>" in page.text and "Lamp" not in page.text
    assert '<a href="/admin/cheap_product/1">1</a>' in page.text, "a view with a key has record pages"
    assert "Add cheap product" not in page.text and ">Edit<" not in page.text and ">Delete<" not in page.text
    assert 'name="ids"' not in page.text, "no bulk checkboxes: there is nothing a bulk action may do"
    searched = await clerk.get("/admin/cheap_product/?q=cil")
    assert "<td>Pencil</td>" in searched.text and "<td>Pen</td>" not in searched.text
    detail = await clerk.get("/admin/cheap_product/1")
    assert detail.status_code == 200 and "Pencil" in detail.text
    assert "/edit" not in detail.text and "/delete" not in detail.text
    exported = await clerk.get("/admin/cheap_product/export.csv")
    assert exported.status_code == 200
    assert [row["Name"] for row in csv.DictReader(io.StringIO(exported.text))] == ["Pencil", "Pen"]
    index = await clerk.get("/admin/")
    assert "Cheap products" in index.text and 'href="/admin/cheap_product/new"' not in index.text


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("get", "/admin/cheap_product/new", None),
        ("post", "/admin/cheap_product/", {"id": "9", "name": "Eraser", "price": "1"}),
        ("get", "/admin/cheap_product/1/edit", None),
        ("post", "/admin/cheap_product/1", {"name": "Quill", "price": "3"}),
        ("get", "/admin/cheap_product/1/delete", None),
        ("post", "/admin/cheap_product/1/delete", {}),
        ("post", "/admin/cheap_product/bulk", {"action": "delete", "ids": "1", "confirm": "yes"}),
        ("post", "/admin/visit/", {"path": "/new", "hits": "1"}),
        ("post", "/admin/visit/bulk", {"action": "delete", "select_all": "1", "confirm": "yes"}),
    ],
)
async def test_the_write_routes_of_read_only_rows_refuse_and_write_nothing(clerk, db, method, url, data):
    before = await _rows(db)
    response = await (clerk.get(url) if data is None else clerk.post(url, data))
    assert response.status_code == 403, response.text[:500]
    assert "You may not" in response.text
    assert await _rows(db) == before
    async with db() as session:
        assert await session.scalar(select(Product.name).where(Product.id == 1)) == "Pencil"


async def test_a_table_without_a_primary_key_is_listed_with_rows_that_link_nowhere(clerk):
    page = await clerk.get("/admin/visit/")
    assert page.status_code == 200
    assert "<td>/home</td>" in page.text and "<td>/about</td>" in page.text
    assert 'href="/admin/visit/' not in page.text.split("<tbody", 1)[1], "its rows have no page of their own"
    assert "Add visit" not in page.text and ">Edit<" not in page.text
    searched = await clerk.get("/admin/visit/?q=abo")
    assert "<td>/about</td>" in searched.text and "/home" not in searched.text
    exported = await clerk.get("/admin/visit/export.csv")
    assert sorted(row["Path"] for row in csv.DictReader(io.StringIO(exported.text))) == ["/about", "/home"]


async def test_a_writable_model_beside_them_keeps_its_controls(clerk):
    page = await clerk.get("/admin/product/")
    assert "Add product" in page.text and ">Edit<" in page.text and ">Delete<" in page.text
