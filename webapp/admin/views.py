"""Generic CRUD controllers over every registered model: whole pages without JavaScript, fragments for htmx.

Each route names the permission it needs in `opt` (checked by the admin router's guard), writes an audit
entry in the same transaction as its change, and refuses a stale edit with a conflict view.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, delete, get, post, route
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Response
from markupsafe import Markup
from sqlalchemy import ColumnElement, String, and_, cast, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.admin import filters as list_filters
from webapp.admin import forms, links, listing, related
from webapp.admin.auth import ACTION, EPOCH_KEY
from webapp.admin.chart import chartable as chart_models
from webapp.admin.chart import created_per_day
from webapp.admin.list_page import count_display
from webapp.admin.models import AdminAccount, AdminLogEntry
from webapp.admin.options import ModelAdmin
from webapp.admin.records import Outcome, RecordService, Result
from webapp.admin.rendering import VARY, redirect_with_message, render, wants_fragment
from webapp.admin.samples import Reading
from webapp.admin.signed_in import SignedIn
from webapp.admin.site import site_of
from webapp.admin.types import BinaryType, BooleanType
from webapp.admin.widgets import linked_list

log = logging.getLogger(__name__)

AnyRequest = Request[Any, Any, Any]
VERSION_FIELD = "_version"
CONFLICT_MESSAGE = (
    "Someone else changed this {name} after you opened it. Their saved values are shown with yours; "
    "save again to keep yours, or cancel to keep theirs."
)


def account_of(request: AnyRequest) -> SignedIn | None:
    return getattr(request.state, "admin_account", None)


def msg(text: str, category: str = "success", **extra: Any) -> dict[str, Any]:
    return {"message": text, "category": category, **extra}


def scope_of(request: AnyRequest) -> forms.Scope:
    """What the signed-in account may reach of each model (for relation choices)."""
    return site_of(request).scope(account_of(request))


def records(request: AnyRequest, admin: ModelAdmin, session: AsyncSession) -> RecordService:
    """The record service for this request's account and session."""
    return RecordService(admin, session, account_of(request))


def _entries_of(admin: ModelAdmin, account: SignedIn | None) -> ColumnElement[bool]:
    """The audit entries of a model's records the account may reach (a scoped model's: those that exist now).
    A scoped model's entries are matched in SQL by the key's text, which is the key itself only for a key of one
    integer column; for other keys, a scoped model's entries are left out of the recent list."""
    entries = AdminLogEntry.model == admin.slug
    if not admin.is_scoped:
        return entries
    if not admin.key.is_one_integer:
        return false()
    keys = admin.scoped(select(cast(admin.key.columns[0], String)), account)
    return and_(entries, AdminLogEntry.object_pk.in_(keys))


def _show_refusal(form: forms.BoundForm, result: Result) -> None:
    """A refusal (a hook's, or the database's) goes next to its field, or above the form."""
    if result.refusal is not None:
        form.add_error(result.refusal.field, result.refusal.message)


def _conflict_notes(admin: ModelAdmin, form: forms.BoundForm, theirs: forms.BoundForm) -> dict[str, str]:
    """For each field where the saved value differs from what the person typed: the saved value, readable."""
    notes = {}
    for field in form.fields:
        if field.name not in form.data:
            continue
        mine, saved = form.data[field.name], theirs.data.get(field.name, "")
        mine_set = sorted(mine) if isinstance(mine, list) else mine
        saved_set = sorted(saved) if isinstance(saved, list) else saved
        if mine_set == saved_set:
            continue
        labels = dict(theirs.choices.get(field.name, []))
        if isinstance(saved, list):
            notes[field.name] = ", ".join(labels.get(key, key) for key in saved) or "(none)"
        elif isinstance(field.type, BooleanType) and not field.nullable:
            notes[field.name] = "Yes" if saved == "true" else "No"
        else:
            notes[field.name] = labels.get(saved, saved) if saved != "" else "(empty)"
    return notes


class AdminController(Controller):
    """Routes keyed by the model's slug: /{model}/, /{model}/new, /{model}/{pk}, /{model}/{pk}/edit, …"""

    @get("/", name="admin:index")
    async def index(self, request: AnyRequest, db_session: NamedDependency[AsyncSession]) -> Response[str]:
        site = site_of(request)
        account = account_of(request)
        visible = [admin for admin in site if admin.permits(account, "view")]
        counts = []
        for admin in visible:
            counting = admin.scoped(select(func.count()).select_from(admin.model), account)
            counts.append((admin, await db_session.scalar(counting)))
        recent = []
        if visible:
            latest = (
                select(AdminLogEntry)
                .where(or_(*(_entries_of(admin, account) for admin in visible)))
                .order_by(AdminLogEntry.created_at.desc(), AdminLogEntry.id.desc())
                .limit(10)
            )
            recent = list(await db_session.scalars(latest))
        choices = chart_models(visible)
        wanted = request.query_params.get("chart") or (choices[0].slug if choices else "")
        chosen = next((a for a in choices if a.slug == wanted), choices[0] if choices else None)
        chart = await created_per_day(db_session, chosen, account) if chosen is not None else None
        context = {"counts": counts, "recent": recent, "chart": chart, "chart_choices": choices}
        return render(request, "index.html", context)

    # -- list ----------------------------------------------------------------------------------------------

    @get("/{model:str}/", name="admin:list", opt={ACTION: "view"})
    async def list_view(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
    ) -> Response[str]:
        site = site_of(request)
        admin = site.get(model)
        query = listing.ListQuery.parse(admin, request.query_params)
        page = await admin.list_page(db_session, query, account_of(request)).page()
        context = {"page": page, "query": page.query, "date_presets": list_filters.presets(date.today())}
        if wants_fragment(request):
            return render(request, "_results.html", context, admin=admin)
        return render(request, "list.html", context, admin=admin)

    # -- create --------------------------------------------------------------------------------------------

    @get("/{model:str}/new", name="admin:new", opt={ACTION: "add"})
    async def new_view(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
    ) -> Response[str]:
        site = site_of(request)
        admin = site.get(model)
        form = forms.initial_form(admin.create_fields)
        await forms.load_choices(db_session, form, site.label, site.table_sizes, scope=scope_of(request))
        context = {"form": form, "obj": None, "pk": None}
        return render(request, "_row_form.html" if wants_fragment(request) else "form.html", context, admin=admin)

    @post("/{model:str}/", name="admin:create", status_code=200, opt={ACTION: "add"})
    async def create(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
    ) -> Response[Any]:
        site = site_of(request)
        admin = site.get(model)
        posted = await request.form()
        form, values = await forms.parse_submission(
            db_session, admin.create_fields, posted, creating=True, scope=scope_of(request)
        )
        if form.is_valid:
            obj = admin.model()
            forms.apply_values(obj, form.fields, values)
            result = await records(request, admin, db_session).create(obj)
            if result.ok:
                return await self._created(request, db_session, admin, result, posted)
            _show_refusal(form, result)
        await forms.load_choices(db_session, form, site.label, site.table_sizes, scope=scope_of(request))
        name = "_row_form.html" if wants_fragment(request) else "form.html"
        return render(request, name, {"form": form, "obj": None, "pk": None}, admin=admin, status_code=422)

    async def _created(
        self, request: AnyRequest, session: AsyncSession, admin: ModelAdmin, result: Result, posted: Any
    ) -> Response[Any]:
        obj, pk = result.obj, admin.key_of(result.obj)
        message = f"The {admin.name} “{result.label}” was added."
        if admin.password_field:
            message += " Now set its password."
            return redirect_with_message(request, admin.url(pk, "password"), message)
        if wants_fragment(request):
            total = await count_display(admin, session, request.headers.get("hx-current-url"), account_of(request))
            context = {"obj": obj, "total": total, "messages": [msg(message)]}
            return render(request, "_row_created.html", context, admin=admin, status_code=201)
        if "_addanother" in posted:
            return redirect_with_message(request, admin.url(action="new"), message)
        if "_continue" in posted:
            target = admin.url(pk, "edit")
            return redirect_with_message(request, target, message)
        return redirect_with_message(request, admin.list_url, message)

    # -- read ----------------------------------------------------------------------------------------------

    @get("/{model:str}/{pk:str}", name="admin:detail", opt={ACTION: "view"})
    async def detail(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Response[str]:
        site = site_of(request)
        admin = site.get(model)
        service = records(request, admin, db_session)
        if wants_fragment(request):
            obj = await service.get(pk)
            return render(request, "_row.html", {"obj": obj}, admin=admin)
        account = account_of(request)
        shown = related.shown_relations(admin, account)
        params = dict(request.query_params)
        queries = [(relation, related.SectionQuery.parse(relation, params)) for relation in shown]
        obj = await service.get(pk, reading=Reading.DETAIL)
        page_url, others = admin.url(admin.key_of(obj)), related.section_params(shown, params)
        sections = [
            await related.read_section(db_session, r, obj, q, account, page_url=page_url, others=others)
            for r, q in queries
        ]
        return render(request, "detail.html", {"obj": obj, "sections": sections}, admin=admin)

    @get("/{model:str}/{pk:str}/related/{name:str}", name="admin:related", opt={ACTION: "view"})
    async def related_section(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
        name: FromPath[str],
    ) -> Response[Any]:
        """One related section of a detail page at the page its query names, for htmx to swap in; without
        htmx, the whole detail page at that page of the section."""
        admin = site_of(request).get(model)
        account = account_of(request)
        relation = admin.relations.get(name)
        if relation is None:
            raise NotFoundException(f"{admin.name_plural.capitalize()} have no related records called “{name}”.")
        if not relation.admin.permits(account, "view"):
            raise PermissionDeniedException(f"You may not view {relation.admin.name_plural}.")
        params = dict(request.query_params)
        query = related.SectionQuery.parse(relation, params)
        obj = await records(request, admin, db_session).get(pk, reading=Reading.OWN)
        page_url = admin.url(admin.key_of(obj))
        if not wants_fragment(request):
            own = related.section_params([relation], params)
            return Redirect(path=page_url + (f"?{urlencode(own)}" if own else ""), status_code=303, headers=VARY)
        # The other sections stay at the pages the browser shows them at: its address says which.
        shown = related.shown_relations(admin, account)
        others = related.section_params(shown, related.params_of_url(request.headers.get("hx-current-url")))
        section = await related.read_section(
            db_session, relation, obj, query, account, page_url=page_url, others=others
        )
        return render(request, "_related.html", {"obj": obj, "section": section}, admin=admin)

    @get("/{model:str}/{pk:str}/download/{name:str}", name="admin:download", opt={ACTION: "view"})
    async def download(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
        name: FromPath[str],
    ) -> Response[bytes]:
        """A binary field's bytes, as a file (the record as its detail page reaches it: scope and `can`)."""
        admin = site_of(request).get(model)
        field = admin.fields.get(name)
        if field is None or not isinstance(field.type, BinaryType):
            raise NotFoundException(f"{admin.name_plural.capitalize()} have no file “{name}”.")
        value = getattr(await records(request, admin, db_session).get(pk), field.name)
        if value is None:
            raise NotFoundException(f"This {admin.name} has no {field.label.lower()}.")
        filename = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{admin.slug}-{pk}-{field.name}")[:120] + ".bin"
        headers = {"Content-Disposition": f'attachment; filename="{filename}"', "X-Content-Type-Options": "nosniff"}
        return Response(bytes(value), media_type="application/octet-stream", headers=headers)

    # -- update --------------------------------------------------------------------------------------------

    @get("/{model:str}/{pk:str}/edit", name="admin:edit", opt={ACTION: "change"})
    async def edit_view(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Response[str]:
        site = site_of(request)
        admin = site.get(model)
        obj = await records(request, admin, db_session).get(pk, action="change", reading=Reading.FORM)
        form = forms.instance_form(admin.editable_fields, obj)
        context = {"form": form, "obj": obj, "pk": admin.key_of(obj), "version": admin.version_token(obj)}
        editing = forms.Editing(obj, site, request.query_params)
        if wants_fragment(request):
            await forms.load_choices(
                db_session,
                form,
                site.label,
                site.table_sizes,
                admin.inline_editable,
                scope=scope_of(request),
                editing=editing,
            )
            return render(request, "_row_form.html", context, admin=admin)
        await forms.load_choices(
            db_session, form, site.label, site.table_sizes, scope=scope_of(request), editing=editing
        )
        return render(request, "form.html", context, admin=admin)

    @get("/{model:str}/{pk:str}/links/{name:str}", name="admin:links", opt={ACTION: "change"})
    async def linked(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
        name: FromPath[str],
    ) -> Response[str]:
        """A page of the records a record links in a long collection, to tick for removal: the fragment an
        edit form's panel swaps in as it is searched and paged (webapp.admin.links)."""
        site = site_of(request)
        admin = site.get(model)
        field = next((f for f in admin.editable_fields if f.name == name and f.type.many), None)
        if field is None or site.admin_for(field.related_model) is None:
            raise NotFoundException(f"{admin.name_plural.capitalize()} have no list of links “{name}”.")
        obj = await records(request, admin, db_session).get(pk, action="change")
        params = request.query_params
        panel = await links.list_panel(db_session, site, field, obj, params, scope_of(request))
        dom_id = links.dom_id(params.get("id"), f"field-{name}")
        return render(request, "_linked.html", {"linked": Markup(linked_list(name, dom_id, panel))}, admin=admin)

    @route(
        "/{model:str}/{pk:str}",
        http_method=["POST", "PUT", "PATCH"],
        name="admin:update",
        status_code=200,
        opt={ACTION: "change"},
    )
    async def update(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Response[Any]:
        site = site_of(request)
        admin = site.get(model)
        service = records(request, admin, db_session)
        obj = await service.get(pk, action="change", reading=Reading.FORM)
        key = admin.key_of(obj)
        posted = await request.form()
        form, values = await forms.parse_submission(
            db_session, admin.editable_fields, posted, creating=False, scope=scope_of(request), editing=obj
        )
        fragment = wants_fragment(request)
        posted_version = posted.get(VERSION_FIELD)
        if form.is_valid:
            result = await service.update(obj, values, version=posted_version)
            if result.ok:
                _keep_own_session(request, obj)
                label = result.label
                message = f"The {admin.name} “{label}” was changed." if result.changes else f"No changes to “{label}”."
                if fragment:
                    await _reload_changed_relations(db_session, admin, obj, result.changes)
                    context = {"obj": obj, "messages": [msg(message)], "oob": True}
                    return render(request, "_row.html", context, admin=admin)
                if "_continue" in posted:
                    target = admin.url(key, "edit")
                    return redirect_with_message(request, target, message)
                return redirect_with_message(request, admin.list_url, message)
            _show_refusal(form, result)
            conflict = result.outcome is Outcome.CONFLICT
        else:
            conflict = posted_version is not None and posted_version != admin.version_token(obj)
        # Refused or stale: read the record afresh (a failed write was rolled back) and show the form again.
        obj = await service.get(pk, action="change", reading=Reading.FORM)
        await forms.load_choices(
            db_session,
            form,
            site.label,
            site.table_sizes,
            admin.inline_editable if fragment else None,
            scope=scope_of(request),
            editing=forms.Editing(obj, site),
        )
        context: dict[str, Any] = {"form": form, "obj": obj, "pk": key, "version": admin.version_token(obj)}
        status, headers = 422, {}
        if conflict:
            theirs = forms.instance_form(admin.editable_fields, obj)
            theirs.choices = form.choices
            context["conflict"] = _conflict_notes(admin, form, theirs)
            form.form_errors.insert(0, CONFLICT_MESSAGE.format(name=admin.name))
            status = 409
            if fragment:
                # htmx sends 4xx to the message area; a conflict belongs in the row being edited.
                headers = {"HX-Retarget": f"#{admin.dom_id(key)}", "HX-Reswap": "outerHTML"}
        name = "_row_form.html" if fragment else "form.html"
        return render(request, name, context, admin=admin, status_code=status, headers=headers)

    # -- password ------------------------------------------------------------------------------------------

    @get("/{model:str}/{pk:str}/password", name="admin:password", opt={ACTION: "change"})
    async def password_form(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Response[str]:
        site = site_of(request)
        admin = _with_password(site.get(model))
        obj = await records(request, admin, db_session).get(pk, action="change")
        return render(request, "password.html", {"obj": obj, "errors": {}}, admin=admin)

    @post("/{model:str}/{pk:str}/password", name="admin:password_set", status_code=200, opt={ACTION: "change"})
    async def password_set(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Response[Any]:
        site = site_of(request)
        admin = _with_password(site.get(model))
        service = records(request, admin, db_session)
        obj = await service.get(pk, action="change")
        posted = await request.form()
        first, second = str(posted.get("password1") or ""), str(posted.get("password2") or "")
        errors = {}
        if len(first) < MIN_PASSWORD:
            errors["password1"] = f"Use at least {MIN_PASSWORD} characters."
        elif first != second:
            errors["password2"] = "The two passwords differ."
        if not errors:
            result = await service.set_password(obj, first)
            if result.ok:
                _keep_own_session(request, obj)
                return redirect_with_message(request, admin.list_url, f"The password of “{result.label}” was changed.")
            assert result.refusal is not None
            errors["password1"] = result.refusal.message
            obj = await service.get(pk, action="change")
        return render(request, "password.html", {"obj": obj, "errors": errors}, admin=admin, status_code=422)

    # -- delete --------------------------------------------------------------------------------------------

    @get("/{model:str}/{pk:str}/delete", name="admin:delete_confirm", opt={ACTION: "delete"})
    async def delete_confirm(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Response[str]:
        site = site_of(request)
        admin = site.get(model)
        service = records(request, admin, db_session)
        obj = await service.get(pk, action="delete")
        plan = await service.plan_delete([obj])
        name = "_row_delete.html" if wants_fragment(request) else "delete.html"
        return render(request, name, {"obj": obj, "plan": plan}, admin=admin)

    @post("/{model:str}/{pk:str}/delete", name="admin:delete", status_code=200, opt={ACTION: "delete"})
    async def delete_post(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Response[Any]:
        return await _delete(request, db_session, model, pk)

    @delete("/{model:str}/{pk:str}", name="admin:delete_htmx", status_code=200, opt={ACTION: "delete"})
    async def delete_method(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Response[Any]:
        return await _delete(request, db_session, model, pk)


MIN_PASSWORD = 8


def _keep_own_session(request: AnyRequest, obj: Any) -> None:
    """Changing one's own account (password, rights) ends one's other sessions, not this one."""
    current = account_of(request)
    if isinstance(obj, AdminAccount) and current is not None and current.id == obj.id:
        request.session[EPOCH_KEY] = obj.session_epoch


async def _reload_changed_relations(
    session: AsyncSession, admin: ModelAdmin, obj: Any, changes: dict[str, Any]
) -> None:
    """After a write the record in memory is current, except what its list row shows of a changed relation: a
    many-to-one whose key changed is reloaded, and a changed collection (in the order it was posted) is read as a
    list row reads it, its first records in the relation's order and their count."""
    stale = [f.relationship for f in admin.list_fields if f.relationship and not f.type.many and f.name in changes]
    if stale:
        await session.refresh(obj, attribute_names=stale)
    sampled = [f.name for f in admin.list_fields if f.name in admin.sampled_collections]
    if any(name in changes for name in sampled):
        session.expire(obj, sampled)
        await admin.read_related(session, [obj], Reading.ROW)


def _with_password(admin: ModelAdmin) -> ModelAdmin:
    if not admin.password_field:
        raise NotFoundException(f"{admin.name_plural.capitalize()} have no password.")
    return admin


async def _delete(request: AnyRequest, session: AsyncSession, model: str, pk: str) -> Response[Any]:
    site = site_of(request)
    admin = site.get(model)
    service = records(request, admin, session)
    result = await service.delete(await service.get(pk, action="delete", reading=Reading.FORM))
    if not result.ok:
        assert result.refusal is not None
        messages = [msg(result.refusal.message, "error")]
        if wants_fragment(request):
            return render(request, "_messages.html", {"messages": messages}, admin=admin, status_code=409)
        obj = await service.get(pk, action="delete")
        context = {"obj": obj, "plan": await service.plan_delete([obj]), "messages": messages}
        return render(request, "delete.html", context, admin=admin, status_code=409)
    account = account_of(request)
    undo = None
    if admin.permits(account, "add"):
        undo = admin.url(admin.key_of(result.obj), "restore")
    message = msg(f"The {admin.name} “{result.label}” was deleted.", undo_url=undo, entry_id=result.entry_id)
    if wants_fragment(request):
        total = await count_display(admin, session, request.headers.get("hx-current-url"), account_of(request))
        return render(request, "_row_deleted.html", {"total": total, "messages": [message]}, admin=admin)
    return redirect_with_message(request, admin.list_url, message)
