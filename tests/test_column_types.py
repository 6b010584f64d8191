"""A column type is one unit: a host's own SQLAlchemy type (money stored as whole cents) gets its parsing,
input, cell text, list filter and JSON from one `FieldType` subclass registered for it, and one field can be
given another type by name. Both are seen end to end, through the pages a person uses, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Integer, MetaData, String, TypeDecorator, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tests.conftest import add_account
from tests.hosts import Person, own_tables, signed_in
from webapp.admin import ModelAdmin
from webapp.admin.fields import Field, FieldError, introspect
from webapp.admin.models import AdminLogEntry
from webapp.admin.types import COLUMN_TYPES, DecimalType, IntegerType, StringType, WidgetInput, html

pytestmark = pytest.mark.anyio
CENT = Decimal("0.01")


class Money(TypeDecorator[Decimal]):
    """An amount of money, stored as whole cents."""

    impl = Integer
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> int | None:
        return None if value is None else int((value / CENT).to_integral_value())

    def process_result_value(self, value: int | None, dialect: Any) -> Decimal | None:
        return None if value is None else (Decimal(value) * CENT).quantize(CENT)


class MoneyType(DecimalType):
    """Typed as 12.50 (a comma or a dollar sign are fine), shown as $12.50."""

    name = "money"

    def facts(self, column: Any) -> dict[str, Any]:
        return {"scale": 2}

    def parse_text(self, field: Field, text: str) -> Any:
        return super().parse_text(field, text.replace("$", "").replace(",", ""))

    def text(self, field: Field, value: Any) -> str:
        return f"${value:,.2f}"


class ColourType(StringType):
    name = "colour"

    def parse_text(self, field: Field, text: str) -> Any:
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", text):
            raise FieldError("Enter a colour like #ff0000.")
        return text.lower()

    def widget(self, field: Field, w: WidgetInput) -> str:
        return f'<input type="color" {w.attrs} value="{html(w.value)}">'


class Base(DeclarativeBase):
    metadata = MetaData()


class Product(Base):
    __tablename__ = "typed_product"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    price: Mapped[Decimal] = mapped_column(Money())
    colour: Mapped[str | None] = mapped_column(String(7))
    launched: Mapped[date | None]

    def __str__(self) -> str:
        return self.name


class ProductAdmin(ModelAdmin, model=Product):
    column_types = COLUMN_TYPES.extended({Money: MoneyType()})
    field_types = {"colour": ColourType()}
    list_display = ("name", "price", "colour", "launched")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    async with own_tables(database_url, Base.metadata) as sessions:
        await add_account(sessions, "boss", superuser=True)
        async with sessions() as session:
            session.add_all(
                [
                    Product(name="Lamp", price=Decimal("1234.50"), colour="#00ff00", launched=date(2026, 1, 31)),
                    Product(name="Pen", price=Decimal("2.25"), launched=date(2026, 2, 1)),
                ]
            )
            await session.commit()
        yield sessions


@pytest.fixture
async def boss(database_url: str, db: Any) -> AsyncIterator[Person]:
    async with signed_in(database_url, Base.metadata, [ProductAdmin], "boss") as person:
        yield person


async def _cents(db: Any) -> dict[str, int]:
    """What the database holds, read past the type: whole cents."""
    async with db() as session:
        rows = await session.execute(text("SELECT name, price FROM typed_product"))
        return {name: cents for name, cents in rows}


def test_the_registry_finds_the_hosts_type_and_else_what_the_column_stores_as():
    assert introspect(Product, types=ProductAdmin.column_types)["price"].kind == "money"
    assert isinstance(introspect(Product)["price"].type, IntegerType), "unregistered: its impl, Integer"
    assert introspect(Product)["colour"].kind == "string", "field_types is the admin's, not the model's"
    assert ProductAdmin().fields["colour"].kind == "colour"


def test_a_field_type_for_an_unknown_field_is_refused_at_start():
    class Typo(ModelAdmin, model=Product):
        field_types = {"color": ColourType()}

    with pytest.raises(TypeError, match="field_types names an unknown field: color"):
        Typo()


async def test_the_list_shows_money_as_money_and_filters_by_its_amount(boss):
    listing = await boss.get("/admin/product/")
    assert listing.status_code == 200
    assert "<td>$1,234.50</td>" in listing.text and "<td>$2.25</td>" in listing.text
    assert 'name="price__gte"' in listing.text, "a number type offers an at-least/at-most filter"
    cheap = await boss.get("/admin/product/?price__lte=10")
    assert "Pen" in cheap.text and "Lamp" not in cheap.text
    dear = await boss.get("/admin/product/?price__gte=1234.50")
    assert "Lamp" in dear.text and "Pen" not in dear.text


async def test_a_date_filter_to_a_day_includes_that_day(boss):
    january = await boss.get("/admin/product/?launched__gte=2026-01-01&launched__lte=2026-01-31")
    assert "Lamp" in january.text and "Pen" not in january.text


async def test_the_form_draws_each_type_and_saves_what_it_parsed(boss, db):
    form = await boss.get("/admin/product/new")
    assert 'type="color"' in form.text, "the field's own type draws its input"
    assert re.search(r'<input type="number"[^>]*name="price"[^>]*step="0.01"', form.text)
    created = await boss.post("/admin/product/", {"name": "Desk", "price": "$1,250.5", "colour": "#FF0000"})
    assert created.status_code == 303
    assert (await _cents(db))["Desk"] == 125050
    async with db() as session:
        desk = await session.scalar(select(Product).where(Product.name == "Desk"))
    assert desk.price == Decimal("1250.50") and desk.colour == "#ff0000"
    edit = await boss.get(f"/admin/product/{desk.id}/edit")
    assert 'value="1250.50"' in edit.text and 'value="#ff0000"' in edit.text


async def test_bad_values_are_refused_on_their_fields_and_nothing_is_written(boss, db):
    before = await _cents(db)
    page = await boss.post("/admin/product/", {"name": "Desk", "price": "twelve", "colour": "red"})
    assert page.status_code == 422
    assert "Enter a number." in page.text and "Enter a colour like #ff0000." in page.text
    assert 'value="twelve"' in page.text and 'value="red"' in page.text, "the form keeps what was typed"
    too_fine = await boss.post("/admin/product/", {"name": "Desk", "price": "1.005", "colour": ""})
    assert too_fine.status_code == 422 and "no more than 2 decimal places" in too_fine.text
    assert await _cents(db) == before


async def test_export_history_and_undo_carry_the_typed_value(boss, db):
    lines = (await boss.get("/admin/product/export.jsonl")).text.splitlines()
    assert {"name": "Lamp", "price": "1234.50"}.items() <= json.loads(lines[0]).items()
    assert "$1,234.50" not in (await boss.get("/admin/product/export.csv")).text, "CSV has the typed form"
    async with db() as session:
        lamp = await session.scalar(select(Product.id).where(Product.name == "Lamp"))
    assert (await boss.post(f"/admin/product/{lamp}/delete", {})).status_code == 303
    async with db() as session:
        entry = await session.scalar(select(AdminLogEntry).where(AdminLogEntry.action == "delete"))
    assert entry.snapshot["price"] == "1234.50"
    assert (await boss.post(f"/admin/product/{lamp}/restore", {"entry": str(entry.id)})).status_code == 303
    assert (await _cents(db))["Lamp"] == 123450
    detail = await boss.get(f"/admin/product/{lamp}")
    assert "$1,234.50" in detail.text and "#00ff00" in detail.text
