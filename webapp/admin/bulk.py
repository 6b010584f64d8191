"""Work on many rows: the autocomplete lookup, CSV / JSON Lines export of the current view, and bulk actions
(delete selected, and the custom actions a ModelAdmin declares), each action in one transaction."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Response, Stream
from sqlalchemy import Select, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.admin import audit, listing
from webapp.admin.auth import ACTION
from webapp.admin.cascade import DeletePlan
from webapp.admin.db import one_snapshot
from webapp.admin.options import ModelAdmin
from webapp.admin.records import RecordService
from webapp.admin.rendering import redirect_with_message, render
from webapp.admin.site import AdminSite
from webapp.admin.types import to_json
from webapp.admin.views import account_of, site_of

log = logging.getLogger(__name__)
AnyRequest = Request[Any, Any, Any]
LOOKUP_PAGE = 20
CHUNK = 500
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Action:
    """A custom bulk action: `function(session, rows)` changes the rows and may return a message."""

    name: str
    label: str
    function: Callable[[AsyncSession, list[Any]], Awaitable[str | None]]
    confirm: str | None = None


class BulkRefused(Exception):
    """A hook refused one of the rows: the whole action is undone, and its message shown."""


def _check(request: AnyRequest, admin: ModelAdmin, action: str) -> None:
    account = account_of(request)
    if not admin.permits(account, action):
        raise PermissionDeniedException(f"You may not {action.removeprefix('action:')} {admin.name_plural}.")


class BulkController(Controller):
    # -- lookup --------------------------------------------------------------------------------------------

    @get("/{model:str}/lookup", name="admin:lookup", opt={ACTION: "view"})
    async def lookup(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
    ) -> Response[Any]:
        """Labels of the model's records matching `q`, a page at a time: an htmx fragment, or JSON."""
        site = site_of(request)
        admin = site.get(model)
        query = listing.ListQuery.parse(
            admin, {"q": request.query_params.get("q") or "", "page": request.query_params.get("page") or "1"}
        )
        statement = (
            admin.list_page(db_session, query, account_of(request))
            .base()
            .order_by(admin.label_column, *admin.key.columns)
            .offset((query.page - 1) * LOOKUP_PAGE)
            .limit(LOOKUP_PAGE + 1)
        )
        rows = list((await db_session.execute(statement)).scalars())
        has_more, rows = len(rows) > LOOKUP_PAGE, rows[:LOOKUP_PAGE]
        results = [{"id": _lookup_id(admin, row), "label": site.label(row)} for row in rows]
        if "application/json" in request.headers.get("accept", ""):
            return Response({"results": results, "page": query.page, "has_more": has_more}, headers={"Vary": "Accept"})
        return render(request, "_lookup.html", {"results": results, "query": query, "has_more": has_more}, admin=admin)

    # -- export --------------------------------------------------------------------------------------------

    @get("/{model:str}/export.csv", name="admin:export_csv", opt={ACTION: "export"})
    async def export_csv(self, request: AnyRequest, model: FromPath[str]) -> Stream:
        site = site_of(request)
        admin = site.get(model)
        return _export(request, site, admin, "csv")

    @get("/{model:str}/export.jsonl", name="admin:export_jsonl", opt={ACTION: "export"})
    async def export_jsonl(self, request: AnyRequest, model: FromPath[str]) -> Stream:
        site = site_of(request)
        admin = site.get(model)
        return _export(request, site, admin, "jsonl")

    # -- bulk actions --------------------------------------------------------------------------------------

    @post("/{model:str}/bulk", name="admin:bulk", status_code=200, opt={ACTION: "view"})
    async def bulk(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
    ) -> Response[Any]:
        site = site_of(request)
        admin = site.get(model)
        posted = await request.form()
        name = str(posted.get("action") or "")
        action = next((a for a in admin.actions if a.name == name), None)
        if name != "delete" and action is None:
            return redirect_with_message(request, admin.list_url, "Choose an action.", "error")
        _check(request, admin, "delete" if name == "delete" else f"action:{name}")
        selection = _selection(admin, posted, db_session, account_of(request))
        if selection is None:
            return redirect_with_message(request, admin.list_url, f"Select some {admin.name_plural} first.", "error")
        total = await db_session.scalar(select(func.count()).select_from(selection.subquery())) or 0
        if not total:
            return redirect_with_message(
                request, admin.list_url, f"None of those {admin.name_plural} exist any more.", "error"
            )
        needs_confirmation = name == "delete" or (action is not None and action.confirm)
        if needs_confirmation and posted.get("confirm") != "yes":
            plan = await _plan(db_session, admin, selection, account_of(request)) if name == "delete" else None
            context = {
                "action_name": name,
                "action": action,
                "total": total,
                "plan": plan,
                "hidden": [(k, v) for k, v in posted.multi_items() if k not in {"confirm", "_csrf_token"}],
            }
            return render(request, "bulk_confirm.html", context, admin=admin)
        try:
            message = await _run(request, db_session, site, admin, name, action, selection, total)
        except (SQLAlchemyError, BulkRefused) as exc:
            await db_session.rollback()
            log.info("bulk %s on %s refused: %s", name, admin.slug, exc)
            refused = (
                str(exc) if isinstance(exc, BulkRefused) else f"The database refused this {name.replace('_', ' ')}."
            )
            return render(
                request,
                "error.html",
                {
                    "status_code": 409,
                    "title": "Not done",
                    "back_url": admin.list_url,
                    "detail": f"{refused} Nothing was changed.",
                },
                admin=admin,
                status_code=409,
            )
        return redirect_with_message(request, admin.list_url, message)


def _selection(admin: ModelAdmin, posted: Any, session: AsyncSession, account: Any) -> Select[Any] | None:
    """The chosen rows as a statement of primary keys: ticked ones, or every row matching the view; only those
    the account may reach."""
    if posted.get("select_all") == "1":
        params = {k: v for k, v in posted.items() if k not in {"action", "ids", "select_all", "confirm", "_csrf_token"}}
        query = listing.ListQuery.parse(admin, params)
        return admin.list_page(session, query, account).base().with_only_columns(*admin.key.columns)
    key = admin.key
    keys = [key.parse(raw) for raw in (posted.getall("ids") if "ids" in posted else []) if isinstance(raw, str)]
    keys = [values for values in keys if values is not None]
    if not keys:
        return None
    return admin.scoped(select(*key.columns).where(key.among(keys)), account)


def _lookup_id(admin: ModelAdmin, row: Any) -> Any:
    """What a relation's input posts for the row: its key's value (a relation is by one column), or for a key
    of several columns, its text."""
    values = admin.key.values_of(row)
    return to_json(values[0]) if len(values) == 1 else admin.key.text(values)


async def _plan(session: AsyncSession, admin: ModelAdmin, selection: Select[Any], account: Any) -> DeletePlan:
    """What deleting the selected rows takes along, for the confirmation (webapp.admin.cascade)."""
    rows = [obj async for chunk in _chunks(session, admin, selection) for obj in chunk]
    return await RecordService(admin, session, account).plan_delete(rows)


async def _chunks(session: AsyncSession, admin: ModelAdmin, selection: Select[Any]) -> AsyncIterator[list[Any]]:
    keys = [tuple(row) for row in await session.execute(selection)]
    loaders = admin.relation_loaders(admin.detail_fields)
    for start in range(0, len(keys), CHUNK):
        batch = keys[start : start + CHUNK]
        statement = select(admin.model).where(admin.key.among(batch)).options(*loaders)
        yield list((await session.execute(statement)).scalars())


async def _run(
    request: AnyRequest,
    session: AsyncSession,
    site: AdminSite,
    admin: ModelAdmin,
    name: str,
    action: Action | None,
    selection: Select[Any],
    total: int,
) -> str:
    """Delete or act on every selected row, with an audit entry each, in the request's one transaction."""
    account = account_of(request)
    messages = []

    def entry_of(obj: Any, what: str, **details: Any) -> dict[str, Any]:
        return audit.entry(admin, account, key=admin.key_of(obj), label=site.label(obj), action=what, **details)

    service = RecordService(admin, session, account)
    async for rows in _chunks(session, admin, selection):
        if name == "delete":
            refusal = await service.delete_many(rows)
            if refusal is not None:
                raise BulkRefused(refusal.message)
            continue
        assert action is not None
        before = {admin.key_of(obj): audit.state_of(admin, obj) for obj in rows}
        result = await action.function(session, rows)
        if result:
            messages.append(result)
        entries = []
        for obj in rows:
            changes = audit.diff(before[admin.key_of(obj)], audit.state_of(admin, obj), audit.collections(admin))
            if changes:
                entries.append(entry_of(obj, f"action:{name}", changes=changes))
        await session.flush()
        await audit.write(session, entries)
    plural = admin.name if total == 1 else admin.name_plural
    if name == "delete":
        return f"Deleted {total:,} {plural}."
    assert action is not None
    return messages[0] if len(messages) == 1 else f"{action.label}: done for {total:,} {plural}."


def _cell(value: str) -> str:
    """A spreadsheet must not run a cell as a formula: prefix =, +, -, @ (and tab/CR) with a quote."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _export(request: AnyRequest, site: AdminSite, admin: ModelAdmin, fmt: str) -> Stream:
    """Every row of the current view (search, filters, sort), streamed in chunks so memory stays flat."""
    query = listing.ListQuery.parse(admin, request.query_params)
    account = account_of(request)
    fields = [f for f in admin.fields.values()]
    config = site.db_config

    async def rows() -> AsyncIterator[bytes]:
        # Its own session: the request's is closed when the response starts, and the stream outlives that.
        async with config.get_session() as session:
            with one_snapshot():  # on the model's database (a state database may sit beside it)
                await session.connection(bind_arguments={"mapper": admin.model})
            view = admin.list_page(session, query, account)
            parts, joins = view.ordering()
            statement = view.base()
            for join in joins:
                statement = statement.outerjoin(join)
            statement = statement.order_by(*listing.order_clauses(parts))
            statement = statement.options(*admin.relation_loaders(fields)).execution_options(yield_per=CHUNK)
            if fmt == "csv":
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                writer.writerow([f.label for f in fields])
                yield buffer.getvalue().encode()
            stream = await session.stream_scalars(statement)
            async for partition in stream.partitions(CHUNK):
                out = io.StringIO()
                writer = csv.writer(out)
                for obj in partition:
                    if fmt == "csv":
                        writer.writerow([_cell(_text(site, f, obj)) for f in fields])
                    else:
                        out.write(json.dumps({f.name: _json(f, obj) for f in fields}, ensure_ascii=False) + "\n")
                yield out.getvalue().encode()

    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/jsonl; charset=utf-8"
    filename = f"{admin.slug}.{fmt}"
    return Stream(rows(), media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _text(site: AdminSite, f: Any, obj: Any) -> str:
    return f.type.export_text(site, f, obj)


def _json(f: Any, obj: Any) -> Any:
    return f.to_json(obj)


__all__: Sequence[str] = ("Action", "BulkController")
