"""Forms: posted strings in, typed values or per-field messages out. Only declared fields are ever assigned."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from webapp.admin import links
from webapp.admin.fields import Field, FieldError, RawValue
from webapp.admin.sizes import TableSizes

Posted = Mapping[str, RawValue]
# What a related model's admin lets the signed-in account reach: its `list_query` (AdminSite.scope).
Scope = Callable[[type, Select[Any]], Select[Any]]


def unscoped(model: type, statement: Select[Any]) -> Select[Any]:
    return statement


@dataclass
class BoundForm:
    """A form with what its inputs show, and what was wrong with it."""

    fields: Sequence[Field]
    data: dict[str, RawValue]
    errors: dict[str, str] = field(default_factory=dict)
    form_errors: list[str] = field(default_factory=list)
    choices: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # Relations too big for a select: the chosen keys with their labels; the widget searches the rest.
    lookups: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # Relations linking too many records for chips: a count, a few names and the changes (webapp.admin.links).
    link_panels: dict[str, links.Panel] = field(default_factory=dict)

    @property
    def is_valid(self) -> bool:
        return not self.errors and not self.form_errors

    def value(self, name: str) -> RawValue:
        return self.data.get(name, "")

    def selected(self, name: str) -> set[str]:
        value = self.data.get(name, "")
        return set(value) if isinstance(value, list) else {value}

    def add_error(self, name: str | None, message: str) -> None:
        if name is not None and any(f.name == name for f in self.fields):
            self.errors.setdefault(name, message)
        else:
            self.form_errors.append(message)

    def errors_outside(self, names: Iterable[str]) -> list[str]:
        """Messages for fields not shown (e.g. in a list row), so they still reach the person."""
        shown = set(names)
        outside = [
            f"{f.label}: {self.errors[f.name]}" for f in self.fields if f.name in self.errors and f.name not in shown
        ]
        return self.form_errors + outside


def initial_form(fields: Sequence[Field]) -> BoundForm:
    return BoundForm(fields, {f.name: f.to_input(f.initial) for f in fields})


def instance_form(fields: Sequence[Field], obj: Any) -> BoundForm:
    return BoundForm(fields, {f.name: f.to_input(getattr(obj, f.name)) for f in fields})


def posted_value(posted: Any, name: str) -> RawValue:
    """The value of one field from a form multidict or a plain mapping; repeated keys become a list."""
    if hasattr(posted, "getall"):
        values = [v for v in posted.getall(name) if isinstance(v, str)]
        return values if len(values) != 1 else values[0]
    value = posted[name]
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


async def parse_submission(
    session: AsyncSession,
    fields: Sequence[Field],
    posted: Any,
    *,
    creating: bool,
    scope: Scope = unscoped,
    editing: Any = None,
) -> tuple[BoundForm, dict[str, Any]]:
    """Validate the posted fields; return the bound form and the typed values of the fields that were sent.

    A field that was not posted is left as it is (or takes its default on create); a required field missing
    on create is an error. A field with a server default left blank on create is left to the database.
    Anything posted that is not a declared field is ignored. An edit form may post a collection's changes
    (`<name>__add`, `<name>__remove`) instead of its whole set: they become a `links.Changes`. `editing` is the
    record an edit form changes: a to-one choice posted as that record already has it is not looked up again.
    """
    form = BoundForm(fields, {})
    values: dict[str, Any] = {}
    for f in fields:
        if f.type.many and not creating and f.name not in posted and links.posts_changes(f.name, posted):
            _parse_changes(f, posted, form, values)
            continue
        if f.name not in posted:
            if creating and f.required:
                form.errors[f.name] = "This field is required."
            if creating:
                form.data[f.name] = f.to_input(f.initial)
            continue
        raw = posted_value(posted, f.name)
        form.data[f.name] = [v for v in raw if v != ""] if isinstance(raw, list) else raw
        if creating and f.server_default and (raw if isinstance(raw, str) else "".join(raw)).strip() == "":
            continue  # left out of the INSERT: the database's default fills it in
        try:
            values[f.name] = f.parse(raw)
        except FieldError as exc:
            form.errors[f.name] = str(exc)
    await _resolve_relations(session, form, values, scope, editing)
    return form, values


def _parse_changes(f: Field, posted: Any, form: BoundForm, values: dict[str, Any]) -> None:
    add, remove = (_posted_list(posted, f"{f.name}{suffix}") for suffix in (links.ADD, links.REMOVE))
    form.data[f"{f.name}{links.ADD}"] = [v for v in add if v != ""]
    form.data[f"{f.name}{links.REMOVE}"] = [v for v in remove if v != ""]
    try:
        values[f.name] = links.parse(f, add, remove)
    except FieldError as exc:
        form.errors[f.name] = str(exc)


def _posted_list(posted: Any, name: str) -> list[str]:
    if name not in posted:
        return []
    raw = posted_value(posted, name)
    return raw if isinstance(raw, list) else [raw]


async def _resolve_relations(
    session: AsyncSession, form: BoundForm, values: dict[str, Any], scope: Scope, editing: Any
) -> None:
    """Check that chosen related rows exist within the account's scope; many-to-many values (and the changes
    posted instead of one) become the related objects.

    A to-one choice the record being edited already has is not checked: it is not written (an UPDATE sets only
    changed columns), and the person did not choose it anew. Each save of an edit form that keeps its foreign
    keys saves a statement per key (bench/README.md, "Measured choices"; guarded by
    tests/test_request_costs.py::test_an_unchanged_owner_is_not_looked_up_again)."""
    for f in form.fields:
        if f.name not in values or f.related_model is None or values[f.name] is None:
            continue
        if editing is not None and not f.type.many and values[f.name] == getattr(editing, f.name, None):
            continue
        (pk_column,) = inspect(f.related_model).primary_key
        changes = values[f.name] if isinstance(values[f.name], links.Changes) else None
        if changes is not None:
            wanted = [*changes.add, *changes.remove]
        else:
            wanted = values[f.name] if f.type.many else [values[f.name]]
        if not wanted:
            continue
        if f.type.many:
            chosen = scope(f.related_model, select(f.related_model).where(pk_column.in_(wanted)))
            rows = (await session.execute(chosen)).scalars().all()
            found = {inspect(row).identity[0] for row in rows}
        else:
            chosen = scope(f.related_model, _key_exists(f.related_model))
            found = set((await session.execute(chosen, {"chosen_key": wanted[0]})).scalars())
        missing = [str(key) for key in wanted if key not in found]
        if missing:
            form.errors[f.name] = f"Select a valid choice. {missing[0]} is not one of the available choices."
        elif f.type.many:
            by_key = {inspect(row).identity[0]: row for row in rows}
            if changes is not None:
                values[f.name] = links.resolve(changes, by_key)
            else:
                values[f.name] = [by_key[key] for key in dict.fromkeys(wanted)]


@cache
def _key_exists(model: type) -> Select[Any]:
    """`SELECT key FROM model WHERE key = :chosen_key`, built once per model: every save with a to-one choice
    checks its key, and a statement used again keeps the cache key SQLAlchemy otherwise computes for each new
    one (bench/README.md, "Measured choices"; tests/test_create.py posts a missing key)."""
    (pk_column,) = inspect(model).primary_key
    return select(pk_column).where(pk_column == bindparam("chosen_key"))


def apply_values(obj: Any, fields: Sequence[Field], values: Mapping[str, Any]) -> None:
    for f in fields:
        if f.name not in values:
            continue
        if isinstance(values[f.name], links.Changes):
            links.apply(obj, f.name, values[f.name])
        else:
            setattr(obj, f.name, values[f.name])


SELECT_LIMIT = 100


@dataclass(frozen=True)
class Editing:
    """The record an edit form changes, for the collections it links too many records of (webapp.admin.links):
    its site, and the query of the page (the list of linked records to show)."""

    record: Any
    site: Any
    params: Mapping[str, str] = field(default_factory=dict)


async def load_choices(
    session: AsyncSession,
    form: BoundForm,
    label: Callable[[Any], str],
    sizes: TableSizes,
    names: Iterable[str] | None = None,
    scope: Scope = unscoped,
    editing: Editing | None = None,
) -> None:
    """Options for each relation (the rows the account may reach): a select of every row when there are at
    most SELECT_LIMIT, else an autocomplete that only needs the labels of the chosen rows. At most one query per
    relation; an edit form's collection that links more than links.CHIPS_LIMIT records gets a panel instead,
    in a few."""
    wanted = set(names) if names is not None else None
    for f in form.fields:
        if f.related_model is None or (wanted is not None and f.name not in wanted):
            continue
        if f.type.many and editing is not None and links.posts_changes(f.name, form.data):
            # Changes were posted: shown again as typed, whatever the size the related table is now found at.
            form.link_panels[f.name] = await links.panel(session, f, form, editing, scope)
            continue
        if not sizes.more_than(f.related_model, SELECT_LIMIT):
            choices = scope(f.related_model, _choices_statement(f.related_model))
            rows = (await session.execute(choices)).scalars().all()
            if len(rows) <= SELECT_LIMIT:
                form.choices[f.name] = [(str(inspect(row).identity[0]), label(row)) for row in rows]
                continue
            sizes.found_more_than(f.related_model, SELECT_LIMIT)
        if f.type.many and editing is not None and links.is_long(f, editing.record):
            form.link_panels[f.name] = await links.panel(session, f, form, editing, scope)
            continue
        form.lookups[f.name] = [(str(key), label(row)) for key, row in await _chosen_rows(session, f, form)]


@cache
def _choices_statement(model: type) -> Select[Any]:
    """Every row of a small related table (one more than SELECT_LIMIT tells it is not small), built once."""
    (pk_column,) = inspect(model).primary_key
    return select(model).order_by(pk_column).limit(SELECT_LIMIT + 1)


async def _chosen_rows(session: AsyncSession, f: Field, form: BoundForm) -> list[tuple[Any, Any]]:
    """The rows chosen in a relation field, in key order: from the session when the record being edited
    already loaded them (its owner), else in one query."""
    keys = []
    for raw in sorted(key for key in form.selected(f.name) if key):
        try:
            keys.append(f.parse([raw])[0] if f.type.many else f.parse(raw))
        except FieldError:
            continue
    known = {key: _loaded(session, f.related_model, key) for key in keys}
    missing = [key for key, row in known.items() if row is None]
    if missing:
        (pk_column,) = inspect(f.related_model).primary_key
        for row in (await session.execute(select(f.related_model).where(pk_column.in_(missing)))).scalars():
            known[inspect(row).identity[0]] = row
    return [(key, row) for key, row in known.items() if row is not None]


def _loaded(session: AsyncSession, model: type, key: Any) -> Any:
    """The row from the session if it is there with its values (a rollback expires them: reading one then
    would need a query the async session cannot make implicitly)."""
    row = session.identity_map.get(identity_key(model, key))
    return row if row is not None and not inspect(row).expired_attributes else None
