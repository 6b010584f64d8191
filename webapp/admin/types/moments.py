"""Dates, times and moments. Moments are shown and typed in UTC."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement

from webapp.admin.types.base import FieldError, FieldType, base_type

if TYPE_CHECKING:
    from webapp.admin.fields import Field


class DayRangeType(FieldType):
    """Filtered by whole days: presets (today, last 7 days, …) and a from/to pair of dates."""

    filter = "date"

    def range_condition(self, field: Field, column: Any, raw: str, *, upper: bool) -> ColumnElement[bool]:
        try:
            day = self.day_of(raw.strip())
        except ValueError:
            raise FieldError("must be a date written YYYY-MM-DD.") from None
        return column < self.day_bound(field, day, upper=True) if upper else column >= self.day_bound(field, day)

    def day_of(self, text: str) -> date:
        return date.fromisoformat(text)

    def day_bound(self, field: Field, day: date, *, upper: bool = False) -> Any:
        return day + timedelta(days=1) if upper else day


class DateType(DayRangeType):
    name = "date"
    input_type = "date"

    def parse_text(self, field: Field, text: str) -> Any:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise FieldError("Enter a valid date (YYYY-MM-DD).") from None

    def from_json(self, field: Field, value: Any) -> Any:
        return date.fromisoformat(value)


class DateTimeType(DayRangeType):
    name = "datetime"
    input_type = "datetime-local"
    help = "In UTC."

    def parse_text(self, field: Field, text: str) -> Any:
        try:
            value = datetime.fromisoformat(text.replace(" ", "T", 1))
        except ValueError:
            raise FieldError("Enter a valid date and time (YYYY-MM-DDTHH:MM).") from None
        aware = _timezone_aware(field)
        if aware and value.tzinfo is None:
            # The form shows and takes times in UTC; a naive value typed there means UTC.
            value = value.replace(tzinfo=UTC)
        if not aware and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def step(self, field: Field) -> str | None:
        return "1"

    def input_text(self, field: Field, value: Any) -> str:
        if not isinstance(value, datetime):
            return str(value)
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="seconds")

    def from_json(self, field: Field, value: Any) -> Any:
        return datetime.fromisoformat(value)

    def day_of(self, text: str) -> date:
        return date.fromisoformat(text[:10])  # a moment's day: a bound may be given as a whole timestamp

    def day_bound(self, field: Field, day: date, *, upper: bool = False) -> Any:
        """Days span whole UTC days, so "to the 31st" includes the 31st."""
        moment = datetime.combine(day + timedelta(days=1) if upper else day, time.min)
        declared = field.column.type if field.column is not None else None
        utc = _timezone_aware(field) or "DateTimeUTC" in type(declared).__name__
        return moment.replace(tzinfo=UTC) if utc else moment


class TimeType(FieldType):
    name = "time"
    input_type = "time"

    def parse_text(self, field: Field, text: str) -> Any:
        try:
            return time.fromisoformat(text)
        except ValueError:
            raise FieldError("Enter a valid time (HH:MM).") from None

    def from_json(self, field: Field, value: Any) -> Any:
        return time.fromisoformat(value)


# Django's duration format ("3 04:05:06", "04:05", "-1 00:00:00") and ISO 8601's ("P3DT4H5M6S").
_DURATION = re.compile(
    r"(?:(?P<days>-?\d{1,9})(?: days?,?)? )?(?P<hours>\d{1,2}):(?P<minutes>\d{2})(?::(?P<seconds>\d{2}(?:\.\d{1,6})?))?"
)
_ISO_DURATION = re.compile(
    r"(?P<sign>-)?P(?:(?P<days>\d{1,9})D)?(?:T(?:(?P<hours>\d{1,9})H)?(?:(?P<minutes>\d{1,9})M)?"
    r"(?:(?P<seconds>\d{1,9}(?:\.\d{1,6})?)S)?)?"
)


class IntervalType(FieldType):
    """A duration (SQLAlchemy's Interval, PostgreSQL's INTERVAL), typed as days and a clock time, "3 04:05:06",
    or in ISO 8601, "P3DT4H5M6S"; stored and shown as a timedelta."""

    name = "interval"
    help = "Days and hours:minutes[:seconds], e.g. 3 04:05:06, or ISO 8601 (P3DT4H)."

    def parse_text(self, field: Field, text: str) -> Any:
        found = _DURATION.fullmatch(text) or _ISO_DURATION.fullmatch(text.upper())
        if found is None or (found.re is _ISO_DURATION and text.upper().strip("-") in {"P", "PT"}):
            raise FieldError("Enter a valid duration (days hh:mm[:ss], e.g. 3 04:05:06).")
        parts = found.groupdict()
        try:
            value = timedelta(
                days=int(parts["days"] or 0),
                hours=int(parts["hours"] or 0),
                minutes=int(parts["minutes"] or 0),
                seconds=float(parts["seconds"] or 0),
            )
        except OverflowError:
            raise FieldError("Enter a shorter duration (at most 999,999,999 days).") from None
        return -value if parts.get("sign") else value

    def input_text(self, field: Field, value: Any) -> str:
        days, rest = divmod(value, timedelta(days=1))
        minutes, seconds = divmod(rest.seconds, 60)
        clock = f"{minutes // 60:02d}:{minutes % 60:02d}:{seconds:02d}"
        if rest.microseconds:
            clock += f".{rest.microseconds:06d}".rstrip("0")
        return f"{days} {clock}" if days else clock

    def text(self, field: Field, value: Any) -> str:
        return self.input_text(field, value)

    def from_json(self, field: Field, value: Any) -> Any:
        return timedelta(seconds=value)


def _timezone_aware(field: Field) -> bool:
    return bool(getattr(base_type(field.column), "timezone", False)) if field.column is not None else False


DATE = DateType()
DATETIME = DateTimeType()
TIME = TimeType()
INTERVAL = IntervalType()
