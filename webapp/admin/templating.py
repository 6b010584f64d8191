"""The admin's own Jinja environment: one per site, so the host's templates, whitespace rules and reloading are
left as the host set them, and two admins in one app each draw their own pages.

Templates are looked up in the host's folders first (any admin template can be overridden by name, per model
as `admin/<slug>/<name>`), then in the admin's own.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, pass_context
from jinja2 import Template as JinjaTemplate
from litestar.utils.empty import value_or_default
from litestar.utils.scope.state import ScopeState

from webapp.admin.display import cell, display, row, row_cells, rows
from webapp.admin.listing import PER_PAGE_CHOICES
from webapp.admin.options import ModelAdmin
from webapp.admin.resources import TEMPLATES_DIR
from webapp.admin.widgets import field_input, links_search_form, lookup

if TYPE_CHECKING:
    from litestar import Request

    from webapp.admin.site import AdminSite

HTMX_VERSION = "2.0.11"


def csrf_token_of(request: Request[Any, Any, Any]) -> str:
    """The CSRF token the request's CSRF middleware (the admin's or the host's) gave it."""
    return value_or_default(ScopeState.from_scope(request.scope).csrf_token, "")


@pass_context
def _csrf_token(context: Mapping[str, Any]) -> str:
    return csrf_token_of(context["request"])


def templates_of(name: str, admin: ModelAdmin | None) -> list[str]:
    """Per-model override first, then the generic template (Django's and sqladmin's lookup)."""
    generic = f"admin/{name}"
    return [f"admin/{admin.slug}/{name}", generic] if admin is not None else [generic]


class AdminTemplates:
    """The site's environment and its template choices. `admin_template(admin, name)` in templates picks the
    model's override or the generic template, remembered per name and model: templates are read once per
    process (`auto_reload` is off), and a miss costs a search of every folder and an exception."""

    def __init__(self, site: AdminSite, directories: Iterable[Path | str] = ()) -> None:
        self.environment = Environment(
            loader=FileSystemLoader([*directories, TEMPLATES_DIR]),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            # `make run` restarts the server when a template changes; with reloading on, every include (one per
            # list row) would stat its file.
            auto_reload=False,
        )
        self.environment.globals.update(
            admin_site=site,
            admin_display=display,
            admin_cell=cell,
            admin_row_cells=row_cells,
            admin_row=row,
            admin_rows=rows,
            admin_field_input=partial(field_input, site),
            admin_lookup=lookup,
            admin_links_form=links_search_form,
            admin_template=self.choose,
            csrf_token=_csrf_token,
            PER_PAGE_CHOICES=PER_PAGE_CHOICES,
            HTMX_VERSION=HTMX_VERSION,
        )
        self._chosen: dict[tuple[str | None, str], JinjaTemplate] = {}

    def choose(self, admin: ModelAdmin | None, name: str) -> JinjaTemplate:
        key = (admin.slug if admin is not None else None, name)
        template = self._chosen.get(key)
        if template is None:
            template = self._chosen[key] = self.environment.select_template(templates_of(name, admin))
        return template

    def render(
        self, request: Request[Any, Any, Any], admin: ModelAdmin | None, name: str, context: dict[str, Any]
    ) -> str:
        token = csrf_token_of(request)
        return self.choose(admin, name).render(
            request=request,
            csrf_input=f'<input type="hidden" name="_csrf_token" value="{html.escape(token)}" />',
            **context,
        )
