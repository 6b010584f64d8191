"""Rendering: one helper picks the whole page or its fragment, drawn by the site's own template environment."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.enums import MediaType
from litestar.response import Redirect

from webapp.admin.options import ModelAdmin
from webapp.admin.site import AdminSite, site_of

VARY = {"Vary": "HX-Request"}


def wants_fragment(request: Request[Any, Any, Any]) -> bool:
    """htmx asks for fragments, except when it restores history and needs the whole page.

    Read from the headers rather than `request.htmx`: exception handlers get the app's request class.
    """
    headers = request.headers
    return headers.get("hx-request") == "true" and headers.get("hx-history-restore-request") != "true"


def render(
    request: Request[Any, Any, Any],
    name: str,
    context: dict[str, Any],
    *,
    admin: ModelAdmin | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    site: AdminSite | None = None,
) -> Response[str]:
    """`name` drawn for `admin` (its override, if any); `site` only for a request that reached no admin route."""
    site = site or site_of(request)
    full_context = {
        "site": site,
        "admin": admin,
        "messages": [],
        "account": getattr(request.state, "admin_account", None),
        **context,
    }
    response_headers = {**VARY, **(headers or {})}
    if not name.startswith("_") and site.messages is not None and site.messages.name in request.cookies:
        # Messages left by the previous request (POST, then redirect) show on the next whole page.
        full_context["messages"] = site.messages.read(request) + full_context["messages"]
        response_headers["set-cookie"] = site.messages.cleared()
    return Response(
        site.templates.render(request, admin, name, full_context),
        media_type=MediaType.HTML,
        status_code=status_code,
        headers=response_headers,
    )


def redirect_with_message(
    request: Request[Any, Any, Any], path: str, message: str | dict[str, Any], category: str = "success"
) -> Redirect:
    """A 303 to `path` that shows `message` (text, or a dict as `views.msg` makes) on the page it leads to."""
    message = message if isinstance(message, dict) else {"message": message, "category": category}
    cookie = site_of(request).messages.leave(request, message)
    return Redirect(path=path, status_code=303, headers={**VARY, "set-cookie": cookie})
