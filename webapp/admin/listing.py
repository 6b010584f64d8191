"""The list view's query: search, filters, sort and pages, checked before they reach SQL, and costing the same
on a big table as on a small one: counts are capped, and Next/Previous/Last pages use keyset cursors."""

from __future__ import annotations

import base64
import json
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from litestar.exceptions import HTTPException
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    inspect,
    literal,
    literal_column,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.admin import filters as list_filters
from webapp.admin.fields import Field
from webapp.admin.keys import MAX_INTEGER_KEY
from webapp.admin.types.base import base_type

if TYPE_CHECKING:
    from webapp.admin.options import ModelAdmin

DEFAULT_PER_PAGE = 50
PER_PAGE_CHOICES = (25, 50, 100, 200)
MAX_PER_PAGE = max(PER_PAGE_CHOICES)
MAX_SEARCH_LENGTH = 200
COUNT_CAP = list_filters.COUNT_CAP
RESERVED = frozenset({"q", "sort", "page", "per_page", "after", "before", "last", "select_all", "ids", "action"})
MIN_INDEXED_TERM = 3
# A cursor's decimal values stay within this many digits of the point (a Numeric column's are far fewer).
MAX_CURSOR_DIGITS = 1000


class BadListQuery(HTTPException):
    status_code = 400


@dataclass(frozen=True)
class ListQuery:
    page: int
    per_page: int
    sort: str
    q: str
    filters: tuple[tuple[str, str], ...] = ()
    after: str = ""
    before: str = ""
    last: bool = False
    default_per_page: int = 0  # the model's; links leave it out, as they leave out page 1

    @classmethod
    def parse(cls, admin: ModelAdmin, params: Mapping[str, str]) -> ListQuery:
        page = positive_int(params.get("page"), "page", default=1)
        per_page = min(positive_int(params.get("per_page"), "per_page", default=admin.per_page), MAX_PER_PAGE)
        sort = (params.get("sort") or "").strip()
        if sort and sort.lstrip("-") not in admin.sortable:
            allowed = ", ".join(sorted(admin.sortable))
            raise BadListQuery(
                detail=f"Cannot sort by “{sort[:40]}”. Sort by one of: {allowed} (prefix - for descending)."
            )
        # Control characters (NUL above all: PostgreSQL refuses it in text) cannot be typed into a search box.
        q = search_text(params.get("q") or "")
        list_filters.check_unknown(admin.query_filter_fields, admin.fields, params, set(RESERVED))
        names = {name for f in admin.query_filter_fields for name in list_filters.param_names(f)}
        chosen = tuple(sorted((k, v) for k, v in params.items() if k in names and v != ""))
        list_filters.conditions(admin.query_filter_fields, dict(chosen))  # a malformed value is a 400 now, not later
        return cls(
            page=page,
            per_page=per_page,
            sort=sort,
            q=q,
            filters=chosen,
            after=params.get("after") or "",
            before=params.get("before") or "",
            last=params.get("last") in {"1", "true"},
            default_per_page=admin.per_page,
        )

    @property
    def params(self) -> dict[str, Any]:
        return {"q": self.q, "sort": self.sort, "per_page": self.per_page, "page": self.page, **dict(self.filters)}

    @property
    def custom_per_page(self) -> int | None:
        """`per_page` when it is not the model's default: what links and forms carry."""
        return self.per_page if self.per_page != self.default_per_page else None

    def url(self, **changes: Any) -> str:
        """This view's query string with some parameters changed; empty ones (and cursors) dropped, and page 1 and
        the default `per_page` too: a sidebar makes a dozen of these links, and a shorter URL is the same view."""
        return _query_string(self._without_defaults(self.params | changes))

    def without(self, *names: str) -> str:
        """This view's query string without `names`, from its first page."""
        return self.url(page=None, **dict.fromkeys(names))

    def _without_defaults(self, values: dict[str, Any]) -> dict[str, Any]:
        if values.get("page") == 1:
            values["page"] = None
        if values.get("per_page") == self.default_per_page:
            values["per_page"] = None
        return values

    def sort_url(self, name: str) -> str:
        return self.url(sort=f"-{name}" if self.sort == name else name, page=1)

    def sort_state(self, name: str) -> str:
        if self.sort == name:
            return "ascending"
        if self.sort == f"-{name}":
            return "descending"
        return "none"

    @property
    def filter_dict(self) -> dict[str, str]:
        return dict(self.filters)


def _query_string(values: Mapping[str, Any]) -> str:
    """urlencode's output for the non-empty values, quoting only the values: the keys are field names, and a
    sidebar makes a dozen of these."""
    return "?" + "&".join([f"{k}={quote_plus(str(v))}" for k, v in values.items() if v not in ("", None, False)])


def positive_int(raw: str | None, name: str, *, default: int) -> int:
    """A page number (or size) from the URL: `default` when absent, a 400 naming `name` when it is no number."""
    if raw is None or raw.strip() == "":
        return default
    if not raw.strip().isdigit() or len(raw.strip()) > 9:
        raise BadListQuery(detail=f"“{name}” must be a whole number of at least 1.")
    return max(1, int(raw))


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- search -------------------------------------------------------------------------------------------------


def search_text(raw: str) -> str:
    """What a search box sent, as searched: printable characters only, trimmed, at most MAX_SEARCH_LENGTH."""
    return "".join(ch for ch in raw if ch.isprintable()).strip()[:MAX_SEARCH_LENGTH]


def search_conditions(admin: ModelAdmin, q: str, dialect: str = "") -> list[ColumnElement[bool]]:
    """Case-insensitive, literal (% and _ are just characters) match in any search field, related ones too.

    On SQLite an FTS5 trigram table (ModelAdmin.sqlite_fts_table) answers for the columns it covers; on
    PostgreSQL ILIKE is served by a pg_trgm index. Both keep search fast on a million rows.
    """
    if not q or not admin.search_targets:
        return []
    pattern = f"%{_escape_like(q)}%"
    use_fts = dialect == "sqlite" and admin.sqlite_fts_table and len(q) >= MIN_INDEXED_TERM
    # One set of keys per searched column, united: an OR across them would stop PostgreSQL (and SQLite) from
    # using each column's own index, and scan the table instead.
    matches: list[ColumnElement[bool]] = []
    fts_columns: list[str] = []
    for target in admin.search_targets:
        if target.relationship is None:
            if use_fts and target.column.name in admin.sqlite_fts_columns:
                fts_columns.append(target.column.name)
                continue
            matches.append(target.column.ilike(pattern, escape="\\"))
        else:
            rel = target.relationship
            (local,) = rel.local_columns
            (remote_pk,) = inspect(rel.mapper.class_).primary_key
            matching = select(remote_pk).where(target.column.ilike(pattern, escape="\\"))
            foreign_key = getattr(admin.model, inspect(admin.model).get_property_by_column(local).key)
            matches.append(foreign_key.in_(matching))
    if not admin.record_pages:
        # Rows without a key of their own have no keys to unite: the matches are OR-ed.
        return [or_(*matches)]
    key_sets: list[Any] = [select(*admin.key.columns).where(match) for match in matches]
    if fts_columns:
        key_sets.append(_fts_keys(admin.sqlite_fts_table, fts_columns, q))
    return [admin.key.expression.in_(key_sets[0] if len(key_sets) == 1 else union(*key_sets))]


def _fts_keys(table: str, columns: list[str], q: str) -> Any:
    """Rows whose columns contain `q`, from the FTS5 trigram index alone: a quoted phrase of 3 or more
    characters is a case-insensitive substring match there, with nothing special about % or _. (LIKE on the
    FTS table would re-read every candidate row from the content table to check it.)"""
    phrase = '"' + q.replace('"', '""') + '"'
    names = " ".join(f'"{name}"' for name in columns)
    statement = text(f'SELECT rowid FROM "{table}" WHERE "{table}" MATCH :fts_query')
    return statement.bindparams(fts_query=f"{{{names}}} : {phrase}").columns(literal_column("rowid"))


# -- ordering -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderPart:
    expression: Any
    descending: bool
    field: Field | None  # None when the part cannot be a keyset (a related label)


def ordering(admin: ModelAdmin, sort: str, label_column: Any) -> tuple[list[OrderPart], list[Any]]:
    """The ORDER BY parts (requested column, default ordering, primary key) and any joins they need."""
    names = [sort] if sort else []
    names += [n for n in admin.default_ordering if n.lstrip("-") != sort.lstrip("-")]
    return ordering_by(admin, names, label_column)


def ordering_by(admin: ModelAdmin, names: list[str], label_column: Any) -> tuple[list[OrderPart], list[Any]]:
    """The ORDER BY parts of field `names` ("-name" descending) then the primary key, and the joins they need:
    a many-to-one sorts by the related record's naming column when `label_column(field)` gives one."""
    parts: list[OrderPart] = []
    joins: list[Any] = []
    for name in names:
        f = admin.fields[name.lstrip("-")]
        descending = name.startswith("-")
        if f.relationship and not f.type.many and label_column(f) is not None:
            related_label = label_column(f)
            joins.append(getattr(admin.model, f.relationship))
            parts.append(OrderPart(related_label, descending, None))
        else:
            parts.append(OrderPart(getattr(admin.model, f.name), descending, f))
    # Ties break by key in the direction of the last part, so "-created_at" lists newest first.
    descending = parts[-1].descending if parts else False
    for key_name in admin.key.names:
        if key_name not in {n.lstrip("-") for n in names}:
            parts.append(OrderPart(getattr(admin.model, key_name), descending, admin.fields[key_name]))
    return parts, joins


def order_clauses(parts: list[OrderPart], *, reverse: bool = False) -> list[Any]:
    return [p.expression.desc() if p.descending != reverse else p.expression.asc() for p in parts]


def keyset_possible(parts: list[OrderPart]) -> bool:
    """Cursors need every ordering value present and comparable: no related labels, no NULLs."""
    return all(p.field is not None and not p.field.nullable for p in parts)


def after_cursor(parts: list[OrderPart], values: list[Any], *, reverse: bool) -> ColumnElement[bool]:
    """Rows strictly after `values` in this ordering (before them when reverse)."""
    alternatives = []
    for index, part in enumerate(parts):
        equal = [parts[i].expression == values[i] for i in range(index)]
        greater = part.descending == reverse
        step = part.expression > values[index] if greater else part.expression < values[index]
        alternatives.append(and_(*equal, step))
    return or_(*alternatives)


def encode_cursor(parts: list[OrderPart], obj: Any) -> str:
    values = [p.field.to_json(obj) for p in parts if p.field is not None]
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(parts: list[OrderPart], raw: str) -> list[Any]:
    """The ordering values `encode_cursor` wrote, each of its column's type; a 400 when `raw` is no such cursor
    (a link cut short, or written by hand), before any of it reaches SQL."""
    try:
        values = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not isinstance(values, list) or len(values) != len(parts):
            raise ValueError(raw)
        return [_cursor_value(p.field, v) for p, v in zip(parts, values, strict=True) if p.field is not None]
    except (ValueError, TypeError, AttributeError, ArithmeticError, LookupError):
        raise BadListQuery(detail="This page link is out of date or damaged; go back to the first page.") from None


def _cursor_value(f: Field, raw: Any) -> Any:
    """One value of a cursor, as its column holds it: a value of another type, or one the database cannot
    compare with the column (an integer past the largest key, a naive time for an aware column, a NUL in text,
    an endless number), is refused here rather than by the database."""
    if raw is None:
        raise ValueError("a keyset ordering has no NULLs")
    value = f.from_json(raw)
    expected = _python_type(f)
    if expected is not None and not isinstance(value, expected):
        raise TypeError(f.name)
    if isinstance(value, bool) and expected is not bool:
        raise TypeError(f.name)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER_KEY:
        raise ValueError(f.name)
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(f.name)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f.name)
    if isinstance(value, Decimal) and (not value.is_finite() or abs(value.adjusted()) > MAX_CURSOR_DIGITS):
        raise ValueError(f.name)
    if isinstance(value, datetime) and f.column is not None:
        aware = bool(getattr(base_type(f.column), "timezone", False))
        if (value.tzinfo is not None) != aware:
            raise ValueError(f.name)
    return value


def _python_type(f: Field) -> type | None:
    if f.column is None:
        return None
    try:
        return f.column.type.python_type
    except NotImplementedError:
        return None


# -- statements ------------------------------------------------------------------------------------------


class BuiltStatements:
    """The statements of the list views asked for lately, built once each: building one (search unions,
    filter conditions, choice counts adapted to the capped rows) costs more than running it on a small table.
    Keyed by everything they are built from; only SQL is kept, never rows or counts."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._built: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def get(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        built = self._built.get(key)
        if built is None:
            built = self._built[key] = build()
            if len(self._built) > self.size:
                self._built.popitem(last=False)
        else:
            self._built.move_to_end(key)
        return built


async def capped_count(session: AsyncSession, statement: Select[Any]) -> tuple[int, bool]:
    """Rows matching, counted no further than COUNT_CAP: (count, exact)."""
    capped = (
        statement.with_only_columns(literal(1), maintain_column_froms=True)
        .order_by(None)
        .limit(COUNT_CAP + 1)
        .subquery()
    )
    total = await session.scalar(select(func.count()).select_from(capped)) or 0
    return min(total, COUNT_CAP), total <= COUNT_CAP
