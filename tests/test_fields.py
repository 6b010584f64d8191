"""Introspection and parsing without a database: each column type gets its widget, parser and messages."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from webapp.admin.fields import FieldError, introspect
from webapp.admin.options import ModelAdmin


class Base(DeclarativeBase):
    pass


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Owner(Base):
    __tablename__ = "owner"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


class Thing(Base):
    __tablename__ = "thing"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(10))
    notes: Mapped[str | None] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer, default=1)
    ratio: Mapped[float | None] = mapped_column(Float)
    amount: Mapped[Decimal] = mapped_column(Numeric(6, 3), info={"min_value": 0, "max_value": 500})
    flag: Mapped[bool] = mapped_column(Boolean, default=False)
    maybe: Mapped[bool | None] = mapped_column(Boolean)
    colour: Mapped[Colour | None]
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    token: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    when: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    day: Mapped[date | None]
    stamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(UTC))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("owner.id"))
    owner: Mapped[Owner | None] = relationship()
    big: Mapped[int | None] = mapped_column(BigInteger)
    small: Mapped[int | None] = mapped_column(SmallInteger)


FIELDS = introspect(Thing)


def test_each_column_type_gets_its_kind():
    kinds = {name: f.kind for name, f in FIELDS.items()}
    assert kinds == {
        "id": "integer",
        "title": "string",
        "notes": "text",
        "count": "integer",
        "ratio": "float",
        "amount": "decimal",
        "flag": "boolean",
        "maybe": "nullable_boolean",
        "colour": "enum",
        "payload": "json",
        "token": "uuid",
        "when": "datetime",
        "day": "date",
        "owner_id": "foreign_key",
        "big": "integer",
        "small": "integer",
        "stamp": "datetime",
    }
    assert list(FIELDS)[-1] == "stamp", "server-managed columns come last"


def test_defaults_for_read_only_and_required():
    assert FIELDS["id"].read_only and FIELDS["stamp"].read_only
    assert not FIELDS["count"].read_only
    assert FIELDS["title"].required and FIELDS["amount"].required
    assert not FIELDS["count"].required and not FIELDS["notes"].required and not FIELDS["flag"].required
    assert FIELDS["count"].initial == 1
    admin = type("ThingAdmin", (ModelAdmin,), {}, model=Thing)()
    assert [f.name for f in admin.editable_fields] == [n for n in FIELDS if n not in {"id", "stamp"}]
    assert "notes" not in {f.name for f in admin.list_fields}, "text columns stay out of list rows by default"
    assert FIELDS["owner_id"].label == "Owner"


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("title", "  hi ", "hi"),
        ("notes", "", None),
        ("count", "-3", -3),
        ("ratio", "1e3", 1000.0),
        ("amount", "1.5", Decimal("1.500")),
        ("flag", ["false", "true"], True),
        ("flag", "false", False),
        ("maybe", "", None),
        ("maybe", "false", False),
        ("colour", "GREEN", Colour.GREEN),
        ("colour", "", None),
        ("payload", '{"a": [1, 2]}', {"a": [1, 2]}),
        ("token", "12345678-1234-5678-1234-567812345678", uuid.UUID("12345678-1234-5678-1234-567812345678")),
        ("when", "2026-01-02T03:04", datetime(2026, 1, 2, 3, 4, tzinfo=UTC)),
        ("when", "2026-01-02T05:04+02:00", datetime(2026, 1, 2, 3, 4, tzinfo=UTC)),
        ("day", "2026-12-31", date(2026, 12, 31)),
        ("owner_id", "7", 7),
        ("count", "١٢", 12),  # Arabic-Indic digits, as Django reads them
        ("count", "+0000000000000000000042", 42),
        ("big", str(2**63 - 1), 2**63 - 1),
        ("big", str(-(2**63)), -(2**63)),
        ("small", "-32768", -32768),
    ],
)
def test_parse_accepts(name, raw, expected):
    assert FIELDS[name].parse(raw) == expected


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("title", "", "This field is required."),
        ("title", "x" * 11, "Ensure this value has at most 10 characters (it has 11)."),
        ("title", "a\x00b", "Null characters are not allowed."),
        ("count", "1.0", "Enter a whole number."),
        ("count", "", "This field is required."),
        ("ratio", "nan", "Enter a number."),
        ("ratio", "inf", "Enter a number."),
        ("amount", "1.2345", "Ensure that there are no more than 3 decimal places."),
        ("amount", "501", "Ensure this value is less than or equal to 500."),
        ("amount", "NaN", "Enter a number."),
        ("maybe", "perhaps", "Select yes, no or unknown."),
        ("colour", "blue", "Select a valid choice. blue is not one of the available choices."),
        ("payload", "{oops", "Enter valid JSON (Expecting property name enclosed in double quotes)."),
        ("token", "not-a-uuid", "Enter a valid UUID."),
        ("when", "yesterday", "Enter a valid date and time (YYYY-MM-DDTHH:MM)."),
        ("day", "31/12/2026", "Enter a valid date (YYYY-MM-DD)."),
        ("owner_id", "1; drop table", "Select a valid choice. 1; drop table is not one of the available choices."),
        ("big", str(2**63), "Ensure this value is between -9223372036854775808 and 9223372036854775807."),
        ("big", "9" * 5000, "Ensure this value is between -9223372036854775808 and 9223372036854775807."),
        ("small", "32768", "Ensure this value is between -32768 and 32767."),
        ("count", "-" + "٩" * 5000, "Ensure this value is between -2147483648 and 2147483647."),
    ],
)
def test_parse_refuses_with_a_message(name, raw, message):
    with pytest.raises(FieldError) as refused:
        FIELDS[name].parse(raw)
    assert str(refused.value) == message


def test_values_round_trip_through_the_input():
    for name, value in (
        ("amount", Decimal("2.500")),
        ("when", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("maybe", False),
        ("colour", Colour.RED),
        ("payload", {"k": "v"}),
    ):
        assert FIELDS[name].parse(FIELDS[name].to_input(value)) == value


def test_advanced_alchemy_types_are_seen_through():
    from webapp.demo.models import Item, Tag, User

    for model in (Item, Tag, User):
        fields = introspect(model)
        assert fields["created_at"].kind == "datetime"
        assert fields["created_at"].read_only and fields["updated_at"].read_only
    assert [f.name for f in type("T", (ModelAdmin,), {}, model=Tag)().search_columns] == ["name"]
    assert introspect(User)["email"].kind == "email"
    assert introspect(Item)["status"].enum_values == ("draft", "active", "archived")


def test_advanced_alchemy_guid_is_a_uuid_field():
    from advanced_alchemy.types import GUID

    class Tracked(Base):
        __tablename__ = "tracked"
        id: Mapped[int] = mapped_column(primary_key=True)
        ref: Mapped[uuid.UUID] = mapped_column(GUID)

    field = introspect(Tracked)["ref"]
    assert field.kind == "uuid"
    assert field.parse("12345678123456781234567812345678") == uuid.UUID("12345678-1234-5678-1234-567812345678")
