"""Introspection of a mapped class into form fields: each field knows its widget, its parser and its checks."""

from __future__ import annotations

import enum
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from advanced_alchemy.types import GUID, PasswordHash
from sqlalchemy import Column, inspect
from sqlalchemy import types as sa_types
from sqlalchemy.orm import Mapper, RelationshipDirection, RelationshipProperty

RawValue = str | list[str]

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Kind(enum.StrEnum):
    STRING = "string"
    EMAIL = "email"
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    FLOAT = "float"
    BOOLEAN = "boolean"
    NULLABLE_BOOLEAN = "nullable_boolean"
    DATE = "date"
    DATETIME = "datetime"
    TIME = "time"
    ENUM = "enum"
    JSON = "json"
    UUID = "uuid"
    FOREIGN_KEY = "foreign_key"
    MANY_TO_MANY = "many_to_many"


class FieldError(ValueError):
    """A posted value a person must correct; the message is shown next to the field."""


@dataclass(frozen=True)
class Field:
    """One attribute of a model as the admin sees it."""

    name: str
    label: str
    kind: Kind
    nullable: bool = True
    has_default: bool = False
    read_only: bool = False
    max_length: int | None = None
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    precision: int | None = None
    scale: int | None = None
    enum_class: type[enum.Enum] | None = None
    enum_values: tuple[str, ...] = ()
    relationship: str | None = None
    related_model: type | None = None
    initial: Any = None
    help_text: str = ""
    column: Column[Any] | None = field(default=None, compare=False, repr=False)

    @property
    def required(self) -> bool:
        """Must be given on create: not nullable and nothing fills it in."""
        return not self.nullable and not self.has_default and self.kind not in {Kind.BOOLEAN, Kind.MANY_TO_MANY}

    @property
    def is_relation(self) -> bool:
        return self.kind in {Kind.FOREIGN_KEY, Kind.MANY_TO_MANY}

    @property
    def input_type(self) -> str:
        return {
            Kind.EMAIL: "email",
            Kind.INTEGER: "number",
            Kind.DECIMAL: "number",
            Kind.FLOAT: "number",
            Kind.DATE: "date",
            Kind.DATETIME: "datetime-local",
            Kind.TIME: "time",
        }.get(self.kind, "text")

    @property
    def step(self) -> str | None:
        if self.kind is Kind.INTEGER:
            return "1"
        if self.kind is Kind.DECIMAL:
            return "any" if self.scale is None else format(Decimal(1).scaleb(-self.scale), "f")
        if self.kind is Kind.FLOAT:
            return "any"
        if self.kind is Kind.DATETIME:
            return "1"
        return None

    # -- parsing ------------------------------------------------------------------------------------------

    def parse(self, raw: RawValue) -> Any:
        """Turn what a browser posted into a typed value, or raise FieldError with a message for a person."""
        if self.kind is Kind.MANY_TO_MANY:
            values = raw if isinstance(raw, list) else [raw]
            return [self._parse_key(v) for v in values if v.strip() != ""]
        # Checkboxes post a hidden "false" before the box, so the last value is the one that counts.
        text = (raw[-1] if raw else "") if isinstance(raw, list) else raw
        text = text.strip() if self.kind not in {Kind.TEXT, Kind.JSON} else text
        if self.kind is Kind.BOOLEAN:
            return self._parse_bool(text, allow_none=False)
        if text == "" or (self.kind is Kind.TEXT and text.strip() == ""):
            if self.nullable:
                return None
            raise FieldError("This field is required.")
        return self._parse_text(text)

    def _parse_text(self, text: str) -> Any:
        if self.kind in {Kind.STRING, Kind.EMAIL, Kind.TEXT}:
            if "\x00" in text:
                raise FieldError("Null characters are not allowed.")
            if self.max_length is not None and len(text) > self.max_length:
                raise FieldError(f"Ensure this value has at most {self.max_length} characters (it has {len(text)}).")
            if self.kind is Kind.EMAIL and not EMAIL_RE.match(text):
                raise FieldError("Enter a valid email address.")
            return text
        if self.kind is Kind.INTEGER:
            if not re.fullmatch(r"[+-]?\d+", text):
                raise FieldError("Enter a whole number.")
            value = int(text)
            self._check_range(Decimal(value))
            self._check_integer_bounds(value)
            return value
        if self.kind is Kind.DECIMAL:
            return self._parse_decimal(text)
        if self.kind is Kind.FLOAT:
            try:
                value_f = float(text)
            except ValueError:
                raise FieldError("Enter a number.") from None
            if value_f != value_f or value_f in {float("inf"), float("-inf")}:
                raise FieldError("Enter a number.")
            self._check_range(Decimal(str(value_f)))
            return value_f
        if self.kind is Kind.NULLABLE_BOOLEAN:
            return self._parse_bool(text, allow_none=True)
        if self.kind is Kind.DATE:
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise FieldError("Enter a valid date (YYYY-MM-DD).") from None
        if self.kind is Kind.DATETIME:
            return self._parse_datetime(text)
        if self.kind is Kind.TIME:
            try:
                return time.fromisoformat(text)
            except ValueError:
                raise FieldError("Enter a valid time (HH:MM).") from None
        if self.kind is Kind.ENUM:
            if text not in self.enum_values:
                raise FieldError(f"Select a valid choice. {text} is not one of the available choices.")
            return self._enum_by_text().get(text, text)
        if self.kind is Kind.JSON:
            try:
                return json.loads(text)
            except ValueError as exc:
                raise FieldError(f"Enter valid JSON ({exc.args[0].split(':')[0]}).") from None
        if self.kind is Kind.UUID:
            try:
                return uuid.UUID(text)
            except ValueError:
                raise FieldError("Enter a valid UUID.") from None
        if self.kind is Kind.FOREIGN_KEY:
            return self._parse_key(text)
        raise FieldError("This field cannot be edited.")  # pragma: no cover - every kind is handled above

    def _enum_by_text(self) -> dict[str, Any]:
        """The stored strings are the members' values or names (SQLAlchemy's Enum), in member order."""
        if self.enum_class is None:
            return {}
        return dict(zip(self.enum_values, self.enum_class, strict=False))

    @cached_property
    def _enum_text(self) -> dict[Any, str]:
        # Built once per field: every list cell, form and exported row of an enum column reads it.
        return {member: text for text, member in self._enum_by_text().items()}

    def _parse_key(self, text: str) -> Any:
        """Parse a related row's primary key as its column type; existence is checked by the form."""
        pk_type = _related_pk_python_type(self.related_model)
        try:
            if pk_type is int:
                if not re.fullmatch(r"[+-]?\d+", text.strip()):
                    raise ValueError(text)
                value = int(text)
                if abs(value) > 2**63 - 1:
                    raise ValueError(text)
                return value
            if pk_type is uuid.UUID:
                return uuid.UUID(text)
        except ValueError:
            raise FieldError(f"Select a valid choice. {text} is not one of the available choices.") from None
        return text

    def _parse_bool(self, text: str, *, allow_none: bool) -> bool | None:
        lowered = text.lower()
        if lowered in {"true", "on", "1", "yes"}:
            return True
        if lowered in {"false", "off", "0", "no"} or (lowered == "" and not allow_none):
            return False
        if lowered in {"", "unknown", "none"} and allow_none:
            return None
        raise FieldError("Select yes, no or unknown." if allow_none else "Enter true or false.")

    def _parse_decimal(self, text: str) -> Decimal:
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise FieldError("Enter a number.") from None
        if not value.is_finite():
            raise FieldError("Enter a number.")
        _sign, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        decimals = max(0, -exponent)
        whole_digits = max(0, len(digits) + exponent)
        if self.scale is not None and decimals > self.scale:
            raise FieldError(f"Ensure that there are no more than {self.scale} decimal places.")
        if self.precision is not None and self.scale is not None and whole_digits > self.precision - self.scale:
            raise FieldError(
                f"Ensure that there are no more than {self.precision - self.scale} digits before the decimal point."
            )
        self._check_range(value)
        if self.scale is not None:
            value = value.quantize(Decimal(1).scaleb(-self.scale))
        return value

    def _parse_datetime(self, text: str) -> datetime:
        try:
            value = datetime.fromisoformat(text.replace(" ", "T", 1))
        except ValueError:
            raise FieldError("Enter a valid date and time (YYYY-MM-DDTHH:MM).") from None
        timezone_aware = bool(getattr(base_type(self.column), "timezone", False)) if self.column is not None else False
        if timezone_aware and value.tzinfo is None:
            # The form shows and takes times in UTC; a naive value typed there means UTC.
            value = value.replace(tzinfo=UTC)
        if not timezone_aware and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def _check_range(self, value: Decimal) -> None:
        if self.min_value is not None and value < self.min_value:
            raise FieldError(f"Ensure this value is greater than or equal to {self.min_value}.")
        if self.max_value is not None and value > self.max_value:
            raise FieldError(f"Ensure this value is less than or equal to {self.max_value}.")

    def _check_integer_bounds(self, value: int) -> None:
        column_type = base_type(self.column) if self.column is not None else None
        limit = 2**15 if isinstance(column_type, sa_types.SmallInteger) else 2**31
        if isinstance(column_type, sa_types.BigInteger):
            limit = 2**63
        if not -limit <= value < limit:
            raise FieldError(f"Ensure this value is between {-limit} and {limit - 1}.")

    # -- formatting -----------------------------------------------------------------------------------------

    def from_json(self, value: Any) -> Any:
        if value is None:
            return None
        if self.kind is Kind.DATETIME:
            return datetime.fromisoformat(value)
        if self.kind is Kind.DATE:
            return date.fromisoformat(value)
        if self.kind is Kind.TIME:
            return time.fromisoformat(value)
        if self.kind is Kind.DECIMAL:
            return Decimal(value)
        if self.kind is Kind.UUID:
            return uuid.UUID(value)
        if self.kind is Kind.ENUM:
            return self.parse(str(value))
        return value

    def to_input(self, value: Any) -> RawValue:
        """The string an input shows for a typed value (the inverse of parse)."""
        if self.kind is Kind.MANY_TO_MANY:
            return [str(_primary_key(obj)) for obj in value or ()]
        if value is None:
            return ""
        if isinstance(value, enum.Enum):
            return self._enum_text.get(value, str(value.value))
        if self.kind is Kind.BOOLEAN or self.kind is Kind.NULLABLE_BOOLEAN:
            return "true" if value else "false"
        if self.kind is Kind.DATETIME and isinstance(value, datetime):
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return value.isoformat(timespec="seconds")
        if self.kind is Kind.DECIMAL and isinstance(value, Decimal):
            return format(value, "f")
        if self.kind is Kind.JSON:
            return json.dumps(value, indent=2, ensure_ascii=False)
        return str(value)


def to_json(value: Any) -> Any:
    """A value as JSON can hold it (for the audit log and list cursors); Field.from_json reverses it."""
    if isinstance(value, enum.Enum):
        return value.value if isinstance(value.value, str | int) else value.name
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _primary_key(obj: Any) -> Any:
    identity = inspect(obj).identity
    return identity[0] if identity and len(identity) == 1 else identity


def _related_pk_python_type(model: type | None) -> type:
    if model is None:
        return str
    (pk_column,) = inspect(model).primary_key
    try:
        return pk_column.type.python_type
    except NotImplementedError:
        return str


def humanize(name: str) -> str:
    text = name.removesuffix("_id").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _scalar_default(column: Column[Any]) -> Any:
    default = column.default
    if default is not None and getattr(default, "is_scalar", False):
        return default.arg
    return None


def is_hidden(column: Column[Any], mapper: Mapper[Any] | None = None) -> bool:
    """Columns no page, form, export or history ever shows: password hashes, version counters, plumbing."""
    return bool(
        isinstance(column.type, PasswordHash)
        or column.info.get("admin_hidden")
        or column.key == "sa_orm_sentinel"
        or (mapper is not None and mapper.version_id_col is not None and column is mapper.version_id_col)
    )


def _is_server_managed(column: Column[Any]) -> bool:
    default = column.default
    return bool(
        column.info.get("admin_readonly")
        or column.primary_key
        or column.onupdate is not None
        or column.server_onupdate is not None
        or column.computed is not None
        or column.identity is not None
        or (default is not None and (getattr(default, "is_callable", False) or getattr(default, "is_sequence", False)))
        or column.key == "sa_orm_sentinel"
    )


def base_type(column: Column[Any]) -> sa_types.TypeEngine[Any]:
    """The type a TypeDecorator (advanced-alchemy's DateTimeUTC, GUID, …) stores as."""
    column_type = column.type
    while isinstance(column_type, sa_types.TypeDecorator):
        column_type = column_type.impl_instance
    return column_type


def _kind_for_column(column: Column[Any]) -> Kind:
    if isinstance(column.type, GUID):  # stored as BINARY(16) on SQLite, but a UUID to a person
        return Kind.UUID
    column_type = base_type(column)
    fmt = column.info.get("format")
    if isinstance(column_type, sa_types.Enum):
        return Kind.ENUM
    if isinstance(column_type, sa_types.Boolean):
        return Kind.NULLABLE_BOOLEAN if column.nullable else Kind.BOOLEAN
    if isinstance(column_type, sa_types.Integer):
        return Kind.INTEGER
    if isinstance(column_type, sa_types.Float) or (
        isinstance(column_type, sa_types.Numeric) and not column_type.asdecimal
    ):
        return Kind.FLOAT
    if isinstance(column_type, sa_types.Numeric):
        return Kind.DECIMAL
    if isinstance(column_type, sa_types.DateTime):
        return Kind.DATETIME
    if isinstance(column_type, sa_types.Date):
        return Kind.DATE
    if isinstance(column_type, sa_types.Time):
        return Kind.TIME
    if isinstance(column_type, sa_types.JSON):
        return Kind.JSON
    if isinstance(column_type, sa_types.Uuid) or _python_type(column) is uuid.UUID:
        return Kind.UUID
    if isinstance(column_type, sa_types.Text) or (
        isinstance(column_type, sa_types.String) and column_type.length is None
    ):
        return Kind.TEXT
    if fmt == "email":
        return Kind.EMAIL
    return Kind.STRING


def _python_type(column: Column[Any]) -> type | None:
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def _to_decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _column_field(mapper: Mapper[Any], attr_key: str, column: Column[Any], labels: dict[str, str]) -> Field:
    kind = _kind_for_column(column)
    related_model: type | None = None
    relationship_name: str | None = None
    if column.foreign_keys:
        for rel in mapper.relationships:
            if rel.direction is RelationshipDirection.MANYTOONE and column in rel.local_columns:
                kind, related_model, relationship_name = Kind.FOREIGN_KEY, rel.mapper.class_, rel.key
                break
    enum_class: type[enum.Enum] | None = None
    enum_values: tuple[str, ...] = ()
    if kind is Kind.ENUM:
        enum_type = base_type(column)
        assert isinstance(enum_type, sa_types.Enum)
        enum_class = enum_type.enum_class
        enum_values = tuple(enum_type.enums)
    precision = getattr(base_type(column), "precision", None) if kind is Kind.DECIMAL else None
    scale = getattr(base_type(column), "scale", None) if kind is Kind.DECIMAL else None
    initial = _scalar_default(column)
    label = (
        labels.get(attr_key)
        or column.info.get("label")
        or (humanize(relationship_name) if relationship_name else humanize(attr_key))
    )
    return Field(
        name=attr_key,
        label=label,
        kind=kind,
        nullable=bool(column.nullable),
        has_default=column.default is not None or column.server_default is not None,
        read_only=_is_server_managed(column),
        max_length=getattr(base_type(column), "length", None) if kind in {Kind.STRING, Kind.EMAIL, Kind.TEXT} else None,
        min_value=_to_decimal(column.info.get("min_value")),
        max_value=_to_decimal(column.info.get("max_value")),
        precision=precision,
        scale=scale,
        enum_class=enum_class,
        enum_values=enum_values,
        relationship=relationship_name,
        related_model=related_model,
        initial=initial,
        help_text=column.info.get("help_text", "") or (column.comment or ""),
        column=column,
    )


def _many_to_many_field(rel: RelationshipProperty[Any], labels: dict[str, str]) -> Field:
    return Field(
        name=rel.key,
        label=labels.get(rel.key) or humanize(rel.key),
        kind=Kind.MANY_TO_MANY,
        nullable=True,
        relationship=rel.key,
        related_model=rel.mapper.class_,
    )


def introspect(model: type, labels: dict[str, str] | None = None) -> dict[str, Field]:
    """Every column attribute and many-to-many relationship of `model`, in declaration order."""
    labels = labels or {}
    mapper = inspect(model)
    fields: dict[str, Field] = {}
    for attr in mapper.column_attrs:
        if len(attr.columns) != 1 or not isinstance(attr.columns[0], Column):
            continue
        column = attr.columns[0]
        if is_hidden(column, mapper):
            continue
        fields[attr.key] = _column_field(mapper, attr.key, column, labels)
    for rel in mapper.relationships:
        if rel.direction is RelationshipDirection.MANYTOMANY:
            fields[rel.key] = _many_to_many_field(rel, labels)
    # Audit columns read best last, as in Django's and sqladmin's default layouts.
    managed = [
        name for name, f in fields.items() if f.read_only and not (f.column is not None and f.column.primary_key)
    ]
    for name in managed:
        fields[name] = fields.pop(name)
    return fields


def primary_key_columns(model: type) -> Sequence[Column[Any]]:
    return tuple(inspect(model).primary_key)
