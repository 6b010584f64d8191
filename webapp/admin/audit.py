"""The audit log: what changed, in the same transaction as the change, and putting deleted rows back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

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
