"""Rendering: one helper picks the whole page or its fragment, and resolves per-model template overrides."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment
from jinja2 import Template as JinjaTemplate
from litestar import Request
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from webapp.admin.options import ModelAdmin
from webapp.admin.site import AdminSite

VARY = {"Vary": "HX-Request"}


def wants_fragment(request: Request[Any, Any, Any]) -> bool:
    """htmx asks for fragments, except when it restores history and needs the whole page.

    Read from the headers rather than `request.htmx`: exception handlers get the app's request class.
    """
    headers = request.headers
    return headers.get("hx-request") == "true" and headers.get("hx-history-restore-request") != "true"


class TemplateChooser:
    """The template for a model: its override if there is one, else the generic one; looked up once per name
    and model (templates are read once per process anyway), since a miss costs a search of every template
    directory and an exception. A Jinja global, `admin_template(admin, name)`, for includes."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self._chosen: dict[tuple[str | None, str], JinjaTemplate] = {}

    def __call__(self, admin: ModelAdmin | None, name: str) -> JinjaTemplate:
        key = (admin.slug if admin is not None else None, name)
        template = self._chosen.get(key)
        if template is None:
            template = self._chosen[key] = self.environment.select_template(AdminSite.templates(admin, name))
        return template


def template_name(request: Request[Any, Any, Any], admin: ModelAdmin | None, name: str) -> str:
    engine = request.app.template_engine
    assert engine is not None
    chooser: TemplateChooser = engine.engine.globals["admin_template"]
    return chooser(admin, name).name or name


def render(
    request: Request[Any, Any, Any],
    name: str,
    context: dict[str, Any],
    *,
    admin: ModelAdmin | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    site: AdminSite = request.app.state.admin_site
    full_context = {
        "site": site,
        "admin": admin,
        "messages": [],
        "account": getattr(request.state, "admin_account", None),
        **context,
    }
    if not name.startswith("_") and "session" in request.scope:
        # Messages left by the previous request (POST, then redirect) show on the next whole page.
        full_context["messages"] = request.session.pop("_messages", []) + full_context["messages"]
    return Template(
        template_name=template_name(request, admin, name),
        context=full_context,
        status_code=status_code,
        headers={**VARY, **(headers or {})},
    )


def redirect_with_message(
    request: Request[Any, Any, Any], path: str, message: str, category: str = "success"
) -> Redirect:
    flash(request, message, category=category)
    return Redirect(path=path, status_code=303, headers=VARY)
