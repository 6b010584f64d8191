"""Signing in: the guard on every admin route, login and logout, throttling, and the session's account."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from litestar import Request, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.response import Redirect, Response
from litestar.stores.base import Store
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.admin.models import AdminAccount
from webapp.admin.rendering import render, wants_fragment
from webapp.admin.sessions import rotate_session_id
from webapp.admin.signed_in import ACCOUNT_BY_ID, SignedIn, learn, read_along
from webapp.admin.site import site_of

log = logging.getLogger(__name__)

ACCOUNT_KEY = "admin_account_id"
EPOCH_KEY = "admin_session_epoch"
SEEN_KEY = "admin_seen"
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
PUBLIC = "admin_public"
ACTION = "admin_action"


def session_of(connection: ASGIConnection[Any, Any, Any, Any]) -> AsyncSession:
    """The request's own database session, the one advanced-alchemy later injects into the handler."""
    return site_of(connection).db_config.provide_session(connection.app.state, connection.scope)


async def load_account(connection: ASGIConnection[Any, Any, Any, Any]) -> SignedIn | None:
    """The signed-in, active account whose session is still current, or None."""
    session_data = connection.scope.get("session") or {}
    account_id = session_data.get(ACCOUNT_KEY) if isinstance(session_data, dict) else None
    if not isinstance(account_id, int):
        return None
    account = read_along(connection.scope, account_id)
    if account is None:
        row = (await session_of(connection).execute(ACCOUNT_BY_ID, {"id": account_id})).one_or_none()
        if row is None:
            return None
        account = SignedIn.from_row(row)
        learn(connection.scope, account_id)
    if not account.is_active or account.session_epoch != session_data.get(EPOCH_KEY):
        return None
    return account


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


async def require_account(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard on the admin router: a signed-in account, and the permission the route's `opt` names."""
    if handler.opt.get(PUBLIC):
        return
    account = await load_account(connection)
    if account is None:
        raise NotAuthorizedException("Please sign in.")
    connection.state.admin_account = account
    today = _today()
    if connection.scope["session"].get(SEEN_KEY) != today:
        # Unchanged sessions are not written back; this keeps an active one's expiry sliding, once a day.
        connection.scope["session"][SEEN_KEY] = today
    action = handler.opt.get(ACTION)
    slug = connection.path_params.get("model")
    if action and slug is not None:
        site = site_of(connection)
        admin = site.get(slug)
        if not admin.permits(account, action):
            raise PermissionDeniedException(f"You may not {action} {admin.name_plural}.")


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: no scheme, no host, no protocol-relative //, no backslash tricks."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return default
    return target


def login_redirect(request: Request[Any, Any, Any]) -> Response[Any]:
    """Plain requests go to the login page; htmx gets 401 with HX-Redirect (a swap would hide the form)."""
    site = site_of(request)
    # raw_path keeps the trailing slash that routing normalises away (/admin/item/ is the list).
    path = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0] or request.url.path
    here = path + (f"?{request.url.query}" if request.url.query else "")
    if wants_fragment(request):
        current = request.headers.get("hx-current-url") or ""
        here = urlsplit(current).path + (f"?{urlsplit(current).query}" if urlsplit(current).query else "") or here
    location = f"{site.login_url}?{urlencode({'next': safe_next(here, site.index_url)})}"
    if wants_fragment(request):
        return Response(content="", status_code=401, headers={"HX-Redirect": location, "Vary": "HX-Request"})
    return Redirect(path=location, status_code=303)


def _client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


class Throttle:
    """Counts failed sign-ins per username and address in a Litestar store (database or Redis)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def key(username: str, address: str) -> str:
        return f"login:{username.strip().lower()[:150]}:{address}"

    async def is_locked(self, key: str) -> bool:
        value = await self.store.get(key)
        return value is not None and int(value) >= MAX_FAILURES

    async def failed(self, key: str) -> None:
        value = await self.store.get(key)
        failures = int(value) + 1 if value is not None else 1
        await self.store.set(key, str(failures).encode(), expires_in=int(LOCKOUT.total_seconds()))

    async def succeeded(self, key: str) -> None:
        await self.store.delete(key)


def _login_page(
    request: Request[Any, Any, Any], *, username: str = "", next_url: str = "", error: str = "", status_code: int = 200
) -> Response[str]:
    context = {"username": username, "next": next_url, "error": error, "account": None}
    return render(request, "login.html", context, status_code=status_code)


@get("/login", name="admin:login", opt={PUBLIC: True}, sync_to_thread=False)
def login_form(request: Request[Any, Any, Any]) -> Response[str]:
    site = site_of(request)
    return _login_page(request, next_url=safe_next(request.query_params.get("next"), site.index_url))


@post("/login", name="admin:login_post", opt={PUBLIC: True}, status_code=200)
async def login(request: Request[Any, Any, Any]) -> Response[Any]:
    site = site_of(request)
    form = await request.form()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    next_url = safe_next(str(form.get("next") or ""), site.index_url)
    throttle = Throttle(request.app.stores.get(site.throttle_store))
    key = Throttle.key(username, _client_address(request))
    if await throttle.is_locked(key):
        log.warning("sign-in refused for %r from %s: too many failures", username, _client_address(request))
        return _login_page(
            request,
            username=username,
            next_url=next_url,
            status_code=429,
            error="Too many failed attempts. Try again in 15 minutes.",
        )
    db = session_of(request)
    account = await db.scalar(select(AdminAccount).where(func.lower(AdminAccount.username) == username.lower()))
    # The throttle's store writes on its own connection: end this transaction first (SQLite has one writer).
    if account is None or not account.is_active or account.password is None or not account.password.verify(password):
        await db.rollback()
        await throttle.failed(key)
        return _login_page(
            request,
            username=username,
            next_url=next_url,
            status_code=422,
            error="Please enter a correct username and password.",
        )
    account.last_login_at = datetime.now(UTC)
    # Seen today already: the first page after signing in need not write the session back to say so.
    signed_in = {ACCOUNT_KEY: account.id, EPOCH_KEY: account.session_epoch, SEEN_KEY: _today()}
    await db.commit()
    await throttle.succeeded(key)
    # A new session id on sign-in: a session id planted before sign-in is not carried over.
    rotate_session_id(request)
    request.set_session(signed_in)
    return Redirect(path=next_url, status_code=303)


@post("/logout", name="admin:logout", status_code=200)
async def logout(request: Request[Any, Any, Any]) -> Redirect:
    request.clear_session()
    site = site_of(request)
    return Redirect(path=site.login_url, status_code=303)


AUTH_HANDLERS = [login_form, login, logout]
