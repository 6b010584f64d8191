"""The list page: one request's view of a model's rows, built in named steps a model may replace.

In the spirit of Django's `ChangeList`: a model sets `ModelAdmin.list_page_class` to a subclass that replaces
a step (its search, its count, how a page's rows are read), and everything that shows or acts on "the rows of
this view" (the list, its counts and filter counts, bulk actions on all matching rows, export) goes through the
same steps, so a replaced search is the one every route uses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from litestar.exceptions import HTTPException
from sqlalchemy import ColumnElement, Select, String, bindparam, cast, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.util import ClauseAdapter

from webapp.admin import filters as list_filters
from webapp.admin.fields import Field
from webapp.admin.joined_strings import joined_strings
from webapp.admin.listing import (
    COUNT_CAP,
    BuiltStatements,
    ListQuery,
    OrderPart,
    after_cursor,
    capped_count,
    decode_cursor,
    encode_cursor,
    keyset_possible,
    order_clauses,
    ordering,
    search_conditions,
)
from webapp.admin.samples import Reading
from webapp.admin.sizes import TableSizes

if TYPE_CHECKING:
    from webapp.admin.options import ModelAdmin

OFFSET = "list_offset"
PAGE_KEYS = "list_page_keys"


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


@dataclass(frozen=True)
class Count:
    """What the `count` step found: the view's rows up to COUNT_CAP, whether that is all of them, and the keys of
    the numbered page when the count picked them along (a searched view)."""

    total: int
    exact: bool
    page_keys: tuple[Any, ...] = ()
    choices_counted: bool = False


@dataclass(frozen=True)
class Rows:
    """A page's rows, as a `keyset_rows` or `numbered_rows` step read them."""

    rows: list[Any]
    has_next: bool
    has_prev: bool


class ListPage:
    """One request's list of a model's rows. `page()` runs the steps in this order; each is a method a subclass
    may replace:

    - `search(q)`: the conditions for the search box's term;
    - `base(filters)`: the rows the account may reach (`ModelAdmin.list_query`), searched and filtered;
    - `sidebar()`: the filters with their values, and the choices whose counts are to be taken;
    - `ordering()`: the ORDER BY parts and the joins they need;
    - `count(...)`: the view's rows up to COUNT_CAP, with the choices' counts over the same rows;
    - `estimate()`: PostgreSQL's estimate of an uncounted table's rows;
    - `keyset_rows(...)` (Next, Previous and Last by cursor) or `numbered_rows(...)` (page N);
    - `choice_counts(...)`: the choices the count did not reach;
    - `fetch(statement, params)`: runs a statement of rows;
    - `related(rows)`: the first records of each listed collection, with their count, for the page's rows.

    Statements are built once per view and kept in the site's `BuiltStatements` under `view_key`: a step whose
    statement depends on anything else (the account, the time) adds it to `view_key`. A scoped model's
    statements are built per request (its `list_query` may read any part of the account).
    """

    def __init__(self, admin: ModelAdmin, session: AsyncSession, query: ListQuery, account: Any = None) -> None:
        self.admin = admin
        self.site = admin.site
        self.session = session
        self.query = query
        self.account = account
        # The model's database: with a state database beside it (webapp.admin.state) the session has two.
        self.dialect = session.get_bind(mapper=admin.model).dialect.name
        self.built = BuiltStatements() if admin.is_scoped else self.site.list_statements
        self._remembered: TableSizes | None = None

    @property
    def view_key(self) -> tuple[Any, ...]:
        """What this view's statements and remembered counts are built from. A scoped model's counts are
        remembered per account."""
        scope = self.account.id if self.admin.is_scoped and self.account is not None else None
        return (self.admin.slug, self.dialect, self.query.q, self.query.filters, scope)

    async def remembered(self) -> TableSizes:
        """What the site remembers of view sizes, as of this page (`SizeMemory.now`: with Redis, the generation is
        read once per page, before anything remembered is used)."""
        if self._remembered is None:
            self._remembered = await self.site.view_sizes.now()
        return self._remembered

    # -- the steps ------------------------------------------------------------------------------------------

    def search(self, q: str) -> list[ColumnElement[bool]]:
        return search_conditions(self.admin, q, self.dialect)

    def base(self, filters: Mapping[str, str] | None = None) -> Select[Any]:
        """The view every count, page, bulk "all matching" and export starts from; `filters` replaces the
        query's (a filter's choices are counted without its own value)."""
        chosen = self.query.filter_dict if filters is None else filters
        matching = select(self.admin.model).where(
            *self.search(self.query.q), *list_filters.conditions(self.admin.query_filter_fields, chosen)
        )
        return self.admin.scoped(matching, self.account)

    async def sidebar(self) -> tuple[list[list_filters.ActiveFilter], list[list_filters.Choice]]:
        def without(f: Field) -> Select[Any]:
            names = set(list_filters.param_names(f))
            return self.base({k: v for k, v in self.query.filters if k not in names})

        return await list_filters.sidebar(
            self.session,
            self.admin.filter_fields,
            self.query.filter_dict,
            without,
            self.site.label,
            self.site.scope(self.account),
        )

    def ordering(self) -> tuple[list[OrderPart], list[Any]]:
        return ordering(self.admin, self.query.sort, self.site.related_label_column)

    async def count(
        self,
        base: Select[Any],
        ordered: Select[Any],
        choices: list[list_filters.Choice],
        parts: list[OrderPart],
        *,
        with_page_keys: bool,
    ) -> Count:
        """One statement counts the view's rows (up to the cap) and, over those same rows, its filter choices
        (right whenever the count is exact) and, `with_page_keys`, the numbered page's keys. A view lately found
        over the cap is not counted again until the site's `view_sizes` forget it (once any write through the
        admin has committed, in any worker that shares its Redis; or when its memory expires), so a big table's
        page costs what a small one's does."""
        view, query, remembered = self.view_key, self.query, await self.remembered()
        if remembered.more_than(("rows", *view), COUNT_CAP):
            return Count(COUNT_CAP, exact=False)
        per_page = query.per_page
        if with_page_keys:
            key = ("count+page", COUNT_CAP, *view, query.sort, per_page)
            counting = self.built.get(
                key, lambda: _count_and_page_keys(self.admin, base, ordered, choices, parts, per_page)
            )
            found, *counts, keys_text = (
                await self.session.execute(counting, {OFFSET: (query.page - 1) * per_page})
            ).one()
        else:
            key = ("count", COUNT_CAP, *view)
            counting = self.built.get(key, lambda: list_filters.counts_statement(base, choices, exact=True, total=True))
            found, *counts = (await self.session.execute(counting)).one()
            keys_text = None
        if found > COUNT_CAP:
            self.site.table_sizes.found_more_than(self.admin.model, COUNT_CAP)
            remembered.found_more_than(("rows", *view), COUNT_CAP)
            return Count(COUNT_CAP, exact=False)
        list_filters.set_counts(choices, counts)
        keys = tuple(int(k) for k in keys_text.split(",")) if keys_text else ()
        return Count(found, exact=True, page_keys=keys, choices_counted=True)

    async def estimate(self) -> int | None:
        """The database's own estimate of the table's rows (PostgreSQL's planner statistics, MariaDB's
        information_schema), for "about 1,000,000" without a full COUNT. It only changes when the table is
        analyzed, so it is remembered like a count over the cap."""
        if self.dialect not in {"postgresql", "mysql", "mariadb"}:
            return None
        remembered = await self.remembered()
        key = ("estimate", self.admin.slug)
        if (known := remembered.bound(key)) is not None:
            return known or None
        table = self.admin.model.__table__
        if self.dialect == "postgresql":
            # Quoted as the table was created: to_regclass folds an unquoted name to lower case (InvoiceLine).
            name = ".".join(_quoted(part) for part in (table.schema, table.name) if part)
            estimate = await self.session.scalar(
                text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:t)"), {"t": name}
            )
        else:
            estimate = await self.session.scalar(
                text(
                    "SELECT table_rows FROM information_schema.tables"
                    " WHERE table_schema = COALESCE(:schema, DATABASE()) AND table_name = :t"
                ),
                {"schema": table.schema, "t": table.name},
            )
        estimate = int(estimate) if estimate and estimate > 0 else 0
        remembered.found_more_than(key, estimate)
        return estimate or None

    async def keyset_rows(self, ordered: Select[Any], parts: list[OrderPart], joins: list[Any], total: int) -> Rows:
        """The page after or before a cursor, or the last page: a walk of the ordering's index from the cursor,
        whatever the page's depth."""
        query, per_page = self.query, self.query.per_page
        reverse = bool(query.before or query.last)
        if query.after or query.before:
            cursor = decode_cursor(parts, query.after or query.before)
            ordered = ordered.where(after_cursor(parts, cursor, reverse=bool(query.before)))
        order = order_clauses(parts, reverse=reverse)
        rows = await self.fetch(self._with_rows(ordered.order_by(*order).limit(per_page + 1), order, joins))
        more = len(rows) > per_page
        rows = rows[:per_page]
        if reverse:
            rows.reverse()
        if query.last:
            return Rows(rows, has_next=False, has_prev=total > per_page)
        return Rows(rows, has_next=more if query.after else bool(query.before), has_prev=more if reverse else True)

    async def numbered_rows(
        self, ordered: Select[Any], parts: list[OrderPart], joins: list[Any], page_keys: tuple[Any, ...]
    ) -> Rows:
        """Page `query.page`: by the keys the count found, when it found them (without walking the view again),
        else by OFFSET (the statement built once per view, sort and page size, the offset a parameter)."""
        query, per_page = self.query, self.query.per_page
        if page_keys:
            rows = await self.fetch(
                self.built.get(
                    ("page-by-key", self.admin.slug, query.sort),
                    lambda: self._rows_of(bindparam(PAGE_KEYS, expanding=True), order_clauses(parts), joins),
                ),
                {PAGE_KEYS: list(page_keys)},
            )
        else:

            def numbered() -> Select[Any]:
                order = order_clauses(parts)
                return self._with_rows(
                    ordered.order_by(*order).offset(bindparam(OFFSET)).limit(per_page + 1), order, joins
                )

            statement = self.built.get(("page", *self.view_key, query.sort, per_page), numbered)
            rows = await self.fetch(statement, {OFFSET: (query.page - 1) * per_page})
        return Rows(rows[:per_page], has_next=len(rows) > per_page, has_prev=query.page > 1)

    async def choice_counts(self, base: Select[Any], choices: list[list_filters.Choice], exact: bool) -> None:
        """Each choice's count (capped), but for those lately found over the cap: on a big table those are most,
        and each is a walk of COUNT_CAP index entries."""
        remembered, key = await self.remembered(), [*self.view_key, "choice"]
        pending = []
        for choice in choices:
            if remembered.more_than((*key, choice.param, choice.option.value), COUNT_CAP):
                choice.option.count, choice.option.more = COUNT_CAP, True
            else:
                pending.append(choice)
        if not pending:
            return
        counting = list_filters.counts_statement(base, pending, exact=exact)
        list_filters.set_counts(pending, (await self.session.execute(counting)).one())
        for choice in pending:
            if choice.option.more:
                remembered.found_more_than((*key, choice.param, choice.option.value), COUNT_CAP)

    async def fetch(self, statement: Select[Any], params: dict[str, Any] | None = None) -> list[Any]:
        return list((await self.session.execute(statement, params)).unique().scalars())

    async def related(self, rows: list[Any]) -> None:
        """A list cell names a collection's first records and counts the rest: those are read for the page's rows
        at once, one statement per collection (ModelAdmin.read_related), never every related row."""
        await self.admin.read_related(self.session, rows, Reading.ROW)

    # -- the page -------------------------------------------------------------------------------------------

    async def page(self) -> Page:
        query = self.query
        base = self.built.get(("base", *self.view_key), self.base)
        filters, choices = await self.sidebar()
        parts, joins = self.built.get(("order", self.admin.slug, query.sort), self.ordering)
        keyset = keyset_possible(parts)
        ordered = base
        for join in joins:
            ordered = ordered.outerjoin(join)
        by_cursor = keyset and bool(query.after or query.before or query.last)
        # A searched numbered page picks its keys in its count's statement: a search's matches are costly to find
        # twice (an index of its own, a union over the search fields), while a plain or filtered view walks the
        # ordering's index to its page for less than sorting all its rows would cost.
        # (The keys travel as comma-joined text: a key of one integer column only.)
        with_page_keys = bool(query.q) and not by_cursor and self.admin.key.is_one_integer
        counted = await self.count(base, ordered, choices, parts, with_page_keys=with_page_keys)
        estimate = None
        if not counted.exact and not query.q and not query.filters and not self.admin.is_scoped:
            estimate = await self.estimate()  # the table's, not a view's or a scope's
            # Statistics older than the rows they describe say less than the count found: "N+" is then truer.
            estimate = estimate if estimate and estimate > counted.total else None
        if by_cursor:
            rows = await self.keyset_rows(ordered, parts, joins, counted.total)
        else:
            # A cursor that cannot apply (an ordering with NULLs or related labels) is dropped, and a page past the
            # end of an exactly counted view shows its last page.
            query = replace(query, after="", before="", last=False)
            last_page = max(1, math.ceil(counted.total / query.per_page))
            if counted.exact and query.page > last_page:
                query = replace(query, page=last_page)
            self.query = query
            rows = await self.numbered_rows(ordered, parts, joins, counted.page_keys)
        if choices and not counted.choices_counted:
            await self.choice_counts(base, choices, counted.exact)
        await self.related(rows.rows)
        page = Page(
            rows=rows.rows,
            total=counted.total,
            exact=counted.exact,
            estimate=estimate,
            query=query,
            has_next=rows.has_next,
            has_prev=rows.has_prev,
            keyset=keyset,
            filters=filters,
        )
        if keyset and rows.rows:
            page.next_cursor = encode_cursor(parts, rows.rows[-1])
            page.prev_cursor = encode_cursor(parts, rows.rows[0])
        return page

    # -- reading a page's rows ------------------------------------------------------------------------------

    def _rows_of(self, keys: Any, order: list[Any], joins: list[Any]) -> Select[Any]:
        """The rows with these keys, with their relations, in the page's order."""
        rows = select(self.admin.model)
        for join in joins:
            rows = rows.outerjoin(join)
        rows = rows.where(self.admin.key.expression.in_(keys)).order_by(*order)
        return self.admin.with_relations(rows, self.admin.list_fields, whole=False)

    def _with_rows(self, page: Select[Any], order: list[Any], joins: list[Any]) -> Select[Any]:
        """The page's rows: its keys first (a walk of the ordering; joining each related row before the LIMIT
        would cost a lookup per skipped row), then its own rows. The keys are a derived table: MariaDB refuses a
        LIMIT directly inside IN (...). Rows without a key of their own are read as they are: the columns they are
        mapped on may hold NULLs, which no IN matches."""
        if not self.admin.record_pages:
            return self.admin.with_relations(page, self.admin.list_fields, whole=True)
        keys = page.with_only_columns(*self.admin.key.columns, maintain_column_froms=True).subquery("page_keys")
        return self._rows_of(select(*keys.c), order, joins)


async def count_display(admin: ModelAdmin, session: AsyncSession, current_url: str | None, account: Any) -> str:
    """The list count for the view a htmx request came from (its search and filters; a damaged URL counts the
    plain list), as the page shows it: for a response that changed it."""
    params: dict[str, str] = {}
    if current_url:
        params = {k: v[-1] for k, v in parse_qs(urlsplit(current_url).query).items()}
    try:
        query = ListQuery.parse(admin, params)
    except HTTPException:
        query = ListQuery.parse(admin, {})
    total, exact = await capped_count(session, admin.list_page(session, query, account).base())
    return f"{total:,}" if exact else f"{COUNT_CAP:,}+"


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


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
    (key,) = admin.key.columns
    columns = {id(c): c for c in [key, *(p.expression for p in parts), *needed]}
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
        select(adapt(key).label("key"))
        .order_by(*(adapt(clause) for clause in order_clauses(parts)))
        .offset(bindparam(OFFSET))
        .limit(per_page + 1)
        .subquery()
    )
    keys = select(joined_strings(cast(page.c.key, String), ",")).scalar_subquery()
    return select(func.count(), *list_filters.count_columns(choices, view, rows), keys).select_from(rows)
