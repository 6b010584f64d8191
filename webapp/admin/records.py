"""The record service: the one place that reads a record for a person and writes it.

Handlers parse what was posted, call the service, and render its `Result`. The service applies the model's
scope (`ModelAdmin.list_query`) and per-object permission (`ModelAdmin.can`), checks the version an edit form
carries, runs the model's hooks with the request's session inside the request's one transaction, turns a
constraint violation into a message on its field, and writes the audit entry in the same transaction.

A hook refuses a write by raising `Refused(message, field=...)`: the write and everything the hook did are
rolled back, and the message is shown next to the field (or above the form).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from advanced_alchemy.exceptions import RepositoryError
from litestar.exceptions import NotFoundException, PermissionDeniedException
from sqlalchemy import Select, exists, insert, inspect, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from webapp.admin import audit, cascade
from webapp.admin.forms import apply_values
from webapp.admin.integrity import explain
from webapp.admin.models import AdminLogEntry
from webapp.admin.samples import Reading
from webapp.admin.signed_in import SignedIn

if TYPE_CHECKING:
    from webapp.admin.options import ModelAdmin

log = logging.getLogger(__name__)

IN_USE = "The {name} “{label}” cannot be deleted: other records still refer to it."
RESTORE_REFUSED = "Cannot restore this {name}: the database refused it."


class Refused(Exception):
    """Raised by a hook to refuse a write, with a message for a person, shown next to `field` when given."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Outcome(enum.Enum):
    SAVED = "saved"
    UNCHANGED = "unchanged"  # an edit that changed nothing: nothing written, no audit entry
    CONFLICT = "conflict"  # someone saved the record after this form was opened
    REFUSED = "refused"  # a hook or the database said no; `Result.refusal` says why


@dataclass(frozen=True)
class Refusal:
    message: str
    field: str | None = None


@dataclass
class Result:
    outcome: Outcome
    obj: Any = None
    label: str = ""
    changes: dict[str, list[Any]] = field(default_factory=dict)
    refusal: Refusal | None = None
    entry_id: int | None = None  # the audit entry of a delete (what Undo restores)

    @property
    def ok(self) -> bool:
        return self.outcome in {Outcome.SAVED, Outcome.UNCHANGED}


@dataclass(frozen=True)
class WriteContext:
    """What a hook is given: the request's session (in its transaction), who is writing, and what."""

    session: AsyncSession
    account: SignedIn | None
    action: str  # "create", "update", "password", "delete" or "restore"


class RecordService:
    """Reads and writes one model's records for one signed-in account, in one request's session."""

    def __init__(self, admin: ModelAdmin, session: AsyncSession, account: SignedIn | None) -> None:
        self.admin = admin
        self.session = session
        self.account = account

    def _context(self, action: str) -> WriteContext:
        return WriteContext(self.session, self.account, action)

    def _label(self, obj: Any) -> str:
        return self.admin.site.label(obj)

    # -- reading ------------------------------------------------------------------------------------------

    async def get(self, key: str, *, action: str = "view", reading: Reading = Reading.ROW) -> Any:
        """The record with this key's text that this account may reach, with the relations `reading` shows
        (its list row, its page or its form): 404 when there is none or it is outside the account's scope, 403
        when `ModelAdmin.can` refuses `action` on it."""
        obj = await self.find(key, action=action, reading=reading)
        if obj is None:
            raise NotFoundException(f"There is no {self.admin.name} with the key “{key}”.")
        return obj

    async def find(self, key: str, *, action: str = "view", reading: Reading = Reading.ROW) -> Any:
        """`get`, but None rather than 404 when there is no such record within the account's scope."""
        admin = self.admin
        values = admin.key.parse(key)
        obj = None if values is None else await self._load(values, reading=reading, scoped=True)
        if obj is not None and not admin.can(self.account, action, obj):
            raise PermissionDeniedException(f"You may not {action} this {admin.name}.")
        return obj

    async def _load(self, values: tuple[Any, ...], *, reading: Reading, scoped: bool) -> Any:
        statement = self.admin.one_row_statements[reading]
        if scoped:
            statement = self.admin.scoped(statement, self.account)
        result = await self.session.execute(
            statement, self.admin.key.bound(values), execution_options={"populate_existing": True}
        )
        obj = result.unique().scalar_one_or_none()
        if obj is not None:
            await self.admin.read_related(self.session, [obj], reading)
        return obj

    async def reachable(self, values: tuple[Any, ...]) -> bool:
        """Whether the record with this key exists within the account's scope (without loading it)."""
        key = self.admin.key
        statement = self.admin.scoped(select(*key.columns).where(key.equals(values)), self.account)
        return bool(await self.session.scalar(select(exists(statement))))

    def scoped(self, statement: Select[Any]) -> Select[Any]:
        return self.admin.scoped(statement, self.account)

    # -- writing ------------------------------------------------------------------------------------------

    async def create(self, obj: Any) -> Result:
        """Insert a new record (its values already assigned) with its audit entry."""
        admin = self.admin
        context = self._context("create")
        try:
            await admin.before_create(context, obj)
            await admin.service(self.session).create(obj)
        except Refused as refused:
            return await self._refused(refused)
        except (RepositoryError, SQLAlchemyError) as exc:
            return await self._violation(exc)
        values = admin.key.values_of(obj)
        obj = await self._load(values, reading=Reading.FORM, scoped=False)
        label = self._label(obj)
        changes = audit.created(audit.state_of(admin, obj))
        await audit.log(
            self.session,
            audit.entry(admin, self.account, key=admin.key.text(values), label=label, action="create", changes=changes),
        )
        try:
            await admin.after_create(context, obj)
        except Refused as refused:
            return await self._refused(refused)
        return Result(Outcome.SAVED, obj, label, changes)

    async def update(self, obj: Any, values: Mapping[str, Any], *, version: str | None = None) -> Result:
        """Assign the parsed `values` and write them, unless the record changed since `version` was read."""
        admin = self.admin
        if version is not None and version != admin.version_token(obj):
            return Result(Outcome.CONFLICT, obj)
        before = audit.state_of(admin, obj)
        apply_values(obj, admin.editable_fields, values)
        sets = audit.collections(admin)
        changes = audit.diff(before, audit.state_of(admin, obj), sets)
        if sets & changes.keys():
            _count_version(obj)
        return await self._write_changes(obj, changes, "update")

    async def set_password(self, obj: Any, password: str) -> Result:
        """Assign a new password (hashed by its column type); the audit entry never holds it."""
        setattr(obj, self.admin.password_field or "", password)
        return await self._write_changes(obj, {"password": ["(hidden)", "(changed)"]}, "password")

    async def _write_changes(self, obj: Any, changes: dict[str, list[Any]], action: str) -> Result:
        admin = self.admin
        context = self._context(action)
        key, label = admin.key_of(obj), self._label(obj)
        try:
            await admin.before_update(context, obj, changes)
            label = self._label(obj)
            # The record was loaded and changed in this session: a flush writes it. (advanced-alchemy's update
            # would read it once more only to copy its attributes onto itself.)
            await self.session.flush()
        except Refused as refused:
            return await self._refused(refused)
        except StaleDataError:
            await self.session.rollback()
            return Result(Outcome.CONFLICT, obj)
        except (RepositoryError, SQLAlchemyError) as exc:
            if isinstance(exc.__cause__, StaleDataError):
                await self.session.rollback()
                return Result(Outcome.CONFLICT, obj)
            return await self._violation(exc)
        if not changes:
            return Result(Outcome.UNCHANGED, obj, label)
        row = audit.entry(admin, self.account, key=key, label=label, action=action, changes=changes)
        await audit.log(self.session, row)
        try:
            await admin.after_update(context, obj, changes)
        except Refused as refused:
            return await self._refused(refused)
        return Result(Outcome.SAVED, obj, label, changes)

    async def plan_delete(self, objs: list[Any]) -> cascade.DeletePlan:
        """What deleting `objs` would remove and change (for the confirmation, and for the delete itself)."""
        return await cascade.plan_delete(self.session, self.admin.site, self.account, objs)

    async def delete(self, obj: Any) -> Result:
        """Delete one record with everything its delete takes along (webapp.admin.cascade), each row with its
        audit entry, the record's own holding a snapshot from which Undo puts them all back."""
        admin = self.admin
        label = self._label(obj)
        try:
            entry_ids = await self._delete_roots([obj])
        except Refused as refused:
            return await self._refused(refused)
        except (RepositoryError, SQLAlchemyError) as exc:
            await self.session.rollback()
            log.info("delete of %s %s refused by the database: %s", admin.slug, admin.key_of(obj), exc)
            return Result(Outcome.REFUSED, obj, label, refusal=Refusal(IN_USE.format(name=admin.name, label=label)))
        return Result(Outcome.SAVED, obj, label, entry_id=entry_ids[0])

    async def delete_many(self, rows: list[Any]) -> Refusal | None:
        """Delete loaded records with their hooks and audit entries (and what each takes along), in one plan.
        A refusal (a hook's, or the plan's) is returned, and the caller rolls the whole action back."""
        try:
            await self._delete_roots(rows)
        except Refused as refused:
            return Refusal(refused.message, refused.field)
        return None

    async def _delete_roots(self, roots: list[Any]) -> list[int]:
        """Plan, check, log and carry out the delete of `roots`; their entries' ids. Raises Refused."""
        admin = self.admin
        context = self._context("delete")
        for obj in roots:
            if not admin.can(self.account, "delete", obj):
                raise Refused(f"You may not delete “{self._label(obj)}”.")
            await admin.before_delete(context, obj)
        plan = await self.plan_delete(roots)
        if not plan.allowed:
            raise Refused(cascade.refusal(plan, ", ".join(self._label(obj) for obj in roots[:3])))
        # Every snapshot is taken before anything changes.
        site = admin.site
        root_rows = []
        for n, obj in enumerate(roots):
            snapshot = audit.state_of(admin, obj)
            links = cascade.stored_links(plan, n)
            if links:
                snapshot[cascade.LINKS_KEY] = links
            root_rows.append(
                audit.entry(
                    admin,
                    self.account,
                    key=admin.key_of(obj),
                    label=self._label(obj),
                    action="delete",
                    snapshot=snapshot,
                )
            )
        dependant_rows = []
        for dependant in plan.removed:
            other = cascade.admin_of(site, type(dependant.obj))
            dependant_rows.append(
                (
                    dependant.root,
                    audit.entry(
                        other,
                        self.account,
                        key=other.key_of(dependant.obj),
                        label=other.label(dependant.obj),
                        action="delete",
                        snapshot=audit.state_of(other, dependant.obj),
                    ),
                )
            )
        for dependant in plan.detached:
            other = cascade.admin_of(site, type(dependant.obj))
            changes = {
                name: [other.fields[name].to_json(dependant.obj) if name in other.fields else before, None]
                for name, before in dependant.before.items()
            }
            dependant_rows.append(
                (
                    dependant.root,
                    audit.entry(
                        other,
                        self.account,
                        key=other.key_of(dependant.obj),
                        label=other.label(dependant.obj),
                        action="update",
                        changes=changes,
                    ),
                )
            )
        await cascade.carry_out(self.session, plan)
        entry_ids = await audit.write_returning_ids(self.session, root_rows)
        for root, row in dependant_rows:
            row["part_of_id"] = entry_ids[root]
        await audit.write(self.session, [row for _, row in dependant_rows])
        for obj in roots:
            await admin.after_delete(context, obj)
        return entry_ids

    async def restore(self, entry: AdminLogEntry) -> Result:
        """Put a deleted record back as its audit snapshot has it, with its create hooks, and with it every row
        its delete took along (rows removed, keys set to NULL, links); refused, with nothing written, when any
        of it cannot be put back as it was, or the record would fall outside the account's scope."""
        admin = self.admin
        context = self._context("restore")
        try:
            async with self.session.begin_nested():
                obj = await audit.rebuild(self.session, admin, entry)
                await admin.before_create(context, obj)
                self.session.add(obj)
                await self.session.flush()
                if not await self.reachable(admin.key.values_of(obj)):
                    raise NotFoundException("There is no such deletion to restore.")
                label = self._label(obj)
                changes = audit.created(_without_links(entry.snapshot or {}))
                restored_entries = [entry]
                rows = [
                    audit.entry(
                        admin, self.account, key=entry.object_pk, label=label, action="restore", changes=changes
                    )
                ]
                rows += await self._restore_dependants(entry, restored_entries)
                await self._restore_links(entry)
                for done in restored_entries:
                    done.restored = True
                entry_ids = await audit.write_returning_ids(self.session, rows[:1])
                for row in rows[1:]:
                    row["part_of_id"] = entry_ids[0]
                await audit.write(self.session, rows[1:])
                await admin.after_create(context, obj)
        except (audit.RestoreRefused, Refused) as refused:
            return Result(Outcome.REFUSED, refusal=Refusal(str(refused)))
        except SQLAlchemyError:
            return Result(Outcome.REFUSED, refusal=Refusal(RESTORE_REFUSED.format(name=admin.name)))
        return Result(Outcome.SAVED, obj, label, changes)

    async def undo(self, entry: AdminLogEntry) -> Result:
        """Put back what an update entry changed, as a new update of the record (its version check, hooks and
        audit entry, in which the undo reads as the change it makes); refused, with nothing written, when a
        field it changed has changed again since (audit.undoing). The entry is marked as undone."""
        admin = self.admin
        if entry.action != "update" or entry.part_of_id is not None or not entry.changes:
            return Result(Outcome.REFUSED, refusal=Refusal("Only a change saved from a form can be undone."))
        if entry.restored:
            return Result(Outcome.REFUSED, refusal=Refusal("This change has been undone already."))
        obj = await self.get(entry.object_pk, action="change", reading=Reading.FORM)
        try:
            values = await audit.undoing(self.session, admin, entry, obj, admin.site.scope(self.account))
        except audit.RestoreRefused as refused:
            return Result(Outcome.REFUSED, obj, refusal=Refusal(str(refused)))
        result = await self.update(obj, values)
        if result.outcome is Outcome.SAVED:
            entry.restored = True
            await self.session.flush()
        return result

    async def _restore_dependants(self, entry: AdminLogEntry, restored: list[AdminLogEntry]) -> list[dict[str, Any]]:
        """The rows the delete of `entry` took along, put back parents first; their audit rows."""
        site = self.admin.site
        dependants = list(
            await self.session.scalars(
                select(AdminLogEntry).where(AdminLogEntry.part_of_id == entry.id).order_by(AdminLogEntry.id)
            )
        )
        rows = []
        for dependant in dependants:
            other = site.admin_named(dependant.model, self.admin.model)
            if other is None:
                raise audit.RestoreRefused(
                    f"Cannot restore: “{dependant.object_label}” belongs to a model that is gone."
                )
            if dependant.action == "delete":
                if dependant.restored:
                    continue
                if site.admin_for(other.model) is not None and not (
                    self.account is None or other.permits(self.account, "add")
                ):
                    raise audit.RestoreRefused(f"Cannot restore: you may not add {other.name_plural}.")
                child = await audit.rebuild(self.session, other, dependant)
                self.session.add(child)
                await self.session.flush()
                restored.append(dependant)
                changes = audit.created(_without_links(dependant.snapshot or {}))
                rows.append(
                    audit.entry(
                        other,
                        self.account,
                        key=dependant.object_pk,
                        label=dependant.object_label,
                        action="restore",
                        changes=changes,
                    )
                )
            elif dependant.action == "update":
                rows.append(await self._reattach(other, dependant))
        return rows

    async def _reattach(self, other: ModelAdmin, dependant: AdminLogEntry) -> dict[str, Any]:
        """Set back the keys a delete set to NULL, unless the row has gone or been linked elsewhere since."""
        values = other.key.parse(dependant.object_pk)
        row = None if values is None else await self.session.get(other.model, values, populate_existing=True)
        if row is None:
            raise audit.RestoreRefused(
                f"Cannot restore: the {other.name} “{dependant.object_label}” it was detached from no longer exists."
            )
        changes = {}
        for name, (before, _after) in dependant.changes.items():
            f = other.fields.get(name)
            if getattr(row, name) is not None:
                raise audit.RestoreRefused(
                    f"Cannot restore: the {other.name} “{dependant.object_label}” has been linked elsewhere since."
                )
            setattr(row, name, f.from_json(before) if f is not None else before)
            changes[name] = [None, before]
        await self.session.flush()
        return audit.entry(
            other, self.account, key=dependant.object_pk, label=dependant.object_label, action="update", changes=changes
        )

    async def _restore_links(self, entry: AdminLogEntry) -> None:
        """Link rows of other tables (many-to-many from the other side), kept in the snapshot, put back."""
        metadata = self.admin.model.__table__.metadata
        for stored in (entry.snapshot or {}).get(cascade.LINKS_KEY, []):
            found = cascade.link_rows(stored, metadata)
            if found is None:
                raise audit.RestoreRefused("Cannot restore: a table of its links is gone.")
            table, rows = found
            if rows:
                await self.session.execute(insert(table), rows)

    # -- refusals -----------------------------------------------------------------------------------------

    async def _refused(self, refused: Refused) -> Result:
        # Whatever the hook or the write did is undone; the record is read again by whoever shows it.
        await self.session.rollback()
        return Result(Outcome.REFUSED, refusal=Refusal(refused.message, refused.field))

    async def _violation(self, exc: Exception) -> Result:
        await self.session.rollback()
        admin = self.admin
        violation = explain(exc, admin.model.__table__, admin.fields, admin.name)
        log.info("write to %s refused by the database: %s", admin.slug, violation.message)
        return Result(Outcome.REFUSED, refusal=Refusal(violation.message, violation.field))


def _count_version(obj: Any) -> None:
    """Move a record's version counter on when only its links changed: SQLAlchemy updates the row (and checks
    the version it read) only for a change to its own columns, and an edit form opened before this change must
    be told about it as about any other."""
    mapper = inspect(obj).mapper
    column, generate = mapper.version_id_col, mapper.version_id_generator
    if column is None or not callable(generate):
        return
    attribute = mapper.get_property_by_column(column).key
    setattr(obj, attribute, generate(getattr(obj, attribute)))


def _without_links(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in snapshot.items() if name != cascade.LINKS_KEY}
