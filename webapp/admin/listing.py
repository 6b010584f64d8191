"""The list view's query: search, filters, sort and pages, checked before they reach SQL, and costing the same
on a big table as on a small one: counts are capped, and Next/Previous/Last pages use keyset cursors."""

from __future__ import annotations

import base64
import json
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

from litestar.exceptions import HTTPException
from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    cast,
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
from sqlalchemy.sql.util import ClauseAdapter

from webapp.admin import filters as list_filters
from webapp.admin.fields import Field
from webapp.admin.options import PER_PAGE_CHOICES, ModelAdmin
from webapp.admin.sizes import TableSizes

MAX_PER_PAGE = max(PER_PAGE_CHOICES)
MAX_SEARCH_LENGTH = 200
COUNT_CAP = list_filters.COUNT_CAP
RESERVED = frozenset({"q", "sort", "page", "per_page", "after", "before", "last", "select_all", "ids", "action"})
MIN_INDEXED_TERM = 3
OFFSET = "list_offset"
PAGE_KEYS = "list_page_keys"


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
        page = _positive_int(params.get("page"), "page", default=1)
        per_page = min(_positive_int(params.get("per_page"), "per_page", default=admin.per_page), MAX_PER_PAGE)
        sort = (params.get("sort") or "").strip()
        if sort and sort.lstrip("-") not in admin.sortable:
            allowed = ", ".join(sorted(admin.sortable))
            raise BadListQuery(
                detail=f"Cannot sort by “{sort[:40]}”. Sort by one of: {allowed} (prefix - for descending)."
            )
        # Control characters (NUL above all: PostgreSQL refuses it in text) cannot be typed into a search box.
        q = "".join(ch for ch in (params.get("q") or "") if ch.isprintable()).strip()[:MAX_SEARCH_LENGTH]
        list_filters.check_unknown(admin.filter_fields, admin.fields, params, set(RESERVED))
        names = {name for f in admin.filter_fields for name in list_filters.param_names(f)}
        chosen = tuple(sorted((k, v) for k, v in params.items() if k in names and v != ""))
        list_filters.conditions(admin.filter_fields, dict(chosen))  # a malformed value is a 400 now, not later
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


def _positive_int(raw: str | None, name: str, *, default: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    if not raw.strip().isdigit() or len(raw.strip()) > 9:
        raise BadListQuery(detail=f"“{name}” must be a whole number of at least 1.")
    return max(1, int(raw))


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- search -------------------------------------------------------------------------------------------------


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
    key_sets: list[Any] = []
    fts_columns: list[str] = []
    for target in admin.search_targets:
        if target.relationship is None:
            if use_fts and target.column.name in admin.sqlite_fts_columns:
                fts_columns.append(target.column.name)
                continue
            key_sets.append(select(admin.pk_column).where(target.column.ilike(pattern, escape="\\")))
        else:
            rel = target.relationship
            (local,) = rel.local_columns
            (remote_pk,) = inspect(rel.mapper.class_).primary_key
            matching = select(remote_pk).where(target.column.ilike(pattern, escape="\\"))
            foreign_key = getattr(admin.model, inspect(admin.model).get_property_by_column(local).key)
            key_sets.append(select(admin.pk_column).where(foreign_key.in_(matching)))
    if fts_columns:
        key_sets.append(_fts_keys(admin.sqlite_fts_table, fts_columns, q))
    return [admin.pk_column.in_(key_sets[0] if len(key_sets) == 1 else union(*key_sets))]


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
    if admin.pk_name not in {n.lstrip("-") for n in names}:
        # Ties break by key in the direction of the last part, so "-created_at" lists newest first.
        descending = parts[-1].descending if parts else False
        parts.append(OrderPart(getattr(admin.model, admin.pk_name), descending, admin.fields[admin.pk_name]))
    return parts, joins


def order_clauses(parts: list[OrderPart], *, reverse: bool = False) -> list[Any]:
    return [p.expression.desc() if p.descending != reverse else p.expression.asc() for p in parts]


def keyset_possible(parts: list[OrderPart]) -> bool:
    """Cursors need every ordering value present and comparable: no related labels, no NULLs."""
    return all(p.field is not None and not p.field.nullable for p in parts)


def _after(parts: list[OrderPart], values: list[Any], *, reverse: bool) -> ColumnElement[bool]:
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
    try:
        values = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not isinstance(values, list) or len(values) != len(parts):
            raise ValueError(raw)
        return [p.field.from_json(v) for p, v in zip(parts, values, strict=True) if p.field is not None]
    except (ValueError, TypeError, AttributeError, ArithmeticError):
        raise BadListQuery(detail="This page link is out of date or damaged; go back to the first page.") from None


# -- the page -----------------------------------------------------------------------------------------------


@dataclass
class Page:
    rows: list[Any]
    total: int
    exact: bool
    estimate: int | None
    query: ListQuery
    has_next: bool = False
    has_prev: bool = False
    next_cursor: str = ""
    prev_cursor: str = ""
    keyset: bool = False
    filters: list[list_filters.ActiveFilter] = field(default_factory=list)

    @property
    def pages(self) -> int | None:
        return max(1, math.ceil(self.total / self.query.per_page)) if self.exact else None

    @property
    def total_display(self) -> str:
        if self.exact:
            return f"{self.total:,}"
        if self.estimate:
            return f"about {self.estimate:,}"
        return f"{COUNT_CAP:,}+"

    @property
    def first_index(self) -> int | None:
        if not self.rows or self.query.after or self.query.before or self.query.last:
            return None
        return (self.query.page - 1) * self.query.per_page + 1

    def page_links(self) -> list[int | None]:
        """Page numbers to link, with None for a gap: 1 … 4 5 [6] 7 8 … 20 (exact totals only)."""
        if self.pages is None:
            return []
        current, last = self.query.page, self.pages
        wanted = {1, last, *range(max(1, current - 2), min(last, current + 2) + 1)}
        links: list[int | None] = []
        for number in sorted(wanted):
            if links and links[-1] is not None and number - links[-1] > 1:
                links.append(None)
            links.append(number)
        return links


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


async def _estimate(session: AsyncSession, admin: ModelAdmin, remembered: TableSizes) -> int | None:
    """PostgreSQL's planner estimate of the table's rows, for "about 1,000,000" without a full COUNT. It only
    changes when the table is analyzed, so it is remembered like a count over the cap."""
    if session.bind.dialect.name != "postgresql":
        return None
    key = ("estimate", admin.slug)
    if (known := remembered.bound(key)) is not None:
        return known or None
    table = admin.model.__table__
    name = f"{table.schema}.{table.name}" if table.schema else table.name
    estimate = await session.scalar(
        text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:t)"), {"t": name}
    )
    estimate = int(estimate) if estimate and estimate > 0 else 0
    remembered.found_more_than(key, estimate)
    return estimate or None


async def _count_choices(
    session: AsyncSession,
    view: Select[Any],
    choices: list[list_filters.Choice],
    exact: bool,
    key: list[Any],
    remembered: TableSizes,
) -> None:
    """Each choice's count (capped), but for those lately found over the cap: on a big table those are most,
    and each is a walk of COUNT_CAP index entries."""
    pending = []
    for choice in choices:
        if remembered.more_than((*key, choice.param, choice.option.value), COUNT_CAP):
            choice.option.count, choice.option.more = COUNT_CAP, True
        else:
            pending.append(choice)
    if not pending:
        return
    counting = list_filters.counts_statement(view, pending, exact=exact)
    list_filters.set_counts(pending, (await session.execute(counting)).one())
    for choice in pending:
        if choice.option.more:
            remembered.found_more_than((*key, choice.param, choice.option.value), COUNT_CAP)


def base_statement(
    admin: ModelAdmin, q: str, filters: Mapping[str, str], dialect: str, account: Any = None
) -> Select[Any]:
    """The view every count, page, bulk "all matching" and export starts from: the rows the account may reach
    (ModelAdmin.list_query), searched and filtered."""
    matching = select(admin.model).where(
        *search_conditions(admin, q, dialect), *list_filters.conditions(admin.filter_fields, filters)
    )
    return admin.scoped(matching, account)


async def count_display(admin: ModelAdmin, session: AsyncSession, current_url: str | None, account: Any) -> str:
    """The list count for the view a htmx request came from (its search and filters), as the page shows it."""
    params: dict[str, str] = {}
    if current_url:
        params = {k: v[-1] for k, v in parse_qs(urlsplit(current_url).query).items()}
    try:
        query = ListQuery.parse(admin, params)
    except HTTPException:
        query = ListQuery.parse(admin, {})
    total, exact = await capped_count(
        session, base_statement(admin, query.q, query.filter_dict, session.bind.dialect.name, account)
    )
    return f"{total:,}" if exact else f"{COUNT_CAP:,}+"


def _count_and_page_keys(
    admin: ModelAdmin,
    view: Select[Any],
    ordered: Select[Any],
    choices: list[list_filters.Choice],
    parts: list[OrderPart],
    per_page: int,
) -> Select[Any]:
    """The view's capped row count, its choices' counts and, comma-joined, the keys of the numbered page at the
    OFFSET parameter (one more than a page: is there a next?), all from one pass over the view's first
    COUNT_CAP + 1 rows. `ordered` is the view with the joins its ordering needs. The rows are a CTE read twice,
    which SQLite and PostgreSQL both materialize: the view is searched and filtered once. The keys are right only
    when the count is exact (all the view's rows were there to sort)."""
    needed = [c.column for c in choices if c.base is None]
    columns = {id(c): c for c in [admin.pk_column, *(p.expression for p in parts), *needed]}
    rows = (
        ordered.with_only_columns(
            *(c.label(f"c{n}") for n, c in enumerate(columns.values())), maintain_column_froms=True
        )
        .order_by(None)
        .limit(COUNT_CAP + 1)
        .cte("view_rows")
    )
    adapt = ClauseAdapter(rows).traverse
    page = (
        select(adapt(admin.pk_column).label("key"))
        .order_by(*(adapt(clause) for clause in order_clauses(parts)))
        .offset(bindparam(OFFSET))
        .limit(per_page + 1)
        .subquery()
    )
    keys = select(func.aggregate_strings(cast(page.c.key, String), ",")).scalar_subquery()
    return select(func.count(), *list_filters.count_columns(choices, view, rows), keys).select_from(rows)


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


async def fetch_page(
    admin: ModelAdmin,
    session: AsyncSession,
    query: ListQuery,
    label_column: Any,
    label: Any,
    sizes: TableSizes,
    built: BuiltStatements,
    view_sizes: TableSizes,
    account: Any = None,
) -> Page:
    """One page of the list. `sizes` remembers tables found big, `view_sizes` views and filter choices found to
    match more than COUNT_CAP rows: shown as "10,000+" without being counted again until the memory expires or
    this process writes (the admin's router forgets them on every write), so a big table's page costs what a
    small one's does."""
    dialect = session.bind.dialect.name
    # A scoped model's statements and remembered counts are the account's own: its statements are built for
    # this request alone, and its counts remembered per account.
    scope = account.id if admin.is_scoped and account is not None else None
    if admin.is_scoped:
        built = BuiltStatements()
    view = (admin.slug, dialect, query.q, query.filters, scope)
    base = built.get(("base", *view), lambda: base_statement(admin, query.q, query.filter_dict, dialect, account))

    def without(f: Field) -> Select[Any]:
        names = set(list_filters.param_names(f))
        return base_statement(admin, query.q, {k: v for k, v in query.filters if k not in names}, dialect, account)

    filters, choices = await list_filters.sidebar(
        session, admin.filter_fields, query.filter_dict, without, label, admin.site.scope(account)
    )
    parts, joins = built.get(("order", admin.slug, query.sort), lambda: ordering(admin, query.sort, label_column))
    keyset = keyset_possible(parts)
    statement = base
    for join in joins:
        statement = statement.outerjoin(join)
    per_page = query.per_page
    # A searched numbered page picks its keys in its count's statement: a search's matches are costly to find
    # twice (an index of its own, a union over the search fields), while a plain or filtered view walks the
    # ordering's index to its page for less than sorting all its rows would cost.
    keys_with_count = bool(query.q) and not (keyset and (query.after or query.before or query.last))
    counted = False
    page_keys: list[Any] = []  # the numbered page's keys, when the count found them along
    remembered_big = view_sizes.more_than(("rows", *view), COUNT_CAP)
    if remembered_big:
        total, exact = COUNT_CAP, False
    else:
        # One statement counts the view's rows (up to the cap) and, over those same rows, its filter choices (and
        # maybe which rows the page shows): right whenever the count is exact. A search or filter on a big table
        # is often a small view, and then its matches are found once or twice instead of three times; a big view
        # is counted so only once per memory.
        if keys_with_count:
            key = ("count+page", COUNT_CAP, *view, query.sort, per_page)
            counting = built.get(key, lambda: _count_and_page_keys(admin, base, statement, choices, parts, per_page))
            found, *counts, keys_text = (await session.execute(counting, {OFFSET: (query.page - 1) * per_page})).one()
        else:
            key = ("count", COUNT_CAP, *view)
            counting = built.get(key, lambda: list_filters.counts_statement(base, choices, exact=True, total=True))
            found, *counts = (await session.execute(counting)).one()
            keys_text = None
        total, exact = min(found, COUNT_CAP), found <= COUNT_CAP
        if exact:
            list_filters.set_counts(choices, counts)
            counted = True
            if keys_with_count:
                page_keys = [admin.parse_pk(k) for k in keys_text.split(",")] if keys_text else []
    if not exact and not remembered_big:
        sizes.found_more_than(admin.model, COUNT_CAP)
        view_sizes.found_more_than(("rows", *view), COUNT_CAP)
    estimate = None
    if not exact and not query.q and not query.filters and not admin.is_scoped:  # the table's, not the scope's
        estimate = await _estimate(session, admin, view_sizes)

    def rows_of(keys: Any, order: list[Any]) -> Select[Any]:
        """The rows with these keys, with their relations, in the page's order."""
        rows = select(admin.model)
        for join in joins:
            rows = rows.outerjoin(join)
        return admin.with_relations(rows.where(admin.pk_column.in_(keys)).order_by(*order), admin.list_fields)

    def with_rows(page: Select[Any], order: list[Any]) -> Select[Any]:
        """The page's rows: its keys first (a walk of the ordering; joining each related row before the LIMIT
        would cost a lookup per skipped row), then its own rows."""
        return rows_of(page.with_only_columns(admin.pk_column, maintain_column_froms=True), order)

    async def run(rows: Select[Any], params: dict[str, Any] | None = None) -> list[Any]:
        return list((await session.execute(rows, params)).unique().scalars())

    reverse = bool(keyset and (query.before or query.last))
    if keyset and (query.after or query.before):
        cursor = decode_cursor(parts, query.after or query.before)
        statement = statement.where(_after(parts, cursor, reverse=bool(query.before)))
    if not keyset and (query.after or query.before or query.last):
        query = replace(query, after="", before="", last=False)
    if query.after or query.before or query.last:
        order = order_clauses(parts, reverse=reverse)
        rows = await run(with_rows(statement.order_by(*order).limit(per_page + 1), order))
        more = len(rows) > per_page
        rows = rows[:per_page]
        if reverse:
            rows.reverse()
        has_next = more if query.after else bool(query.before)
        has_prev = more if reverse else True
        if query.last:
            has_next, has_prev = False, total > per_page
    else:
        page_number = query.page
        if exact and page_number > max(1, math.ceil(total / per_page)):
            page_number = max(1, math.ceil(total / per_page))
            query = replace(query, page=page_number)
        offset = (page_number - 1) * per_page

        def numbered_rows() -> Select[Any]:
            order = order_clauses(parts)
            return with_rows(statement.order_by(*order).offset(bindparam(OFFSET)).limit(per_page + 1), order)

        def rows_by_key() -> Select[Any]:
            return rows_of(bindparam(PAGE_KEYS, expanding=True), order_clauses(parts))

        if page_keys:
            # The count found the page's keys: its rows by key, without walking the view again. (None found: the
            # view is empty, or the page asked for lies past its end and the last page is shown instead.)
            rows = await run(built.get(("page-by-key", admin.slug, query.sort), rows_by_key), {PAGE_KEYS: page_keys})
        else:
            # Built once per view, sort and page size: the offset is a parameter.
            rows = await run(built.get(("page", *view, query.sort, per_page), numbered_rows), {OFFSET: offset})
        has_next, has_prev = len(rows) > per_page, page_number > 1
        rows = rows[:per_page]
    page = Page(
        rows=rows,
        total=total,
        exact=exact,
        estimate=estimate,
        query=query,
        has_next=has_next,
        has_prev=has_prev,
        keyset=keyset,
    )
    if keyset and rows:
        page.next_cursor = encode_cursor(parts, rows[-1])
        page.prev_cursor = encode_cursor(parts, rows[0])

    if choices and not counted:
        await _count_choices(session, base, choices, exact, [*view, "choice"], view_sizes)
    page.filters = filters
    return page
