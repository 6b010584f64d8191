"""The audit log: what changed, in the same transaction as the change; putting deleted rows back, and changed
values back (undo)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.admin import links
from webapp.admin.fields import Field
from webapp.admin.models import AdminLogEntry
from webapp.admin.options import ModelAdmin
from webapp.admin.signed_in import SignedIn

MAX_LABEL = 255


def state_of(admin: ModelAdmin, obj: Any) -> dict[str, Any]:
    """Every shown field of a loaded record as JSON values; relations by their keys."""
    return {field.name: field.to_json(obj) for field in admin.fields.values()}


def collections(admin: ModelAdmin) -> frozenset[str]:
    """The fields whose states are sets of related keys (many-to-many)."""
    return frozenset(name for name, field in admin.fields.items() if field.type.many)


def diff(before: dict[str, Any], after: dict[str, Any], sets: frozenset[str] = frozenset()) -> dict[str, Any]:
    """What changed between two `state_of`s: {name: [before, after]}, and for the collections named in `sets`
    {name: {"added": keys, "removed": keys}}, which stays as small as the change whatever the links it keeps."""
    changes: dict[str, Any] = {}
    for name, value in after.items():
        old = before.get(name)
        if old == value:
            continue
        if name in sets and isinstance(old, list) and isinstance(value, list):
            changes[name] = link_changes(old, value)
        else:
            changes[name] = [old, value]
    return changes


def link_changes(before: list[Any], after: list[Any]) -> dict[str, list[Any]]:
    was, now = set(before), set(after)
    return {"added": [key for key in after if key not in was], "removed": [key for key in before if key not in now]}


def is_link_change(change: Any) -> bool:
    """Whether an entry's change of one field is a collection's {"added", "removed"} (else [before, after])."""
    return isinstance(change, dict) and change.keys() == {"added", "removed"}


def created(state: dict[str, Any]) -> dict[str, list[Any]]:
    """The changes of a record that came into being (added or restored): its fields that hold a value."""
    return {name: [None, value] for name, value in state.items() if value not in (None, [], "")}


def entry(
    admin: ModelAdmin,
    account: SignedIn | None,
    *,
    key: str,
    label: str,
    action: str,
    changes: dict[str, list[Any]] | None = None,
    snapshot: dict[str, Any] | None = None,
    part_of_id: int | None = None,
) -> dict[str, Any]:
    """One audit entry's row, for `write`."""
    return {
        "account_id": account.id if account is not None else None,
        "username": account.username if account is not None else "",
        "model": admin.slug,
        "object_pk": key,
        "object_label": label[:MAX_LABEL],
        "action": action,
        "changes": changes or {},
        "snapshot": snapshot,
        "part_of_id": part_of_id,
    }


# Entries are plain INSERTs in the request's transaction, not ORM objects: an object per entry costs the unit of
# work's flush machinery on every save (bench/README.md, "Measured choices"; the update scenario of `make bench`),
# and nothing reads an entry back in the request that wrote it.
_INSERT = insert(AdminLogEntry.__table__)
_INSERT_RETURNING_ID = _INSERT.returning(AdminLogEntry.__table__.c.id)


async def write(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Insert `entry` rows, all in one statement."""
    if entries:
        await session.execute(_INSERT, entries)


async def log(session: AsyncSession, row: dict[str, Any]) -> int:
    """Write one `entry` row now; its id."""
    return (await session.execute(_INSERT_RETURNING_ID, row)).scalar_one()


_INSERT_RETURNING_IDS = _INSERT.returning(AdminLogEntry.__table__.c.id, sort_by_parameter_order=True)


async def write_returning_ids(session: AsyncSession, entries: list[dict[str, Any]]) -> list[int]:
    """Insert `entry` rows in one statement; their ids, in their order (for the entries that point at them)."""
    if len(entries) == 1:
        return [await log(session, entries[0])]
    return list((await session.execute(_INSERT_RETURNING_IDS, entries)).scalars())


class RestoreRefused(Exception):
    """The row cannot be put back as it was; the message says why, for a person."""


async def rebuild(session: AsyncSession, admin: ModelAdmin, entry: AdminLogEntry) -> Any:
    """A deleted row rebuilt from its snapshot, with its primary key and many-to-many links, not yet added to
    the session (webapp.admin.records inserts it); RestoreRefused when it cannot be put back as it was."""
    if entry.action != "delete" or entry.snapshot is None:
        raise RestoreRefused("Only deleted records can be restored.")
    if entry.restored:
        raise RestoreRefused("This record has been restored already.")
    snapshot = entry.snapshot
    values = admin.key.parse(entry.object_pk)
    if values is None or await session.get(admin.model, values) is not None:
        raise RestoreRefused(f"Cannot restore: another {admin.name} now has the key {entry.object_pk}.")
    obj = admin.model()
    for field in admin.fields.values():
        if field.name not in snapshot or field.computed:
            continue
        value = snapshot[field.name]
        if field.type.many:
            keys = field.from_json(value)
            related_pk = inspect(field.related_model).primary_key[0]
            rows = list((await session.execute(select(field.related_model).where(related_pk.in_(keys)))).scalars())
            if len(rows) != len(keys):
                raise RestoreRefused(f"Cannot restore: a linked {field.label.lower()} record no longer exists.")
            setattr(obj, field.name, rows)
            continue
        if field.is_relation and value is not None:
            related_pk = inspect(field.related_model).primary_key[0]
            if await session.scalar(select(related_pk).where(related_pk == value)) is None:
                raise RestoreRefused(f"Cannot restore: the {field.label.lower()} it belonged to no longer exists.")
        setattr(obj, field.name, field.from_json(value))
    return obj


CHANGED_SINCE = "Cannot undo: the field “{label}” has changed again since."
GONE_LINK = "Cannot undo: a {label} record it unlinked no longer exists."
GONE_RELATED = "Cannot undo: the {label} it had before no longer exists."


async def undoing(
    session: AsyncSession,
    admin: ModelAdmin,
    entry: AdminLogEntry,
    obj: Any,
    scope: Callable[[type, Select[Any]], Select[Any]],
) -> dict[str, Any]:
    """The values that undo an update entry's changes to `obj` (loaded as a form reads it), for
    `RecordService.update`: each field as it was before, a collection's links back as they were (the records it
    unlinked linked again, those it linked unlinked). RestoreRefused when a field has changed again since, or a
    record to link again no longer exists within the account's scope: an undo never overwrites a later change."""
    editable = {field.name for field in admin.editable_fields}
    values: dict[str, Any] = {}
    for name, change in entry.changes.items():
        field = admin.fields.get(name)
        if field is not None and field.computed:
            continue  # it follows the fields it is worked out from
        if field is None or name not in editable:
            raise RestoreRefused(f"Cannot undo: {name.replace('_', ' ')} is not edited here any more.")
        now = field.to_json(obj)
        label = field.label
        if is_link_change(change):
            linked = set(now)
            if not set(change["added"]) <= linked or linked & set(change["removed"]):
                raise RestoreRefused(CHANGED_SINCE.format(label=label))
            added = set(field.from_json(change["added"]))
            relinked = await _existing(session, field, field.from_json(change["removed"]), scope, GONE_LINK)
            unlinked = tuple(row for row in getattr(obj, name) if inspect(row).identity[0] in added)
            values[name] = links.Changes(add=tuple(relinked), remove=unlinked)
            continue
        before, after = change
        if now != after:
            raise RestoreRefused(CHANGED_SINCE.format(label=label))
        if field.type.many:
            values[name] = await _existing(session, field, field.from_json(before or []), scope, GONE_LINK)
            continue
        if field.is_relation and before is not None:
            await _existing(session, field, [field.from_json(before)], scope, GONE_RELATED)
        values[name] = field.from_json(before)
    return values


async def _existing(
    session: AsyncSession,
    field: Field,
    keys: list[Any],
    scope: Callable[[type, Select[Any]], Select[Any]],
    gone: str,
) -> list[Any]:
    """The related records with these keys, in their order; RestoreRefused(`gone`) when one no longer exists
    (or is out of the account's reach)."""
    if not keys:
        return []
    model = field.related_model
    (pk_column,) = inspect(model).primary_key
    rows = {
        inspect(row).identity[0]: row
        for row in (await session.execute(scope(model, select(model).where(pk_column.in_(keys))))).scalars()
    }
    if any(key not in rows for key in keys):
        raise RestoreRefused(gone.format(label=field.label.lower()))
    return [rows[key] for key in keys]
