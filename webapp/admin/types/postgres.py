"""PostgreSQL's own column types: network addresses (INET, CIDR) and arrays."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column

from webapp.admin.types.base import FieldError, FieldType, to_json
from webapp.admin.types.text import TextType

if TYPE_CHECKING:
    from webapp.admin.fields import Field


class InetType(FieldType):
    """A host address, with or without its network (INET): 192.0.2.1, 192.0.2.1/24, 2001:db8::1."""

    name = "inet"

    def parse_text(self, field: Field, text: str) -> Any:
        try:
            return ipaddress.ip_interface(text) if "/" in text else ipaddress.ip_address(text)
        except ValueError:
            raise FieldError("Enter a valid IPv4 or IPv6 address.") from None

    def from_json(self, field: Field, value: Any) -> Any:
        return self.parse_text(field, value)


class CidrType(InetType):
    """A network (CIDR): 192.0.2.0/24; its host bits must be zero, as PostgreSQL requires."""

    name = "cidr"

    def parse_text(self, field: Field, text: str) -> Any:
        try:
            return ipaddress.ip_network(text)
        except ValueError as exc:
            if "host bits set" in str(exc):
                raise FieldError("Enter a network whose host bits are zero (e.g. 192.0.2.0/24).") from None
            raise FieldError("Enter a valid IPv4 or IPv6 network.") from None


class ArrayType(TextType):
    """An ARRAY of a simple type, typed one item per line; each item is checked by its own type's unit."""

    name = "array"
    help = "One item per line."
    bulky = False  # a few items read well in a list cell
    rows = (4, 2)

    def __init__(self, item: FieldType | None = None, item_column: Column[Any] | None = None) -> None:
        self.item = item
        self.item_column = item_column

    def for_column(self, column: Column[Any]) -> FieldType:
        """This array's own unit, its items served by the default registry's type for them."""
        from webapp.admin.types.registry import COLUMN_TYPES

        item_column: Column[Any] = Column("item", column.type.item_type)  # type: ignore[attr-defined]
        return type(self)(COLUMN_TYPES.for_column(item_column), item_column)

    def facts(self, column: Any) -> dict[str, Any]:
        return {}

    def _item_field(self, field: Field) -> Field:
        assert self.item is not None
        facts = self.item.facts(self.item_column) if self.item_column is not None else {}
        return replace(field, type=self.item, nullable=False, column=self.item_column, **facts)

    def parse_text(self, field: Field, text: str) -> Any:
        item_field = self._item_field(field)
        values = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                values.append(item_field.parse(line))
            except FieldError as exc:
                raise FieldError(f"Line {number}: {exc}") from None
        return values

    def input_text(self, field: Field, value: Any) -> str:
        item_field = self._item_field(field)
        return "\n".join(str(item_field.to_input(item)) for item in value)

    def text(self, field: Field, value: Any) -> str:
        item_field = self._item_field(field)
        return ", ".join(item_field.type.text(item_field, item) for item in value)

    def to_json(self, field: Field, obj: Any) -> Any:
        value = getattr(obj, field.name)
        return None if value is None else [to_json(item) for item in value]

    def from_json(self, field: Field, value: Any) -> Any:
        item_field = self._item_field(field)
        return [item_field.type.from_json(item_field, item) for item in value]


INET = InetType()
CIDR = CidrType()
ARRAY = ArrayType()
