"""Generic CRUD controllers over every registered model: whole pages without JavaScript, fragments for htmx."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from advanced_alchemy.exceptions import NotFoundError, RepositoryError
from litestar import Controller, Request, delete, get, post, route
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.admin import forms, listing
from webapp.admin.integrity import explain
from webapp.admin.options import ModelAdmin
from webapp.admin.rendering import redirect_with_message, render, wants_fragment
from webapp.admin.site import AdminSite

log = logging.getLogger(__name__)

AnyRequest = Request[Any, Any, Any]


def provide_site(request: AnyRequest) -> AdminSite:
    return request.app.state.admin_site


async def _get_object(admin: ModelAdmin, session: AsyncSession, raw_pk: str, *, for_form: bool = False) -> Any:
    """The record, with the relations its row (and form) show loaded up front; 404 when there is none."""
    pk = admin.parse_pk(raw_pk)
    if pk is None:
        raise NotFoundException(f"There is no {admin.name} with the key “{raw_pk}”.")
    shown = admin.detail_fields if for_form else admin.list_fields
    try:
        return await admin.service(session).get(
            pk, load=admin.relation_loaders(shown), execution_options={"populate_existing": True}
        )
    except NotFoundError:
        raise NotFoundException(f"There is no {admin.name} with the key “{raw_pk}”.") from None


def _current_q(request: AnyRequest) -> str:
    """The search the list page had when htmx sent this request, so counts stay those of that view."""
    url = request.headers.get("hx-current-url")
    if not url:
        return ""
    return (parse_qs(urlsplit(url).query).get("q") or [""])[0].strip()[: listing.MAX_SEARCH_LENGTH]


async def _save(
    admin: ModelAdmin,
    session: AsyncSession,
    obj: Any,
    form: forms.BoundForm,
    values: dict[str, Any],
    *,
    creating: bool,
) -> bool:
    """Assign and flush; a constraint violation becomes a message on its field and nothing is written."""
    forms.apply_values(obj, form.fields, values)
    service = admin.service(session)
    try:
        if creating:
            await service.create(obj)
        else:
            await service.update(obj)
    except (RepositoryError, SQLAlchemyError) as exc:
        await session.rollback()
        violation = explain(exc, admin.model.__table__, admin.fields, admin.name)
        form.add_error(violation.field, violation.message)
        log.info("write to %s refused by the database: %s", admin.slug, violation.message)
        return False
    return True


class AdminController(Controller):
    """Routes keyed by the model's slug: /{model}/, /{model}/new, /{model}/{pk}, /{model}/{pk}/edit, …"""

    dependencies = {"site": Provide(provide_site, sync_to_thread=False)}

    @get("/", name="admin:index")
    async def index(
        self, request: AnyRequest, site: NamedDependency[AdminSite], db_session: NamedDependency[AsyncSession]
    ) -> Template:
        counts = []
        for admin in site:
            total = await db_session.scalar(select(func.count()).select_from(admin.model))
            counts.append((admin, total))
        return render(request, "index.html", {"counts": counts})

    # -- list ----------------------------------------------------------------------------------------------

    @get("/{model:str}/", name="admin:list")
    async def list_view(
        self,
        request: AnyRequest,
        site: NamedDependency[AdminSite],
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
    ) -> Template:
        admin = site.get(model)
        query = listing.ListQuery.parse(admin, request.query_params)
        page = await listing.fetch_page(admin, db_session, query)
        context = {"page": page, "query": page.query}
        if wants_fragment(request):
            return render(request, "_results.html", context, admin=admin)
        return render(request, "list.html", context, admin=admin)

    # -- create --------------------------------------------------------------------------------------------

    @get("/{model:str}/new", name="admin:new")
    async def new_view(
        self,
        request: AnyRequest,
        site: NamedDependency[AdminSite],
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
    ) -> Template:
        admin = site.get(model)
        form = forms.initial_form(admin.editable_fields)
        await forms.load_choices(db_session, form, site.label)
        if wants_fragment(request):
            return render(request, "_row_form.html", {"form": form, "obj": None, "pk": None}, admin=admin)
        return render(request, "form.html", {"form": form, "obj": None, "pk": None}, admin=admin)

    @post("/{model:str}/", name="admin:create", status_code=200)
    async def create(
        self,
        request: AnyRequest,
        site: NamedDependency[AdminSite],
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
    ) -> Template | Redirect:
        admin = site.get(model)
        posted = await request.form()
        form, values = await forms.parse_submission(db_session, admin.editable_fields, posted, creating=True)
        obj = admin.model()
        if form.is_valid and await _save(admin, db_session, obj, form, values, creating=True):
            pk = admin.pk_of(obj)
            message = f"The {admin.name} “{site.label(obj)}” was added."
            if wants_fragment(request):
                obj = await _get_object(admin, db_session, str(pk))
                total = await listing.count(admin, db_session, _current_q(request))
                return render(
                    request,
                    "_row_created.html",
                    {"obj": obj, "total": total, "messages": [_msg(message)]},
                    admin=admin,
                    status_code=201,
                )
            if "_addanother" in posted:
                return redirect_with_message(request, request.app.route_reverse("admin:new", model=admin.slug), message)
            if "_continue" in posted:
                return redirect_with_message(
                    request, request.app.route_reverse("admin:edit", model=admin.slug, pk=str(pk)), message
                )
            return redirect_with_message(request, admin.list_url, message)
        await forms.load_choices(db_session, form, site.label)
        name = "_row_form.html" if wants_fragment(request) else "form.html"
        return render(request, name, {"form": form, "obj": None, "pk": None}, admin=admin, status_code=422)

    # -- read ----------------------------------------------------------------------------------------------

    @get("/{model:str}/{pk:str}", name="admin:detail")
    async def detail(
        self,
        request: AnyRequest,
        site: NamedDependency[AdminSite],
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Template:
        admin = site.get(model)
        if wants_fragment(request):
            obj = await _get_object(admin, db_session, pk)
            return render(request, "_row.html", {"obj": obj}, admin=admin)
        obj = await _get_object(admin, db_session, pk, for_form=True)
        return render(request, "detail.html", {"obj": obj}, admin=admin)

    # -- update --------------------------------------------------------------------------------------------

    @get("/{model:str}/{pk:str}/edit", name="admin:edit")
    async def edit_view(
        self,
        request: AnyRequest,
        site: NamedDependency[AdminSite],
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Template:
        admin = site.get(model)
        obj = await _get_object(admin, db_session, pk, for_form=True)
        form = forms.instance_form(admin.editable_fields, obj)
        context = {"form": form, "obj": obj, "pk": admin.pk_of(obj)}
        if wants_fragment(request):
            await forms.load_choices(db_session, form, site.label, admin.inline_editable)
            return render(request, "_row_form.html", context, admin=admin)
        await forms.load_choices(db_session, form, site.label)
        return render(request, "form.html", context, admin=admin)

    @route("/{model:str}/{pk:str}", http_method=["POST", "PUT", "PATCH"], name="admin:update", status_code=200)
    async def update(
        self,
        request: AnyRequest,
        site: NamedDependency[AdminSite],
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Template | Redirect:
        admin = site.get(model)
        obj = await _get_object(admin, db_session, pk, for_form=True)
        posted = await request.form()
        form, values = await forms.parse_submission(db_session, admin.editable_fields, posted, creating=False)
        key = admin.pk_of(obj)
        if form.is_valid and await _save(admin, db_session, obj, form, values, creating=False):
            message = f"The {admin.name} “{site.label(obj)}” was changed."
            if wants_fragment(request):
                obj = await _get_object(admin, db_session, pk)
                return render(request, "_row.html", {"obj": obj, "messages": [_msg(message)], "oob": True}, admin=admin)
            if "_continue" in posted:
                return redirect_with_message(
                    request, request.app.route_reverse("admin:edit", model=admin.slug, pk=str(key)), message
                )
            return redirect_with_message(request, admin.list_url, message)
        # The failed flush was rolled back, so read the record afresh for the cells the form does not cover.
        obj = await _get_object(admin, db_session, pk, for_form=True)
        fragment = wants_fragment(request)
        await forms.load_choices(db_session, form, site.label, admin.inline_editable if fragment else None)
        name = "_row_form.html" if fragment else "form.html"
        return render(request, name, {"form": form, "obj": obj, "pk": key}, admin=admin, status_code=422)

    # -- delete --------------------------------------------------------------------------------------------

    @get("/{model:str}/{pk:str}/delete", name="admin:delete_confirm")
    async def delete_confirm(
        self,
        request: AnyRequest,
        site: NamedDependency[AdminSite],
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Template:
        admin = site.get(model)
        obj = await _get_object(admin, db_session, pk)
        name = "_row_delete.html" if wants_fragment(request) else "delete.html"
        return render(request, name, {"obj": obj}, admin=admin)

    @post("/{model:str}/{pk:str}/delete", name="admin:delete", status_code=200)
    async def delete_post(
        self,
        request: AnyRequest,
        site: NamedDependency[AdminSite],
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Template | Redirect:
        return await _delete(request, site, db_session, model, pk)

    @delete("/{model:str}/{pk:str}", name="admin:delete_htmx", status_code=200)
    async def delete_method(
        self,
        request: AnyRequest,
        site: NamedDependency[AdminSite],
        db_session: NamedDependency[AsyncSession],
        model: FromPath[str],
        pk: FromPath[str],
    ) -> Template | Redirect:
        return await _delete(request, site, db_session, model, pk)


def _msg(text: str, category: str = "success") -> dict[str, str]:
    return {"message": text, "category": category}


async def _delete(
    request: AnyRequest, site: AdminSite, session: AsyncSession, model: str, pk: str
) -> Template | Redirect:
    admin = site.get(model)
    obj = await _get_object(admin, session, pk)
    label = site.label(obj)
    try:
        await admin.service(session).delete(admin.pk_of(obj))
    except (RepositoryError, SQLAlchemyError) as exc:
        await session.rollback()
        log.info("delete of %s %s refused by the database: %s", admin.slug, pk, exc)
        message = f"The {admin.name} “{label}” cannot be deleted: other records still refer to it."
        if wants_fragment(request):
            return render(
                request,
                "_messages.html",
                {"messages": [_msg(message, "error")]},
                admin=admin,
                status_code=409,
            )
        obj = await _get_object(admin, session, pk)
        return render(
            request,
            "delete.html",
            {"obj": obj, "messages": [_msg(message, "error")]},
            admin=admin,
            status_code=409,
        )
    message = f"The {admin.name} “{label}” was deleted."
    if wants_fragment(request):
        total = await listing.count(admin, session, _current_q(request))
        return render(request, "_row_deleted.html", {"total": total, "messages": [_msg(message)]}, admin=admin)
    return redirect_with_message(request, admin.list_url, message)
