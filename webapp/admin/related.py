"""A detail page's related sections: the records each to-many relation links to (a user's items, an item's
tags), a page at a time.

Each to-many relation to a model with record pages has a section of its own, whose page is named by query
parameters of its own (`?tags_page=2&tags_after=...`), so its Next and Previous links work without JavaScript,
keep the other sections where they are, and with htmx swap only that section (`admin:related`). Any relation
pages the same way: through a link table, by a key of several columns, with a join condition of its own, or
to records whose list has no filter for it.

A section reads its records in the relation's order (its `order_by`, else the related admin's `ordering`),
then by key. Pages after the first walk that order from a cursor, as the list page's Next and Previous do, so
a deep page costs what the first does; an order a cursor cannot follow (a nullable column) pages by
number. Each page is one statement: its rows, with their capped count beside them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from sqlalchemy import ColumnElement, Select, func, inspect, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import RelationshipProperty, with_parent
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from webapp.admin.listing import (
    COUNT_CAP,
    BadListQuery,
    OrderPart,
    after_cursor,
    capped_count,
    decode_cursor,
    encode_cursor,
    keyset_possible,
    order_clauses,
    ordering_by,
    positive_int,
)
from webapp.admin.types.base import truncated

if TYPE_CHECKING:
    from webapp.admin.options import ModelAdmin

RELATED_ROWS = 20


@dataclass(frozen=True)
class Relation:
    """One to-many relation as the detail pages of its model show it; worked out once per admin."""

    name: str  # the relationship's key: the section's id, its query parameters' prefix, its fragment's URL
    label: str
    admin: ModelAdmin  # the related records' admin
    attribute: Any  # the relationship's class attribute
    parts: tuple[OrderPart, ...]
    keyset: bool  # whether its order can be walked from a cursor (else pages go by number)
    # The related list's filter that lists the same records (`?owner_id=3`), and the attribute of this record
    # that gives its value; None when the list has none (a link table, a key of several columns).
    filter_name: str | None = None
    filter_source: str | None = None

    @property
    def page_param(self) -> str:
        return f"{self.name}_page"

    @property
    def after_param(self) -> str:
        return f"{self.name}_after"

    @property
    def before_param(self) -> str:
        return f"{self.name}_before"

    @property
    def params(self) -> tuple[str, str, str]:
        return (self.page_param, self.after_param, self.before_param)


def relations_of(admin: ModelAdmin) -> list[Relation]:
    """The to-many relations of `admin`'s model whose records its site shows on pages of their own."""
    site = admin.site
    if site is None:
        return []
    out = []
    for rel in inspect(admin.model).relationships:
        child = site.admin_for(rel.mapper.class_)
        if not rel.uselist or child is None or not child.record_pages:
            continue
        names = _order_names(child, rel) or child.default_ordering
        parts, _joins = ordering_by(child, list(names), lambda _field: None)
        filter_name, filter_source = _list_filter(admin, child, rel)
        out.append(
            Relation(
                name=rel.key,
                label=admin.labels.get(rel.key) or rel.key.replace("_", " "),
                admin=child,
                attribute=getattr(admin.model, rel.key),
                parts=tuple(parts),
                keyset=keyset_possible(parts),
                filter_name=filter_name,
                filter_source=filter_source,
            )
        )
    return out


def _order_names(child: ModelAdmin, rel: RelationshipProperty[Any]) -> list[str]:
    """The relation's `order_by` as the related admin's field names ("-name" descending); empty when it has
    none, or orders by anything but the related records' own columns (a link table's, an expression)."""
    by_column = {id(f.column): f.name for f in child.fields.values() if f.column is not None}
    names = []
    for clause in rel.order_by or ():
        descending = False
        if isinstance(clause, UnaryExpression) and clause.modifier in (operators.desc_op, operators.asc_op):
            descending = clause.modifier is operators.desc_op
            clause = clause.element
        name = by_column.get(id(clause))
        if name is None:
            return []
        names.append(f"-{name}" if descending else name)
    return names


def _list_filter(admin: ModelAdmin, child: ModelAdmin, rel: RelationshipProperty[Any]) -> tuple[str | None, str | None]:
    if rel.secondary is not None or len(rel.remote_side) != 1 or len(rel.local_columns) != 1:
        return None, None
    (remote,), (local,) = rel.remote_side, rel.local_columns
    found = next((f for f in child.query_filter_fields if f.column is remote), None)
    if found is None:
        return None, None
    return found.name, inspect(admin.model).get_property_by_column(local).key


# -- a section's page ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SectionQuery:
    """Which page of one section a URL asks for: by number, or after or before a cursor (carrying its number)."""

    page: int = 1
    after: str = ""
    before: str = ""

    @classmethod
    def parse(cls, relation: Relation, params: Mapping[str, str]) -> SectionQuery:
        """The section's page from the URL's parameters; a 400 naming the parameter when one is damaged."""
        page = positive_int(params.get(relation.page_param), relation.page_param, default=1)
        after, before = params.get(relation.after_param) or "", params.get(relation.before_param) or ""
        if after and before:
            raise BadListQuery(
                detail=f"A page of {relation.label} comes after one link or before another, not both: "
                f"drop “{relation.after_param}” or “{relation.before_param}”."
            )
        if not relation.keyset:
            # An order with NULLs has no cursor to follow: its pages go by number alone.
            return cls(page=page)
        if after:
            page = max(page, 2)
        return cls(page=page, after=after, before=before)


@dataclass
class Link:
    href: str  # the whole detail page, every section where it is but this one
    fragment: str  # this section alone, for htmx


@dataclass
class Section:
    """One page of a relation's records, and the links to the pages beside it."""

    relation: Relation
    rows: list[Any]
    total: int
    exact: bool
    page: int
    has_prev: bool
    has_next: bool
    page_url: str  # the record's detail page
    others: dict[str, str] = field(default_factory=dict)  # the other sections' parameters, kept by every link
    list_url: str = ""  # the related list filtered to this record's records, when it has such a filter
    next_cursor: str = ""
    prev_cursor: str = ""

    @property
    def name(self) -> str:
        return self.relation.name

    @property
    def label(self) -> str:
        return self.relation.label

    @property
    def admin(self) -> ModelAdmin:
        return self.relation.admin

    @property
    def entries(self) -> list[tuple[str, str]]:
        """Each record's page and its label, cut short as a list cell's text is."""
        admin = self.relation.admin
        return [(admin.url(admin.key_of(row)), truncated(admin.site.label(row))) for row in self.rows]

    @property
    def total_display(self) -> str:
        return f"{self.total:,}" if self.exact else f"{COUNT_CAP:,}+"

    @property
    def pages(self) -> int | None:
        return max(1, -(-self.total // RELATED_ROWS)) if self.exact else None

    @property
    def page_display(self) -> str:
        pages = self.pages
        return f"Page {self.page:,}" + (f" of {pages:,}" if pages and self.page <= pages else "")

    @property
    def more(self) -> bool:
        return self.total > len(self.rows)

    def _link(self, own: dict[str, str]) -> Link:
        page = {**self.others, **own}
        return Link(
            href=self.page_url + (f"?{urlencode(page)}" if page else ""),
            fragment=f"{self.page_url}/related/{self.name}" + (f"?{urlencode(own)}" if own else ""),
        )

    @property
    def first(self) -> Link:
        return self._link({})

    @property
    def previous(self) -> Link:
        if self.page <= 2:
            return self.first
        relation = self.relation
        if self.prev_cursor:
            return self._link({relation.page_param: str(self.page - 1), relation.before_param: self.prev_cursor})
        return self._link({relation.page_param: str(self.page - 1)})

    @property
    def next(self) -> Link:
        relation = self.relation
        if self.next_cursor:
            return self._link({relation.page_param: str(self.page + 1), relation.after_param: self.next_cursor})
        return self._link({relation.page_param: str(self.page + 1)})


def shown_relations(admin: Any, account: Any) -> list[Relation]:
    """The relations of `admin` whose sections `account` sees: those to models it may view."""
    return [relation for relation in admin.relations.values() if relation.admin.permits(account, "view")]


def section_params(relations: list[Relation], params: Mapping[str, str]) -> dict[str, str]:
    """The sections' own parameters among a URL's (what a link to one section's page keeps of the others')."""
    names = {name for relation in relations for name in relation.params}
    return {name: value for name, value in params.items() if name in names and value}


def params_of_url(url: str | None) -> dict[str, str]:
    """A URL's query parameters (the page an htmx request came from: `HX-Current-URL`)."""
    return dict(parse_qsl(urlsplit(url).query)) if url else {}


async def read_section(
    session: AsyncSession,
    relation: Relation,
    parent: Any,
    query: SectionQuery,
    account: Any,
    *,
    page_url: str,
    others: dict[str, str],
) -> Section:
    """The page `query` names of the records `parent` links to through `relation`, as `account` may reach them."""
    child = relation.admin
    matching = child.scoped(select(child.model).where(with_parent(parent, relation.attribute)), account)
    rows, total, more = await _read(session, relation, matching, query)
    page, reverse = query.page, bool(query.before)
    if not rows and (query.page > 1 or query.after or query.before):
        # Records gone since the link was drawn: the last page there is now, or the first when uncounted.
        counted, exact = await capped_count(session, matching)
        page = max(1, -(-counted // RELATED_ROWS)) if exact else 1
        query, reverse = SectionQuery(page=page), False
        if counted:
            rows, total, more = await _read(session, relation, matching, query)
    if reverse:
        rows.reverse()
    if query.after:
        has_prev, has_next = True, more
    elif query.before:
        has_prev, has_next = more, True
        page = page if more else 1
    else:
        has_prev, has_next = page > 1, more
    section = Section(
        relation=relation,
        rows=rows,
        total=min(total, COUNT_CAP),
        exact=total <= COUNT_CAP,
        page=page,
        has_prev=has_prev,
        has_next=has_next,
        page_url=page_url,
        others={name: value for name, value in others.items() if name not in relation.params},
    )
    if relation.keyset and rows:
        section.next_cursor = encode_cursor(list(relation.parts), rows[-1])
        section.prev_cursor = encode_cursor(list(relation.parts), rows[0])
    if relation.filter_name and relation.filter_source:
        value = getattr(parent, relation.filter_source)
        section.list_url = f"{child.list_url}?{urlencode({relation.filter_name: str(value)})}"
    return section


async def _read(
    session: AsyncSession, relation: Relation, matching: Select[Any], query: SectionQuery
) -> tuple[list[Any], int, bool]:
    """One statement: a page of rows (one more, to know whether there is a next), each with the capped count
    of them all (0 when the page is empty: the caller counts then)."""
    parts = list(relation.parts)
    capped = (
        matching.with_only_columns(literal(1), maintain_column_froms=True)
        .order_by(None)
        .limit(COUNT_CAP + 1)
        .subquery("related_rows")
    )
    counted = select(func.count()).select_from(capped).scalar_subquery()
    statement = matching.add_columns(counted.label("related_total"))
    cursor = query.after or query.before
    if cursor:
        try:
            values = decode_cursor(parts, cursor)
        except BadListQuery:
            raise BadListQuery(
                detail=f"This link to a page of {relation.label} is out of date or damaged; "
                f"go back to the first page of {relation.label}."
            ) from None
        condition: ColumnElement[bool] = after_cursor(parts, values, reverse=bool(query.before))
        statement = statement.where(condition).order_by(*order_clauses(parts, reverse=bool(query.before)))
    else:
        statement = statement.order_by(*order_clauses(parts)).offset((query.page - 1) * RELATED_ROWS)
    found = (await session.execute(statement.limit(RELATED_ROWS + 1))).all()
    rows = [row[0] for row in found]
    total = found[0][1] if found else 0
    return rows[:RELATED_ROWS], total, len(rows) > RELATED_ROWS
