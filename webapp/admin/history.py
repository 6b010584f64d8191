"""A record's history page, and Restore / Undo for deleted records."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Response
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.admin import audit, listing
from webapp.admin.auth import ACTION
from webapp.admin.models import AdminLogEntry
from webapp.admin.rendering import redirect_with_message, render, wants_fragment
from webapp.admin.views import AnyRequest, account_of, get_object, msg, site_of

HISTORY_LIMIT = 200


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
        entries = list(
            await db_session.scalars(
                select(AdminLogEntry)
                .where(AdminLogEntry.model == admin.slug, AdminLogEntry.object_pk == pk)
                .order_by(AdminLogEntry.created_at.desc(), AdminLogEntry.id.desc())
                .limit(HISTORY_LIMIT)
            )
        )
        if not entries and admin.parse_pk(pk) is not None:
            await get_object(admin, db_session, pk)  # 404 for a record that never existed
        obj = await db_session.get(admin.model, admin.parse_pk(pk)) if admin.parse_pk(pk) is not None else None
        label = site.label(obj) if obj is not None else (entries[0].object_label if entries else pk)
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
        posted = await request.form()
        entry_id = str(posted.get("entry") or "")
        entry = await db_session.get(AdminLogEntry, int(entry_id)) if entry_id.isdigit() else None
        if entry is None or entry.model != admin.slug or entry.object_pk != pk:
            raise NotFoundException("There is no such deletion to restore.")
        try:
            async with db_session.begin_nested():
                obj = await audit.restore(db_session, admin, entry)
        except audit.RestoreRefused as refused:
            return _refused(request, admin, pk, str(refused))
        except SQLAlchemyError:
            return _refused(request, admin, pk, f"Cannot restore this {admin.name}: the database refused it.")
        label = site.label(obj)
        changes = audit.created(entry.snapshot or {})
        row = audit.entry(admin, account_of(request), pk=pk, label=label, action="restore", changes=changes)
        await audit.log(db_session, row)
        message = f"The {admin.name} “{label}” was restored."
        if wants_fragment(request):
            obj = await get_object(admin, db_session, pk)
            total = await listing.count_display(admin, db_session, request.headers.get("hx-current-url"))
            return render(
                request, "_row_created.html", {"obj": obj, "total": total, "messages": [msg(message)]}, admin=admin
            )
        return redirect_with_message(request, admin.url(pk), message)


def _refused(request: AnyRequest, admin: Any, pk: str, message: str) -> Response[str]:
    messages = [msg(message, "error")]
    if wants_fragment(request):
        return render(request, "_messages.html", {"messages": messages}, admin=admin, status_code=409)
    target = admin.url(pk, "history")
    return render(
        request,
        "error.html",
        {"status_code": 409, "title": "Cannot restore", "detail": message, "back_url": target},
        admin=admin,
        status_code=409,
    )
