"""Collections too long to draw whole: an edit form names a few of a record's linked records and posts changes.

A collection (a many-to-many field) whose related table is too big for a select is drawn as chips with an
autocomplete: a chip, and a posted field, for each linked record. Past CHIPS_LIMIT linked records that is a page
of chips nobody reads, and a post that the form limit refuses (webapp.admin.limits). Such a field is drawn as a
panel instead (`Panel`): how many records are linked and the first few by name; the autocomplete, whose picks post
`<name>__add`; and a searchable, paged list of the linked records, whose ticked boxes post `<name>__remove`.

The list is searched and paged by a GET form of its own, outside the record's form (its inputs join it with the
`form` attribute): without JavaScript it reloads the edit page with `<name>__q` and `<name>__page` in the query,
and with htmx it swaps in the list's fragment (`GET /{model}/{pk}/links/{name}`, the same parameters).

A form that posts the field itself (`<name>`) still replaces the whole set, as below the limit; one that posts
only changes leaves every link it does not name as it is (`Changes`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import with_parent

from webapp.admin.fields import Field, FieldError
from webapp.admin.listing import search_conditions, search_text

if TYPE_CHECKING:
    from webapp.admin.forms import BoundForm, Editing

# Linked records an edit form draws as chips (and posts whole); above it, their count and a few names.
CHIPS_LIMIT = 40
# Linked records named in the panel's summary, and listed on one page of the list to remove from.
NAMED = 5
PAGE = 20
MAX_PAGE = 10_000
# Posted and query field suffixes: `tags__add`, `tags__remove`, `tags__q`, `tags__page`.
ADD = "__add"
REMOVE = "__remove"
QUERY = "__q"
PAGE_PARAM = "__page"

_DOM_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,99}")
_PAGE = re.compile(r"[0-9]{1,5}")


@dataclass(frozen=True)
class Changes:
    """A collection's posted changes: the related records to link and to unlink (keys as parsed, then the
    records once `resolve` found them)."""

    add: tuple[Any, ...]
    remove: tuple[Any, ...]


@dataclass(frozen=True)
class LinkedPage:
    """One page of a record's linked records (key text, label), searched by `query`."""

    items: list[tuple[str, str]]
    query: str
    page: int
    has_more: bool

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE


@dataclass(frozen=True)
class Panel:
    """What an edit form shows of a long collection, and the changes typed into it so far."""

    total: int
    named: list[str]
    adding: list[tuple[str, str]]
    removing: list[tuple[str, str]]
    linked: LinkedPage
    url: str  # the list's fragment
    edit_url: str  # the edit page, where the list's GET form leads without JavaScript
    related_plural: str


def posts_changes(name: str, posted: Any) -> bool:
    """Whether a form (posted, or as bound) carries changes to collection `name` rather than its whole set."""
    return f"{name}{ADD}" in posted or f"{name}{REMOVE}" in posted


def parse(field: Field, add: list[str], remove: list[str]) -> Changes:
    """The posted keys to add and remove, typed (FieldError for a malformed one); a key asked both ways is an
    error rather than a guess."""
    adding = dict.fromkeys(field.parse(add))
    removing = dict.fromkeys(field.parse(remove))
    both = [key for key in adding if key in removing]
    if both:
        raise FieldError(f"{both[0]} is both added and removed; choose one.")
    return Changes(tuple(adding), tuple(removing))


def resolve(changes: Changes, by_key: Mapping[Any, Any]) -> Changes:
    """The changes with the related records in place of their keys (every key is in `by_key`)."""
    return Changes(tuple(by_key[key] for key in changes.add), tuple(by_key[key] for key in changes.remove))


def apply(obj: Any, name: str, changes: Changes) -> None:
    """Link `changes.add` to `obj` and unlink `changes.remove`, leaving its other links as they are; the new
    list is assigned whole, and SQLAlchemy writes only the link rows that differ."""
    if not changes.add and not changes.remove:
        return
    removing = {_identity(row) for row in changes.remove}
    kept = [row for row in getattr(obj, name) if _identity(row) not in removing]
    present = {_identity(row) for row in kept}
    added = [row for row in changes.add if _identity(row) not in present]
    setattr(obj, name, kept + added)


def is_long(field: Field, record: Any) -> bool:
    """Whether the edit form of `record` draws collection `field` (loaded) as a panel rather than chips."""
    return len(getattr(record, field.name)) > CHIPS_LIMIT


def page_number(raw: str | None) -> int:
    """The list's page asked for, or the first for anything else (not a number, too far)."""
    return int(raw) if raw and _PAGE.fullmatch(raw) and 0 < int(raw) <= MAX_PAGE else 1


def dom_id(raw: str | None, default: str) -> str:
    """The widget's HTML id a fragment request names, if it is one (it is written into the fragment)."""
    return raw if raw and _DOM_ID.fullmatch(raw) else default


Scope = Callable[[type, Select[Any]], Select[Any]]


async def panel(session: AsyncSession, field: Field, form: BoundForm, editing: Editing, scope: Scope) -> Panel:
    """The panel of collection `field` of the record being edited (its collection loaded whole, as a form reads
    it), with the changes `form` holds and the page of the list the edit page's query asks for."""
    site, record, name = editing.site, editing.record, field.name
    collection = getattr(record, name)
    return Panel(
        total=len(collection),
        named=[site.label(row) for row in collection[:NAMED]],
        adding=await _labelled(session, site, field, form.data.get(f"{name}{ADD}"), scope),
        removing=await _labelled(session, site, field, form.data.get(f"{name}{REMOVE}"), scope),
        linked=await linked_page(session, site, field, record, editing.params, scope),
        **_urls(site, field, record),
    )


async def list_panel(
    session: AsyncSession, site: Any, field: Field, record: Any, params: Mapping[str, str], scope: Scope
) -> Panel:
    """The panel's list alone, for its fragment: the record's collection is counted, not read."""
    relationship = inspect(type(record)).relationships[field.relationship]
    counting = select(func.count()).select_from(field.related_model).where(with_parent(record, relationship))
    return Panel(
        total=await session.scalar(counting) or 0,
        named=[],
        adding=[],
        removing=[],
        linked=await linked_page(session, site, field, record, params, scope),
        **_urls(site, field, record),
    )


def _urls(site: Any, field: Field, record: Any) -> dict[str, str]:
    owner, related = site.admin_for(type(record)), site.admin_for(field.related_model)
    key = owner.key_of(record)
    return {
        "url": owner.url(key, f"links/{field.name}"),
        "edit_url": owner.url(key, "edit"),
        "related_plural": related.name_plural if related is not None else field.label.lower(),
    }


async def linked_page(
    session: AsyncSession, site: Any, field: Field, record: Any, params: Mapping[str, str], scope: Scope
) -> LinkedPage:
    """The page `params` asks for (`<name>__q`, `<name>__page`) of the records `record` links in `field` that the
    account may reach, matching the query as the related model's list search does, in the relation's order
    (else by name)."""
    model = field.related_model
    assert model is not None and field.relationship is not None
    relationship = inspect(type(record)).relationships[field.relationship]
    statement = select(model).where(with_parent(record, relationship))
    related = site.admin_for(model)
    query = search_text(params.get(f"{field.name}{QUERY}") or "")
    page = page_number(params.get(f"{field.name}{PAGE_PARAM}"))
    if query and related is not None:
        dialect = session.get_bind(mapper=inspect(model)).dialect.name
        statement = statement.where(*search_conditions(related, query, dialect))
    order = list(relationship.order_by or ()) or ([related.label_column] if related is not None else [])
    statement = scope(model, statement).order_by(*order, *inspect(model).primary_key)
    rows = list((await session.execute(statement.offset((page - 1) * PAGE).limit(PAGE + 1))).scalars())
    items = [(_key_text(row), site.label(row)) for row in rows[:PAGE]]
    return LinkedPage(items, query, page, len(rows) > PAGE)


async def _labelled(session: AsyncSession, site: Any, field: Field, raw: Any, scope: Scope) -> list[tuple[str, str]]:
    """(key text, label) of the related records among the posted keys `raw`, in the order posted; keys that
    are malformed or name no record the account may reach are left out (the field's message names one)."""
    keys = list(dict.fromkeys(_parsed(field, raw if isinstance(raw, list) else [raw] if raw else [])))
    if not keys:
        return []
    model = field.related_model
    (pk_column,) = inspect(model).primary_key
    rows = (await session.execute(scope(model, select(model).where(pk_column.in_(keys))))).scalars()
    by_key = {_identity(row): row for row in rows}
    return [(_key_text(by_key[key]), site.label(by_key[key])) for key in keys if key in by_key]


def _parsed(field: Field, raw: Iterable[str]) -> Iterable[Any]:
    for text in raw:
        try:
            yield from field.parse([text])
        except FieldError:
            continue


def _identity(row: Any) -> Any:
    return inspect(row).identity[0]


def _key_text(row: Any) -> str:
    return str(_identity(row))
