"""Errors as pages in the admin layout (or as a message fragment for htmx); a 500 shows only a request id."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from advanced_alchemy.exceptions import NotFoundError
from litestar import Request, Response
from litestar.exceptions import HTTPException, InternalServerException, ValidationException
from litestar.exceptions.responses import create_debug_response, create_exception_response
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_404_NOT_FOUND,
    HTTP_500_INTERNAL_SERVER_ERROR,
)

from webapp.admin.auth import login_redirect
from webapp.admin.rendering import render, wants_fragment
from webapp.admin.site import AdminSite

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Sign-in required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    422: "Invalid input",
    500: "Server error",
}


def error_page(
    request: Request[Any, Any, Any], status_code: int, detail: str, site: AdminSite | None = None
) -> Response[Any]:
    """The error in the admin's layout (`site`: the admin, when the request reached none of its routes)."""
    title = TITLES.get(status_code, "Error")
    context = {"status_code": status_code, "title": title, "detail": detail}
    if wants_fragment(request):
        messages = [{"message": f"{title}: {detail}" if detail else title, "category": "error"}]
        return render(request, "_messages.html", {"messages": messages}, status_code=status_code, site=site)
    return render(request, "error.html", context, status_code=status_code, site=site)


def http_error(request: Request[Any, Any, Any], exc: HTTPException, site: AdminSite | None = None) -> Response[Any]:
    if exc.status_code == HTTP_401_UNAUTHORIZED:
        return login_redirect(request)
    detail = exc.detail if exc.detail and exc.detail != TITLES.get(exc.status_code) else ""
    if isinstance(exc, ValidationException):
        # Typed query or path parameters that do not parse: say which, never echo internals.
        keys = sorted(
            {str(item.get("key")) for item in (exc.extra or []) if isinstance(item, dict) and item.get("key")}
        )
        detail = f"Check the value of: {', '.join(keys)}." if keys else "The request could not be understood."
        return error_page(request, HTTP_400_BAD_REQUEST, detail, site)
    if exc.status_code == HTTP_404_NOT_FOUND and detail in {"", "Not Found"}:
        detail = "The page you asked for does not exist."
    response = error_page(request, exc.status_code, detail, site)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


ExceptionHandler = Callable[[Request[Any, Any, Any], Any], Response[Any]]


def routing_errors(site: AdminSite, host: ExceptionHandler | None) -> ExceptionHandler:
    """An app-wide handler for what fails before any route is chosen (no such path: 404; a path without that
    method: 405): the admin's page under the admin's path, the host's handler (or Litestar's) elsewhere."""

    def handle(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
        path = request.url.path
        routed = request.scope.get("route_handler") is not None
        if not routed and (path == site.path or path.startswith(f"{site.path}/")):
            return http_error(request, exc, site)
        if host is not None:
            return host(request, exc)
        return (create_debug_response if request.app.debug else create_exception_response)(request, exc)

    return handle


def not_found(request: Request[Any, Any, Any], exc: NotFoundError) -> Response[Any]:
    return error_page(request, HTTP_404_NOT_FOUND, "The record you asked for does not exist.")


# Litestar's only sign that the client hung up while sending its body (a closed tab, a load generator stopping).
CLIENT_GONE = "client disconnected prematurely"


def server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    request_id = uuid.uuid4().hex[:12]
    if isinstance(exc, InternalServerException) and exc.detail == CLIENT_GONE:
        # Nothing failed on our side and nobody is left to answer: no traceback in the error log.
        log.info("client left before sending its whole request, %s %s", request.method, request.url.path)
        return Response(b"", status_code=HTTP_400_BAD_REQUEST)
    log.exception("unhandled error, request id %s, %s %s", request_id, request.method, request.url.path, exc_info=exc)
    detail = f"Something went wrong on our side. If it keeps happening, report request id {request_id}."
    response = error_page(request, HTTP_500_INTERNAL_SERVER_ERROR, detail)
    response.headers["X-Request-Id"] = request_id
    return response


EXCEPTION_HANDLERS: dict[Any, Any] = {
    HTTPException: http_error,
    NotFoundError: not_found,
    HTTP_500_INTERNAL_SERVER_ERROR: server_error,
    Exception: server_error,
}

__all__ = ["EXCEPTION_HANDLERS", "error_page", "routing_errors"]
