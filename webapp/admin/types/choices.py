"""Columns with a fixed set of values: yes/no, yes/no/unknown, an enumeration."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, ColumnElement
from sqlalchemy import types as sa_types

from webapp.admin.types.base import FieldError, FieldType, RawValue, WidgetInput, base_type, html

if TYPE_CHECKING:
    from webapp.admin.fields import Field

EMPTY_CHOICE = '<option value="">---------</option>'
TRUE = {"true", "on", "1", "yes"}
FALSE = {"false", "off", "0", "no"}


class BooleanType(FieldType):
    """A checkbox. It posts a hidden "false" before the box, so an unticked box is False, never missing."""

    name = "boolean"
    blank_is_value = True
    filter = "choice"

    def for_column(self, column: Column[Any]) -> FieldType:
        return NULLABLE_BOOLEAN if column.nullable else self

    def parse(self, field: Field, raw: RawValue) -> Any:
        text = ((raw[-1] if raw else "") if isinstance(raw, list) else raw).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE or text == "":
            return False
        raise FieldError("Enter true or false.")

    def input_text(self, field: Field, value: Any) -> str:
        return "true" if value else "false"

    def widget(self, field: Field, w: WidgetInput) -> str:
        checked = " checked" if w.value == "true" else ""
        name = html(field.name)
        return (
            f'<input type="hidden" name="{name}" value="false"><input type="checkbox" {w.attrs} value="true"{checked}>'
        )

    def text(self, field: Field, value: Any) -> str:
        return "Yes" if value else "No"

    def filter_choices(self, field: Field, column: Any) -> list[tuple[str, str, ColumnElement[bool]]]:
        return [("true", "Yes", column.is_(True)), ("false", "No", column.is_(False))]


class NullableBooleanType(BooleanType):
    """Yes, no or unknown: a select, and a filter with "Unknown" for the rows without a value."""

    name = "nullable_boolean"
    blank_is_value = False

    def for_column(self, column: Column[Any]) -> FieldType:
        return self

    def parse(self, field: Field, raw: RawValue) -> Any:
        text = ((raw[-1] if raw else "") if isinstance(raw, list) else raw).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        if text in {"", "unknown", "none"}:
            return None
        raise FieldError("Select yes, no or unknown.")

    def widget(self, field: Field, w: WidgetInput) -> str:
        options = "".join(
            f'<option value="{key}"{" selected" if w.value == key else ""}>{text}</option>\n'
            for key, text in (("", "Unknown"), ("true", "Yes"), ("false", "No"))
        )
        return f"<select {w.attrs}>\n{options}</select>"

    def filter_choices(self, field: Field, column: Any) -> list[tuple[str, str, ColumnElement[bool]]]:
        return [*super().filter_choices(field, column), ("unknown", "Unknown", column.is_(None))]


class EnumType(FieldType):
    """SQLAlchemy's Enum: a select of the stored strings (the members' values or names)."""

    name = "enum"
    filter = "choice"

    def facts(self, column: Column[Any]) -> dict[str, Any]:
        enum_type = base_type(column)
        assert isinstance(enum_type, sa_types.Enum)
        return {"enum_class": enum_type.enum_class, "enum_values": tuple(enum_type.enums)}

    def parse_text(self, field: Field, text: str) -> Any:
        if text not in field.enum_values:
            raise FieldError(f"Select a valid choice. {text} is not one of the available choices.")
        return field.enum_by_text.get(text, text)

    def input_text(self, field: Field, value: Any) -> str:
        if isinstance(value, enum.Enum):
            return field.enum_text.get(value, str(value.value))
        return str(value)

    def widget(self, field: Field, w: WidgetInput) -> str:
        value = w.value
        known = value in field.enum_values
        out = f"<select {w.attrs}{w.required}>\n"
        if field.nullable or not known:
            out += EMPTY_CHOICE
        out += "".join(
            f'<option value="{html(choice)}"{" selected" if value == choice else ""}>{html(choice)}</option>'
            for choice in field.enum_values
        )
        if value and not known:
            out += f'<option value="{html(value)}" selected>{html(value)}</option>'
        return out + "</select>"

    def from_json(self, field: Field, value: Any) -> Any:
        return field.parse(str(value))

    def filter_choices(self, field: Field, column: Any) -> list[tuple[str, str, ColumnElement[bool]]]:
        return [(text, text, column == field.parse(text)) for text in field.enum_values]


BOOLEAN = BooleanType()
NULLABLE_BOOLEAN = NullableBooleanType()
ENUM = EnumType()
