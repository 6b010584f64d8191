"""The unit every column type is: how its values are parsed, drawn as an input, shown in a cell, filtered and
written as JSON. A type is one subclass of `FieldType`, registered for the SQLAlchemy types it serves (see
`registry`), in the spirit of sqladmin's converters; the built-in ones live beside this module."""

from __future__ import annotations

import enum
import ipaddress
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from markupsafe import Markup, escape
from sqlalchemy import Column, ColumnElement
from sqlalchemy import types as sa_types

if TYPE_CHECKING:
    from webapp.admin.fields import Field
    from webapp.admin.forms import BoundForm

RawValue = str | list[str]
# One list column's renderer: (record, links drawn so far on this page) -> escaped HTML.
CellRenderer = Callable[[Any, dict[int, str]], str]

EMPTY = "—"
MAX_CELL_CHARS = 80
# A list row's controls are named by the record's label ("Edit …", "Select …"): the start of a long one tells
# rows apart, and is all a screen reader need repeat for each control.
MAX_CONTROL_NAME_CHARS = 40


class FieldError(ValueError):
    """A posted value a person must correct; the message is shown next to the field."""


def html(value: Any) -> str:
    """`markupsafe.escape` as a plain str, for HTML assembled by hand: a list page escapes about a thousand
    values, and a Markup object made for each one (then joined into a str) costs more than the text itself
    (bench: list-page scenarios)."""
    if type(value) is str:
        return (
            value.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace('"', "&#34;")
            .replace("'", "&#39;")
        )
    if type(value) is int:
        return str(value)
    return str(escape(value))  # anything else, Markup included, as markupsafe sees it


def truncated(text: str, most: int = MAX_CELL_CHARS) -> str:
    """`text` cut to `most` characters, its last an ellipsis, when it is longer."""
    return text[: most - 1] + "…" if len(text) > most else text


IP_VALUES = (
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
)


_JSON_AS_IS = frozenset({str, int, float, bool})


def to_json(value: Any) -> Any:
    """A value as JSON can hold it, whatever its column (keys, cursors); `FieldType.from_json` reverses it."""
    if value is None or type(value) in _JSON_AS_IS:  # most values of a record: no test below applies
        return value
    if isinstance(value, enum.Enum):
        return value.value if isinstance(value.value, str | int) else value.name
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, IP_VALUES):
        return str(value)
    return value


def base_type(column: Column[Any]) -> sa_types.TypeEngine[Any]:
    """The type a TypeDecorator (advanced-alchemy's DateTimeUTC, GUID, …) stores as."""
    column_type = column.type
    while isinstance(column_type, sa_types.TypeDecorator):
        column_type = column_type.impl_instance
    return column_type


@dataclass(frozen=True)
class WidgetInput:
    """What a type draws its input with: the form, the field's current text, and the attributes every control
    carries (`attrs`: id, name, aria-* and autofocus, already escaped)."""

    site: Any
    form: BoundForm
    id: str
    value: RawValue
    attrs: str
    required: str  # " required" or ""
    compact: bool  # a list row's inline form: fewer rows, labels as aria-label
    autofocus: bool
    error: str | None


class FieldType:
    """How the admin treats one kind of column. Subclass it and override what differs; every method gets the
    `Field` (the column's facts: nullable, max_length, scale, enum values, related model, …)."""

    name: ClassVar[str] = "string"  # the type's name in CSS classes and for people reading the code
    input_type: ClassVar[str] = "text"
    strips: ClassVar[bool] = True  # surrounding whitespace is not part of the value
    # An empty submission is a value (an unchecked box is False, no tags is []): never "required".
    blank_is_value: ClassVar[bool] = False
    bulky: ClassVar[bool] = False  # long values: not a default list column, preformatted on the detail page
    editable: ClassVar[bool] = True  # False: shown, never in a form (bytes)
    searchable: ClassVar[bool] = False  # a default search column
    # The list filter it offers: "choice", "date", "number", "related", or None for none.
    filter: ClassVar[str | None] = None
    help: ClassVar[str] = ""  # a note under its input
    is_relation: ClassVar[bool] = False
    many: ClassVar[bool] = False  # a relation to many records (the value is a list)

    def for_column(self, column: Column[Any]) -> FieldType:
        """The type for this very column: a registered type may hand over to a variant (nullable booleans)."""
        return self

    def facts(self, column: Column[Any]) -> dict[str, Any]:
        """What the type reads off its column for `Field` (max_length, scale, enum values, …)."""
        return {}

    # -- parsing ------------------------------------------------------------------------------------------

    def parse(self, field: Field, raw: RawValue) -> Any:
        """Turn what a browser posted into a typed value, or raise FieldError with a message for a person."""
        # Checkboxes post a hidden "false" before the box, so the last value is the one that counts.
        text = (raw[-1] if raw else "") if isinstance(raw, list) else raw
        if self.strips:
            text = text.strip()
        if text.strip() == "":
            if field.nullable:
                return None
            raise FieldError("This field is required.")
        return self.parse_text(field, text)

    def parse_text(self, field: Field, text: str) -> Any:
        """A non-empty posted text as a value."""
        if "\x00" in text:
            raise FieldError("Null characters are not allowed.")
        return text

    # -- the form -----------------------------------------------------------------------------------------

    def to_input(self, field: Field, value: Any) -> RawValue:
        """The text an input shows for a value (the inverse of parse)."""
        return "" if value is None else self.input_text(field, value)

    def input_text(self, field: Field, value: Any) -> str:
        return str(value)

    def step(self, field: Field) -> str | None:
        return None

    def widget(self, field: Field, w: WidgetInput) -> str:
        """The input control's HTML (the error message after it is added by the caller)."""
        out = f'<input type="{self.input_type}" {w.attrs} value="{html(w.value)}"'
        if field.max_length:
            out += f' maxlength="{field.max_length}"'
        step = self.step(field)
        if step:
            out += f' step="{html(step)}"'
        if field.min_value is not None:
            out += f' min="{html(field.min_value)}"'
        if field.max_value is not None:
            out += f' max="{html(field.max_value)}"'
        if self.input_type == "number":
            out += ' inputmode="decimal"'
        return out + f"{w.required}>"

    # -- showing ------------------------------------------------------------------------------------------

    def text(self, field: Field, value: Any) -> str:
        """A value (never None) as a list cell or detail row reads it."""
        if type(value) is str:
            return value
        if isinstance(value, enum.Enum):
            return str(value.value)
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                value = value.astimezone(UTC)
            return value.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if value.tzinfo else "")
        if isinstance(value, Decimal):
            return format(value, ",f")
        return str(value)

    def display(self, field: Field, obj: Any, *, truncate: bool = False) -> str:
        value = getattr(obj, field.name)
        if value is None:
            return EMPTY
        text = self.text(field, value)
        return truncated(text) if truncate else text

    def cell(self, site: Any, field: Field, obj: Any, *, truncate: bool = False) -> Markup:
        """A value as HTML for a detail row or list cell."""
        return escape(self.display(field, obj, truncate=truncate))

    def cell_renderer(self, site: Any, field: Field) -> CellRenderer:
        """How one list column turns a record into escaped HTML, worked out once per column: the same HTML as
        `cell(truncate=True)`, by the quickest path the type knows (guard: tests/test_html.py checks cells;
        bench: list-page scenarios)."""
        display = self.display
        return lambda obj, _links: html(display(field, obj, truncate=True))

    def export_text(self, site: Any, field: Field, obj: Any) -> str:
        """A value in a CSV export: what its input would show."""
        raw = self.to_input(field, getattr(obj, field.name))
        return raw if isinstance(raw, str) else ", ".join(raw)

    # -- JSON (history, cursors, JSON Lines export) ---------------------------------------------------------

    def to_json(self, field: Field, obj: Any) -> Any:
        return to_json(getattr(obj, field.name))

    def from_json(self, field: Field, value: Any) -> Any:
        """What `to_json` wrote (never None), as the column's value again."""
        return value

    # -- list filters -------------------------------------------------------------------------------------

    def filter_choices(self, field: Field, column: Any) -> list[tuple[str, str, ColumnElement[bool]]]:
        """(value, label, condition) of each option of a "choice" filter."""
        return []

    def filter_condition(self, field: Field, column: Any, raw: str) -> ColumnElement[bool]:
        """The rows whose value is `raw`; raises FieldError when it is not a value of the column."""
        value = field.parse(raw)
        return column.is_(None) if value is None else column == value

    def range_condition(self, field: Field, column: Any, raw: str, *, upper: bool) -> ColumnElement[bool]:
        """The rows at least (or at most, `upper`) `raw`, for "date" and "number" filters; raises FieldError
        with what the bound must be ("must be a number.")."""
        raise FieldError("cannot be filtered by a range.")
