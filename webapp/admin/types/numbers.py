"""Number columns: whole numbers, exact decimals, floats."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, ColumnElement
from sqlalchemy import types as sa_types

from webapp.admin.types.base import CellRenderer, FieldError, FieldType, base_type, html

if TYPE_CHECKING:
    from webapp.admin.fields import Field

FILTER_LIMIT = Decimal(10) ** 18  # a bound beyond any column: refused rather than sent to the database


class NumberType(FieldType):
    """What every number shares: a number input, a min/max check and an "at least / at most" filter."""

    input_type = "number"
    filter = "number"

    def check_range(self, field: Field, value: Decimal) -> None:
        if field.min_value is not None and value < field.min_value:
            raise FieldError(f"Ensure this value is greater than or equal to {field.min_value}.")
        if field.max_value is not None and value > field.max_value:
            raise FieldError(f"Ensure this value is less than or equal to {field.max_value}.")

    def range_condition(self, field: Field, column: Any, raw: str, *, upper: bool) -> ColumnElement[bool]:
        try:
            bound = Decimal(raw.strip())
        except ArithmeticError:
            raise FieldError("must be a number.") from None
        if not bound.is_finite() or abs(bound) > FILTER_LIMIT:
            raise FieldError("must be a number.")
        value = self.filter_bound(bound)
        return column <= value if upper else column >= value

    def filter_bound(self, bound: Decimal) -> Any:
        return bound


class IntegerType(NumberType):
    name = "integer"

    def parse_text(self, field: Field, text: str) -> Any:
        if not re.fullmatch(r"[+-]?\d+", text):
            raise FieldError("Enter a whole number.")
        limit = self.limit(field)
        # Python refuses to convert more than 4,300 digits (and takes quadratic time below that): a number with
        # more digits than the column's bound is out of range before it is converted. \d admits every script's
        # digits ("١٢" is 12), as Django's IntegerField does.
        sign, digits = ("-", text[1:]) if text[0] == "-" else ("", text.lstrip("+"))
        if not digits.isascii():
            digits = "".join(str(unicodedata.decimal(ch)) for ch in digits)
        digits = digits.lstrip("0") or "0"
        value = int(sign + digits) if len(digits) <= len(str(limit)) else limit
        if not -limit <= value < limit:
            raise FieldError(f"Ensure this value is between {-limit} and {limit - 1}.")
        self.check_range(field, Decimal(value))
        return value

    def limit(self, field: Field) -> int:
        """The column's bound: values lie in [-limit, limit)."""
        column_type = base_type(field.column) if field.column is not None else None
        if isinstance(column_type, sa_types.BigInteger):
            return 2**63
        return 2**15 if isinstance(column_type, sa_types.SmallInteger) else 2**31

    def step(self, field: Field) -> str | None:
        return "1"

    def cell_renderer(self, site: Any, field: Field) -> CellRenderer:
        # An int needs no escaping (bench: list-page scenarios).
        name, display = field.name, self.display
        return lambda obj, _links: (
            str(value) if type(value := getattr(obj, name)) is int else html(display(field, obj, truncate=True))
        )

    def filter_bound(self, bound: Decimal) -> Any:
        return int(bound) if bound == bound.to_integral_value() else bound


class DecimalType(NumberType):
    name = "decimal"

    def for_column(self, column: Column[Any]) -> FieldType:
        column_type = base_type(column)
        return FLOAT if isinstance(column_type, sa_types.Numeric) and not column_type.asdecimal else self

    def facts(self, column: Column[Any]) -> dict[str, Any]:
        column_type = base_type(column)
        return {"precision": getattr(column_type, "precision", None), "scale": getattr(column_type, "scale", None)}

    def parse_text(self, field: Field, text: str) -> Any:
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
        if field.scale is not None and decimals > field.scale:
            raise FieldError(f"Ensure that there are no more than {field.scale} decimal places.")
        if field.precision is not None and field.scale is not None and whole_digits > field.precision - field.scale:
            raise FieldError(
                f"Ensure that there are no more than {field.precision - field.scale} digits before the decimal point."
            )
        self.check_range(field, value)
        if field.scale is not None:
            value = value.quantize(Decimal(1).scaleb(-field.scale))
        return value

    def step(self, field: Field) -> str | None:
        return "any" if field.scale is None else format(Decimal(1).scaleb(-field.scale), "f")

    def input_text(self, field: Field, value: Any) -> str:
        return format(value, "f") if isinstance(value, Decimal) else str(value)

    def from_json(self, field: Field, value: Any) -> Any:
        return Decimal(value)


class FloatType(NumberType):
    name = "float"

    def for_column(self, column: Column[Any]) -> FieldType:
        return self

    def parse_text(self, field: Field, text: str) -> Any:
        try:
            value = float(text)
        except ValueError:
            raise FieldError("Enter a number.") from None
        if value != value or value in {float("inf"), float("-inf")}:
            raise FieldError("Enter a number.")
        self.check_range(field, Decimal(str(value)))
        return value

    def step(self, field: Field) -> str | None:
        return "any"

    def filter_bound(self, bound: Decimal) -> Any:
        return float(bound)


INTEGER = IntegerType()
DECIMAL = DecimalType()
FLOAT = FloatType()
