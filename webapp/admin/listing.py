"""The list view's query: search, sort and page parameters, checked before they reach SQL."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from advanced_alchemy.filters import LimitOffset
from litestar.exceptions import HTTPException
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.admin.options import PER_PAGE_CHOICES, ModelAdmin

MAX_PER_PAGE = max(PER_PAGE_CHOICES)
MAX_SEARCH_LENGTH = 200


class BadListQuery(HTTPException):
    status_code = 400


@dataclass(frozen=True)
class ListQuery:
    page: int
    per_page: int
    sort: str
    q: str

    @classmethod
    def parse(cls, admin: ModelAdmin, params: Mapping[str, str]) -> ListQuery:
        page = _positive_int(params.get("page"), "page", default=1)
        per_page = min(_positive_int(params.get("per_page"), "per_page", default=admin.per_page), MAX_PER_PAGE)
        sort = (params.get("sort") or "").strip()
        if sort and sort.lstrip("-") not in admin.sortable:
            allowed = ", ".join(sorted(admin.sortable))
            raise BadListQuery(detail=f"Cannot sort by “{sort}”. Sort by one of: {allowed} (prefix - for descending).")
        # Control characters (NUL above all: PostgreSQL refuses it in text) cannot be typed into a search box.
        q = "".join(ch for ch in (params.get("q") or "") if ch.isprintable()).strip()[:MAX_SEARCH_LENGTH]
        return cls(page=page, per_page=per_page, sort=sort, q=q)

    def url(self, **changes: Any) -> str:
        """The query string for this view with some parameters changed (empty ones dropped)."""
        values = {"q": self.q, "sort": self.sort, "per_page": self.per_page, "page": self.page} | changes
        return "?" + urlencode({k: v for k, v in values.items() if v not in ("", None)})

    def sort_url(self, name: str) -> str:
        return self.url(sort=f"-{name}" if self.sort == name else name, page=1)

    def sort_state(self, name: str) -> str:
        if self.sort == name:
            return "ascending"
        if self.sort == f"-{name}":
            return "descending"
        return "none"


def _positive_int(raw: str | None, name: str, *, default: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    if not raw.strip().isdigit() or len(raw.strip()) > 9:
        raise BadListQuery(detail=f"“{name}” must be a whole number of at least 1.")
    return max(1, int(raw))


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_conditions(admin: ModelAdmin, q: str) -> list[ColumnElement[bool]]:
    if not q or not admin.search_columns:
        return []
    pattern = f"%{_escape_like(q)}%"
    return [or_(*(f.column.ilike(pattern, escape="\\") for f in admin.search_columns if f.column is not None))]


def order_by(admin: ModelAdmin, sort: str) -> list[ColumnElement[Any]]:
    """Requested column first, then the default ordering, then the primary key so pages never overlap."""
    names = [sort] if sort else []
    names += [n for n in admin.default_ordering if n.lstrip("-") != sort.lstrip("-")]
    clauses: list[ColumnElement[Any]] = []
    for name in names:
        column = getattr(admin.model, name.lstrip("-"))
        clauses.append(column.desc() if name.startswith("-") else column.asc())
    if admin.pk_name not in {n.lstrip("-") for n in names}:
        # Ties break by key in the direction of the last ordering, so "-created_at" lists newest first.
        pk = getattr(admin.model, admin.pk_name)
        clauses.append(pk.desc() if names and names[-1].startswith("-") else pk.asc())
    return clauses


@dataclass
class Page:
    rows: list[Any]
    total: int
    query: ListQuery

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.query.per_page))

    @property
    def first_index(self) -> int:
        return 0 if not self.total else (self.query.page - 1) * self.query.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.query.page * self.query.per_page)

    def page_links(self) -> list[int | None]:
        """Page numbers to link, with None for a gap: 1 … 4 5 [6] 7 8 … 20."""
        current, last = self.query.page, self.pages
        wanted = {1, last, *range(max(1, current - 2), min(last, current + 2) + 1)}
        links: list[int | None] = []
        for number in sorted(wanted):
            if links and links[-1] is not None and number - links[-1] > 1:
                links.append(None)
            links.append(number)
        return links


async def count(admin: ModelAdmin, session: AsyncSession, q: str = "") -> int:
    return await admin.service(session).count(*search_conditions(admin, q))


async def fetch_page(admin: ModelAdmin, session: AsyncSession, query: ListQuery) -> Page:
    service = admin.service(session)
    conditions = search_conditions(admin, query.q)
    total = await service.count(*conditions)
    last_page = max(1, math.ceil(total / query.per_page))
    if query.page > last_page:
        query = ListQuery(page=last_page, per_page=query.per_page, sort=query.sort, q=query.q)
    statement = select(admin.model).order_by(*order_by(admin, query.sort))
    rows = await service.get_many(
        *conditions,
        LimitOffset(limit=query.per_page, offset=(query.page - 1) * query.per_page),
        statement=statement,
        load=admin.relation_loaders(admin.list_fields),
    )
    return Page(rows=list(rows), total=total, query=query)
