"""Server-side sessions in the database (or Redis), a fresh session id at sign-in, Secure cookies over HTTPS."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Protocol

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from advanced_alchemy.extensions.litestar.store import SQLAlchemyStore
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware import DefineMiddleware
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import Store
from litestar.stores.redis import RedisStore
from litestar.types import ASGIApp, Empty, Message, Receive, Scope, ScopeSession, Send
from litestar.utils.dataclass import extract_dataclass_items
from sqlalchemy import Row, Select, bindparam, select

from webapp.admin.cookies import CookieTemplate
from webapp.admin.db import context_value, write_intent, writing
from webapp.admin.models import AdminStoreEntry
from webapp.admin.signed_in import SignedInReadAlong

ROTATE_FLAG = "admin_rotate_session_id"
SESSION_COOKIE = "admin_session"


# What this request read from the store: Litestar's session middleware writes the session back on every
# response, and an unchanged session need not cost a database write (the guard refreshes it once a day).
_reads: ContextVar[dict[str, bytes | None] | None] = ContextVar("admin_store_reads", default=None)


# The request being served, so the session store can read through the request's own database session.
_scope: ContextVar[Scope | None] = ContextVar("admin_store_scope", default=None)


class ReadAlong(Protocol):
    """Something read in the same statement as a session, once an earlier request told what to look for.

    The session lookup is a statement every request makes; what always follows it (who is signed in) can ride
    along instead of costing a statement of its own.
    """

    def extend(self, statement: Select[Any]) -> Select[Any]:
        """The session's read statement with the columns (and outer joins) to read along; built once."""
        ...

    def parameters(self, key: str) -> Mapping[str, Any] | None:
        """The values `extend` binds, for the session `key`; None: nothing to read along for it."""
        ...

    def received(self, scope: Scope, key: str, row: Row[Any] | None) -> None:
        """What was read along (the row, or None when the key had no hint), for the rest of the request."""
        ...


class WritingStore(SQLAlchemyStore):  # type: ignore[type-arg]
    """AA's database store: takes SQLite's write lock up front for the calls that write, and skips writing
    back a value this request read unchanged.

    With `read_in_request`, a read runs in the request's own transaction (the one advanced-alchemy gives the
    handler) instead of a session, connection and transaction of its own: the session lookup on every request
    then costs one statement, which `read_along` may extend. Writes keep their own connection; the session
    middleware writes after the request's transaction has ended.
    """

    def __init__(
        self, *args: Any, read_in_request: bool = False, read_along: ReadAlong | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.read_in_request = read_in_request
        self.read_along = read_along

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        reads = _reads.get()
        data = value.encode() if isinstance(value, str) else value
        if reads is not None and key in reads and reads[key] == data:
            return
        with writing():
            await super().set(key, value, expires_in)

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        scope = _scope.get()
        if renew_for is None and self.read_in_request and scope is not None:
            value = await self._get_in_request(scope, key)
        elif renew_for is None:
            # A read never needs SQLite's write lock, which this request's own transaction may hold already.
            with context_value(write_intent, False):
                value = await super().get(key)
        else:
            with writing():
                value = await super().get(key, renew_for)
        reads = _reads.get()
        if reads is not None:
            reads[key] = value
        return value

    @cached_property
    def _read_statement(self) -> Select[Any]:
        entry = self._model
        return select(entry.value).where(
            entry.key == bindparam("key"),
            entry.namespace == bindparam("namespace"),
            entry.expires_at.is_(None) | (entry.expires_at > bindparam("now")),
        )

    @cached_property
    def _read_along_statement(self) -> Select[Any]:
        assert self.read_along is not None
        return self.read_along.extend(self._read_statement)

    async def _get_in_request(self, scope: Scope, key: str) -> bytes | None:
        session = self._config.provide_session(scope["app"].state, scope)
        db_key, db_namespace = self._make_key(key)
        parameters = {"key": db_key, "namespace": db_namespace, "now": datetime.now(UTC)}
        along = self.read_along.parameters(key) if self.read_along is not None else None
        if along is None:
            value = await session.scalar(self._read_statement, parameters)
            row = None
        else:
            row = (await session.execute(self._read_along_statement, {**parameters, **along})).one_or_none()
            value = row[0] if row is not None else None
        if self.read_along is not None:
            self.read_along.received(scope, key, row)
        return self._decode_base64_value(value, session.bind.dialect.name) if value else None

    async def delete(self, key: str) -> None:
        with writing():
            await super().delete(key)

    async def delete_all(self) -> None:
        with writing():
            await super().delete_all()


class RotatingSessionBackend(ServerSideSessionBackend):
    """Litestar reuses the id from the cookie; at sign-in we want a new one (no session fixation)."""

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        """Litestar's, with the Set-Cookie header built from a template (`webapp.admin.cookies`: only the
        session id varies; tests/test_auth.py checks the header is Litestar's own)."""
        if (scope_session is Empty or not scope_session) and self.config.key not in connection.cookies:
            # A visitor with no session and nothing to keep (the sign-in page, a static file, a bot): no row
            # written, no cookie set. Sign-in makes the first session.
            return
        if scope_session is Empty:
            await super().store_in_message(scope_session, message, connection)
            return
        scope = connection.scope
        session_id = self.get_session_id(connection)
        data = self.serialize_data(scope_session, scope)
        await self.set(session_id=session_id, data=data, store=self.config.get_store_from_app(scope["app"]))
        MutableScopeHeaders.from_message(message).add("Set-Cookie", self._cookie_header(session_id))

    def _cookie_header(self, session_id: str) -> str:
        return self._cookie.header(session_id)

    @cached_property
    def _cookie(self) -> CookieTemplate:
        params = extract_dataclass_items(self.config, exclude_none=True, include=Cookie.__dict__.keys())
        return CookieTemplate(Cookie(value="", key=self.config.key, **dict(params)))

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        state = connection.scope.setdefault("state", {})
        if state.get(ROTATE_FLAG):
            new_id = state.get(f"{ROTATE_FLAG}_value") or self.generate_session_id()
            state[f"{ROTATE_FLAG}_value"] = new_id
            return new_id
        return super().get_session_id(connection)


class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend  # type: ignore[assignment]


def rotate_session_id(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    connection.scope.setdefault("state", {})[ROTATE_FLAG] = True


@dataclass(frozen=True)
class SessionSetup:
    middleware: list[Any]
    stores: dict[str, Store]


def session_setup(
    db_config: SQLAlchemyAsyncConfig,
    redis_url: str | None = None,
    *,
    name: str = "admin",
    cookie_path: str = "/",
) -> SessionSetup:
    """Sessions and sign-in throttling share one backend: Redis when configured, else the admin_store table.

    The stores are registered as `<name>_sessions` and `<name>_throttle`, and the cookie is sent only under
    `cookie_path`, so two admins in one app (or the host's own sessions) never share one."""
    if redis_url:
        root = RedisStore.with_client(url=redis_url, namespace=name)
        sessions: Store = root.with_namespace("sessions")
        throttle: Store = root.with_namespace("throttle")
    else:
        sessions = WritingStore(
            db_config,
            model=AdminStoreEntry,
            namespace="sessions",
            read_in_request=True,
            read_along=SignedInReadAlong(),
        )
        throttle = WritingStore(db_config, model=AdminStoreEntry, namespace="throttle")
    config = RotatingSessionConfig(
        key=SESSION_COOKIE,
        path=cookie_path,
        httponly=True,
        samesite="lax",
        max_age=14 * 24 * 3600,
        store=f"{name}_sessions",
    )
    return SessionSetup(
        middleware=[DefineMiddleware(StoreReadTracking), config.middleware],
        stores={f"{name}_sessions": sessions, f"{name}_throttle": throttle},
    )


class StoreReadTracking:
    """Gives each request its own record of store reads (see WritingStore.set)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token, scope_token = _reads.set({}), _scope.set(scope)
        try:
            await self.app(scope, receive, send)
        finally:
            _scope.reset(scope_token)
            _reads.reset(token)


class SecureCookiesOverHttps:
    """Marks every cookie Secure when the request came over HTTPS, so one config serves dev and production.

    Mounted outside every middleware that sets a cookie (the session's, the CSRF check's): a send wrapper sees
    only the headers added inside it. Behind a proxy, the scheme is the proxy's once uvicorn is told to believe
    its X-Forwarded-Proto (`make serve`, README)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def send_secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = []
                for name, value in message.get("headers", []):
                    if name.lower() == b"set-cookie" and b"; secure" not in value.lower():
                        value = value + b"; Secure"
                    headers.append((name, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_secure)
