"""A record's primary key, of one column or several: its text, the SQL that finds it, and its URL segment.

The key's text names a record everywhere outside the database: in URLs, in the bulk form's checkboxes, in the
audit log's `object_pk`. Each part is escaped, the parts are joined by commas, and the text reads back to the
same values, so `/ , % ? # &`, spaces, any unicode and an empty string all round-trip. A one-column integer key
reads as itself: `42`.

The escape is percent-encoding with `_` as its escape character (`a/b` is `a_2Fb`), as Django's admin does
for the same reason: servers decode `%` escapes in a path before routing (and Litestar's test client decodes
twice), so a `%2F` would come out as a path separator. Every ASCII character but letters, digits and `-.~` is
escaped (`_` itself too); other characters stay as they are in the text, and are percent-encoded as UTF-8 in a
URL (`url_segment`), which decodes to the same text however many times it is decoded. An empty part is a lone
`_`, and `.` and `..` are escaped, so no key is an empty path segment or a dot segment a browser would fold.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from sqlalchemy import Column, ColumnElement, and_, bindparam, inspect, tuple_

ESCAPE = "_"
# The largest value a 64-bit signed integer key can hold (BigInteger's range; the smaller ones are subsets).
MAX_INTEGER_KEY = 2**63 - 1
_PLAIN_ID = re.compile(r"[A-Za-z0-9-]+")
_DIGITS = re.compile(r"-?[0-9]{1,19}")
_ESCAPED = re.compile(r"[\x00-\x2c\x2f\x3a-\x40\x5b-\x60\x7b-\x7d\x7f]")
_ESCAPE_CODE = re.compile(r"_([0-9A-F]{2})")


def encode_part(value: Any) -> str:
    text = str(value)
    if text in ("", ".", ".."):
        return "".join(f"_{ord(c):02X}" for c in text) or ESCAPE
    return _ESCAPED.sub(lambda m: f"_{ord(m.group()):02X}", text)


def decode_part(part: str) -> str:
    return "" if part == ESCAPE else _ESCAPE_CODE.sub(lambda m: chr(int(m.group(1), 16)), part)


def url_segment(text: str) -> str:
    """The key's text as it is written in a URL path (see the module's docstring)."""
    return quote(text, safe=",_-.~")


class RecordKey:
    """The primary key of one mapped class."""

    def __init__(self, model: type) -> None:
        mapper = inspect(model)
        self.columns: tuple[Column[Any], ...] = tuple(mapper.primary_key)
        self.names: tuple[str, ...] = tuple(mapper.get_property_by_column(c).key for c in self.columns)
        self.types: tuple[type | None, ...] = tuple(_python_type(c) for c in self.columns)
        self.params = tuple(f"key{n}" for n in range(len(self.columns)))
        # The one statement-shape optimisation that needs it: the count and the page's keys in one statement
        # aggregate the keys as comma-joined text (webapp.admin.list_page).
        self.is_one_integer = len(self.columns) == 1 and self.types[0] is int

    @property
    def expression(self) -> ColumnElement[Any]:
        """The key as one SQL expression: its column, or a tuple of its columns (for IN)."""
        return self.columns[0] if len(self.columns) == 1 else tuple_(*self.columns)

    # -- values and text --------------------------------------------------------------------------------------

    def values_of(self, obj: Any) -> tuple[Any, ...]:
        return tuple(getattr(obj, name) for name in self.names)

    def text_of(self, obj: Any) -> str:
        if self.is_one_integer:  # a list page names hundreds of records
            return str(getattr(obj, self.names[0]))
        return self.text(self.values_of(obj))

    def text(self, values: Sequence[Any]) -> str:
        return ",".join(encode_part(value) for value in values)

    def parse(self, text: str) -> tuple[Any, ...] | None:
        """The key's values from its text, or None when the text cannot be a key of this model."""
        parts = text.split(",")
        if len(parts) != len(self.columns):
            return None
        values = []
        for part, python_type in zip(parts, self.types, strict=True):
            value = _typed(decode_part(part), python_type)
            if value is None:
                return None
            values.append(value)
        return tuple(values)

    # -- SQL ------------------------------------------------------------------------------------------------

    def matches(self) -> ColumnElement[bool]:
        """The record whose key is bound as `bound(values)`: for statements built once and run many times."""
        conditions = [column == bindparam(p) for column, p in zip(self.columns, self.params, strict=True)]
        return and_(*conditions)

    def bound(self, values: Sequence[Any]) -> dict[str, Any]:
        return dict(zip(self.params, values, strict=True))

    def equals(self, values: Sequence[Any]) -> ColumnElement[bool]:
        return and_(*(column == value for column, value in zip(self.columns, values, strict=True)))

    def among(self, keys: Sequence[Sequence[Any]] | Any) -> ColumnElement[bool]:
        """Records whose key is one of `keys` (tuples of values), or one a subquery of key columns gives."""
        if isinstance(keys, (list, tuple)):
            if len(self.columns) == 1:
                return self.columns[0].in_([key[0] for key in keys])
            return tuple_(*self.columns).in_([tuple(key) for key in keys])
        return self.expression.in_(keys)

    def dom_id(self, text: str) -> str:
        """An HTML id (and CSS selector) for the key's text: itself when it is plain, else its hex."""
        return text if _PLAIN_ID.fullmatch(text) else "_" + text.encode().hex()


def typed_value(column: Column[Any], value: Any) -> Any:
    """A JSON value (history, snapshots) as the column's Python type: a key's text parts, a UUID's string."""
    python_type = _python_type(column)
    if python_type is None or isinstance(value, python_type):
        return value
    typed = _typed(str(value), python_type)
    return value if typed is None else typed


def _python_type(column: Column[Any]) -> type | None:
    try:
        return column.type.python_type
    except NotImplementedError:  # exotic key types are passed through as text
        return None


def _typed(text: str, python_type: type | None) -> Any:
    if python_type is None or python_type is str:
        return text
    if python_type is int:
        if not _DIGITS.fullmatch(text) or not -MAX_INTEGER_KEY - 1 <= int(text) <= MAX_INTEGER_KEY:
            return None
        return int(text)
    if python_type is uuid.UUID:
        try:
            return uuid.UUID(text)
        except ValueError:
            return None
    converter = getattr(python_type, "fromisoformat", python_type)
    try:
        return converter(text)
    except (TypeError, ValueError, ArithmeticError):
        return None
