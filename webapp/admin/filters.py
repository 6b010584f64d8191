"""List filters, as each field's type offers them (`FieldType.filter`): choices with counts (yes/no, enums), a
related record, date and number ranges.

Filters live in the URL under the field's name: `status=active`, `owner_id=3`, `is_active=true`, and ranges
with `__gte` / `__lte` suffixes (`price__gte=10`, `created_at__lte=2026-01-31`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from litestar.exceptions import HTTPException
from sqlalchemy import ColumnElement, Select, Subquery, case, func, inspect, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.util import ClauseAdapter

from webapp.admin.fields import Field, FieldError

RANGE_SUFFIXES = ("__gte", "__lte")
COUNT_CAP = 10_000
RANGED = frozenset({"date", "number"})  # filters given as __gte / __lte bounds


class BadFilter(HTTPException):
    status_code = 400


@dataclass
class Option:
    value: str
    label: str
    selected: bool
    count: int | None = None
    more: bool = False  # more rows than COUNT_CAP: shown as "10,000+"


@dataclass
class ActiveFilter:
    """One filter as the sidebar shows it: its current values and its options."""

    field: Field
    values: dict[str, str]
    options: list[Option] = field(default_factory=list)
    selected_label: str = ""

    @property
    def kind(self) -> str:
        """The sidebar's widget for it: "choice", "date", "number" or "related"."""
        return self.field.type.filter or "choice"

    @property
    def is_set(self) -> bool:
        return any(v != "" for v in self.values.values())


def presets(today: date) -> list[tuple[str, date, date]]:
    month_start = today.replace(day=1)
    return [
        ("Today", today, today),
        ("Last 7 days", today - timedelta(days=6), today),
        ("This month", month_start, today),
        ("This year", today.replace(month=1, day=1), today),
    ]


def _column(f: Field) -> Any:
    assert f.column is not None
    return f.column


def conditions(fields: list[Field], params: Mapping[str, str]) -> list[ColumnElement[bool]]:
    """SQL conditions for the filter parameters given; a malformed value is a 400 that names it."""
    by_name = {f.name: f for f in fields}
    out: list[ColumnElement[bool]] = []
    for param, raw in params.items():
        base, suffix = _split(param)
        f = by_name.get(base)
        if f is None:
            continue
        if raw == "":
            continue
        column = _column(f)
        if suffix:
            if f.type.filter not in RANGED:
                raise BadFilter(detail=f"“{param}”: {f.label} cannot be filtered by a range.")
            try:
                out.append(f.type.range_condition(f, column, raw, upper=suffix == "__lte"))
            except FieldError as exc:
                raise BadFilter(detail=f"“{param}” {exc}") from None
            continue
        try:
            out.append(f.type.filter_condition(f, column, raw))
        except FieldError:
            raise BadFilter(detail=f"“{raw[:40]}” is not a valid value for the filter “{param}”.") from None
    return out


def _split(param: str) -> tuple[str, str]:
    for suffix in RANGE_SUFFIXES:
        if param.endswith(suffix):
            return param.removesuffix(suffix), suffix
    return param, ""


def check_unknown(
    fields: list[Field], all_fields: dict[str, Field], params: Mapping[str, str], reserved: set[str]
) -> None:
    """A parameter naming a field that has no filter (or a suffix that does not exist) is a clear 400."""
    filterable = {f.name for f in fields}
    for param in params:
        if param in reserved:
            continue
        base, suffix = _split(param)
        if base in filterable and (not suffix or all_fields[base].type.filter != "choice"):
            continue
        if base in all_fields or "__" in param:
            raise BadFilter(detail=f"There is no filter “{param}” here.")


@dataclass(frozen=True)
class Choice:
    """One option of a choice filter still to be counted: the rows it would show."""

    param: str  # the filter's query parameter; with option.value, which choice this is
    option: Option
    condition: ColumnElement[bool]
    column: Any
    # The list without this option's own filter, when that filter is in use; None: the list itself.
    base: Select[Any] | None


async def sidebar(
    session: AsyncSession,
    fields: list[Field],
    params: Mapping[str, str],
    base_without: Callable[[Field], Select[Any]],
    label: Any,
    scope: Callable[[type, Select[Any]], Select[Any]] | None = None,
) -> tuple[list[ActiveFilter], list[Choice]]:
    """Every filter with its current values, and the choices whose counts are still to be taken, each within
    the search and the other filters (what choosing it would show): see `count_columns`."""
    out: list[ActiveFilter] = []
    pending: list[Choice] = []
    for f in fields:
        values = {name: params.get(name, "") for name in param_names(f)}
        active = ActiveFilter(f, values)
        column = _column(f)
        choices = f.filter_options
        base = base_without(f) if choices and any(values.values()) else None
        for value, text, condition in choices:
            option = Option(value, text, selected=values[f.name] == value)
            active.options.append(option)
            pending.append(Choice(f.name, option, condition, column, base))
        if f.type.filter == "related" and values[f.name]:
            active.selected_label = await _related_label(session, f, values[f.name], label, scope)
        out.append(active)
    return out, pending


def view_rows(view: Select[Any], choices: list[Choice]) -> Subquery:
    """The list's first COUNT_CAP + 1 rows, with the columns the choices of filters not in use test."""
    needed = {id(c.column): c.column for c in choices if c.base is None} or {0: literal(1)}
    return (
        view.with_only_columns(*needed.values(), maintain_column_froms=True)
        .order_by(None)
        .limit(COUNT_CAP + 1)
        .subquery()
    )


def count_columns(choices: list[Choice], view: Select[Any], rows: Subquery | None) -> list[Any]:
    """One count per choice, capped so a big table costs as a small one.

    `rows` is `view_rows(view, ...)` when the list matched at most COUNT_CAP rows: a filter not in use then
    splits exactly those rows, so its choices are summed over them in one pass (select from `rows`). Otherwise
    each choice is its own capped count.
    """
    adapt = ClauseAdapter(rows).traverse if rows is not None else None
    columns: list[Any] = []
    for choice in choices:
        if adapt is not None and choice.base is None:
            columns.append(func.coalesce(func.sum(case((adapt(choice.condition), 1), else_=0)), 0))
            continue
        matching = (
            (choice.base if choice.base is not None else view)
            .where(choice.condition)
            .with_only_columns(literal(1), maintain_column_froms=True)
            .order_by(None)
            .limit(COUNT_CAP + 1)
            .subquery()
        )
        columns.append(select(func.count()).select_from(matching).scalar_subquery())
    return columns


def counts_statement(view: Select[Any], choices: list[Choice], *, exact: bool, total: bool = False) -> Select[Any]:
    """The choices' counts (after the list's own capped row count when `total`) in one statement; `exact`: the
    list is known to match at most COUNT_CAP rows, or `total` asks to find out (see `count_columns`)."""
    rows = view_rows(view, choices) if exact or total else None
    columns = [func.count()] if total else []
    statement = select(*columns, *count_columns(choices, view, rows))
    return statement.select_from(rows) if rows is not None else statement


def set_counts(choices: list[Choice], counts: Sequence[Any]) -> None:
    for choice, n in zip(choices, counts, strict=True):
        choice.option.count, choice.option.more = min(int(n), COUNT_CAP), int(n) > COUNT_CAP


def param_names(f: Field) -> list[str]:
    if f.type.filter in RANGED:
        return [f"{f.name}__gte", f"{f.name}__lte"]
    return [f.name]


async def _related_label(session: AsyncSession, f: Field, raw: str, label: Any, scope: Any) -> str:
    """The chosen related record's name, if the account may reach it (else it is "not found" to them)."""
    try:
        key = f.parse(raw)
    except FieldError:
        return raw
    (pk_column,) = inspect(f.related_model).primary_key
    by_key = select(f.related_model).where(pk_column == key)
    scoped = scope(f.related_model, by_key) if scope is not None else by_key
    related = await session.get(f.related_model, key) if scoped is by_key else await session.scalar(scoped)
    return label(related) if related is not None else f"#{raw} (not found)"
