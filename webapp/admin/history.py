"""A record's history page, Restore / Undo for deleted records, and Undo for changed ones."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.admin.auth import ACTION
from webapp.admin.list_page import count_display
from webapp.admin.models import AdminLogEntry
from webapp.admin.records import Outcome
from webapp.admin.rendering import redirect_with_message, render, wants_fragment
from webapp.admin.views import AnyRequest, account_of, msg, records, site_of

HISTORY_LIMIT = 200
UNDO_CONFLICT = "Cannot undo: the record was changed by someone else meanwhile. Nothing was changed."


class HistoryController(Controller):
    @get("/{model:str}/{pk:str}/history", name="admin:history", opt={ACTION: "view"})
    async def history(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Response[str]:
        site = site_of(request)
        admin = site.get(model)
        pk = _canonical(admin, pk)
        obj = await records(request, admin, db_session).find(pk)
        if obj is None and admin.is_scoped:
            # A scoped model shows the history of records the account can reach now: whether a deleted one was
            # in its scope cannot be told from the log.
            raise NotFoundException(f"There is no {admin.name} with the key “{pk}”.")
        entries = list(
            await db_session.scalars(
                select(AdminLogEntry)
                .where(AdminLogEntry.model == admin.slug, AdminLogEntry.object_pk == pk)
                .order_by(AdminLogEntry.created_at.desc(), AdminLogEntry.id.desc())
                .limit(HISTORY_LIMIT)
            )
        )
        if not entries and obj is None:
            raise NotFoundException(f"There is no {admin.name} with the key “{pk}”.")
        label = site.label(obj) if obj is not None else entries[0].object_label
        return render(request, "history.html", {"entries": entries, "obj": obj, "pk": pk, "label": label}, admin=admin)

    @post("/{model:str}/{pk:str}/restore", name="admin:restore", status_code=200, opt={ACTION: "add"})
    async def restore(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Response[Any]:
        site = site_of(request)
        admin = site.get(model)
        pk = _canonical(admin, pk)
        entry = await _posted_entry(request, db_session, admin, pk, "There is no such deletion to restore.")
        result = await records(request, admin, db_session).restore(entry)
        if not result.ok:
            assert result.refusal is not None
            return _refused(request, admin, pk, result.refusal.message)
        label = result.label
        message = f"The {admin.name} “{label}” was restored."
        if wants_fragment(request):
            obj = await records(request, admin, db_session).get(pk)
            total = await count_display(admin, db_session, request.headers.get("hx-current-url"), account_of(request))
            return render(
                request, "_row_created.html", {"obj": obj, "total": total, "messages": [msg(message)]}, admin=admin
            )
        return redirect_with_message(request, admin.url(pk), message)

    @post("/{model:str}/{pk:str}/undo", name="admin:undo", status_code=200, opt={ACTION: "change"})
    async def undo(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Response[Any]:
        """Undo one change from the record's history (webapp.admin.records.RecordService.undo)."""
        site = site_of(request)
        admin = site.get(model)
        pk = _canonical(admin, pk)
        entry = await _posted_entry(request, db_session, admin, pk, "There is no such change to undo.")
        result = await records(request, admin, db_session).undo(entry)
        if result.outcome is Outcome.CONFLICT:
            return _refused(request, admin, pk, UNDO_CONFLICT, title="Cannot undo")
        if not result.ok:
            assert result.refusal is not None
            return _refused(request, admin, pk, result.refusal.message, title="Cannot undo")
        message = f"The change to the {admin.name} “{result.label}” was undone."
        return redirect_with_message(request, admin.url(pk, "history"), message)


def _canonical(admin: Any, key: str) -> str:
    """The key's text as the audit log holds it (a URL may encode a part that needs no encoding), or 404."""
    values = admin.key.parse(key)
    if values is None:
        raise NotFoundException(f"There is no {admin.name} with the key “{key}”.")
    return admin.key.text(values)


ENTRY_ID_DIGITS = 18  # a BIGINT's


async def _posted_entry(
    request: AnyRequest, db_session: AsyncSession, admin: Any, pk: str, missing: str
) -> AdminLogEntry:
    """The history entry the form posts (`entry`), when it is one of this record's; else 404 saying `missing`."""
    entry_id = str((await request.form()).get("entry") or "")
    # ASCII digits only, as many as an id can have (int() refuses 5,000 digits, and reads other scripts' digits).
    well_formed = entry_id.isascii() and entry_id.isdigit() and len(entry_id) <= ENTRY_ID_DIGITS
    entry = await db_session.get(AdminLogEntry, int(entry_id)) if well_formed else None
    if entry is None or entry.model != admin.slug or entry.object_pk != pk:
        raise NotFoundException(missing)
    return entry


def _refused(request: AnyRequest, admin: Any, pk: str, message: str, title: str = "Cannot restore") -> Response[str]:
    messages = [msg(message, "error")]
    if wants_fragment(request):
        return render(request, "_messages.html", {"messages": messages}, admin=admin, status_code=409)
    target = admin.url(pk, "history")
    return render(
        request,
        "error.html",
        {"status_code": 409, "title": title, "detail": message, "back_url": target},
        admin=admin,
        status_code=409,
    )
