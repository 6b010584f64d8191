"""The SQLAlchemy config for the app: engine, session handling, SQLite pragmas, migrations."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any

from advanced_alchemy.extensions.litestar import (
    AlembicAsyncConfig,
    AsyncSessionConfig,
    EngineConfig,
    SQLAlchemyAsyncConfig,
)
from advanced_alchemy.extensions.litestar._utils import delete_aa_scope_state, get_aa_scope_state
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import Connection, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from webapp.paths import MIGRATIONS_DIR
from webapp.sqlite_driver import use_one_trip_cursors

log = logging.getLogger(__name__)

SQLITE_PRAGMAS = ("journal_mode=WAL", "busy_timeout=15000", "foreign_keys=ON", "synchronous=NORMAL")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Set for requests that write. SQLite then takes the write lock when the transaction begins, so two writers
# queue on busy_timeout instead of one failing with "database is locked" when it upgrades a read lock.
write_intent: ContextVar[bool] = ContextVar("write_intent", default=False)

# Set for HTTP requests that only read (GET, HEAD, OPTIONS): they run without a transaction, each statement
# on its own snapshot, which saves the round trips of BEGIN and COMMIT. Everything else (writes, the CLI,
# migrations, startup) runs in transactions as usual.
_reading_only: ContextVar[bool] = ContextVar("reading_only", default=False)


@contextmanager
def context_value(variable: ContextVar[bool], value: bool) -> Iterator[None]:
    """`variable` set to `value` inside the block (and for the tasks it starts), as it was after."""
    token = variable.set(value)
    try:
        yield
    finally:
        variable.reset(token)


def only_reading() -> AbstractContextManager[None]:
    return context_value(_reading_only, True)


def one_snapshot() -> AbstractContextManager[None]:
    """Connect inside this block to read in one transaction within a request that only reads: a long
    export's server-side cursor needs one on PostgreSQL, and reads one snapshot."""
    return context_value(_reading_only, False)


def writing() -> AbstractContextManager[None]:
    """Mark what runs inside as a write (see `write_intent`)."""
    return context_value(write_intent, True)


def _without_transaction() -> bool:
    return _reading_only.get() and not write_intent.get()


def _apply_sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # SQLAlchemy's recipe for pysqlite/aiosqlite: let the "begin" event below issue BEGIN itself.
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A request that writes takes the write lock up front; one that only reads opens no transaction.
    if write_intent.get():
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif not _without_transaction():
        connection.exec_driver_sql("BEGIN")


def _autocommit_when_idle(dbapi_connection: Any, *_args: Any) -> None:
    if dbapi_connection is not None:
        dbapi_connection.autocommit = True


def _transaction_only_to_write(dbapi_connection: Any, *_args: Any) -> None:
    # PostgreSQL: a request that only reads runs without BEGIN and COMMIT (two round trips fewer; under READ
    # COMMITTED each statement reads its own snapshot anyway). Idle connections wait in autocommit, which also
    # makes the pool's pre-ping one round trip instead of three (BEGIN, ping, ROLLBACK).
    dbapi_connection.autocommit = _without_transaction()


class WriteIntentMiddleware:
    """Marks each HTTP request a reader (safe methods: no transaction) or a writer (see `write_intent`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("method", "GET") in SAFE_METHODS:
            with only_reading():
                await self.app(scope, receive, send)
            return
        with writing():
            await self.app(scope, receive, send)


def make_db_config(database_url: str, *, create_all: bool = False, metadata: Any = None) -> SQLAlchemyAsyncConfig:
    """Build the config; SQLite connections get WAL, a busy timeout and enforced foreign keys."""
    config = SQLAlchemyAsyncConfig(
        connection_string=database_url,
        # Commits happen in TransactionMiddleware (below), before the session store writes its row.
        # advanced-alchemy's FileObject and cache listeners are off: the app stores no FileObject and uses no
        # AA cache, and each checks whether it is enabled by building an engine with options (Engine.
        # execution_options()) on every flush and commit, ~0.2 ms of an update.
        session_config=AsyncSessionConfig(expire_on_commit=False, info={"enable_cache_listener": False}),
        enable_file_object_listener=False,
        # advanced-alchemy's before_flush listener sets `updated_at` on changed rows by computing the history of
        # every column of every dirty object (2% of an inline update's Python calls); the audit mixin's
        # `onupdate` already sets it in every UPDATE, and a changed column only reaches its row through one.
        enable_touch_updated_timestamp_listener=False,
        engine_config=EngineConfig(pool_pre_ping=not database_url.startswith("sqlite")),
        alembic_config=AlembicAsyncConfig(
            script_location=str(MIGRATIONS_DIR),
            script_config=str(MIGRATIONS_DIR / "alembic.ini"),
            version_table_name="alembic_versions",
        ),
        create_all=create_all,
        metadata=metadata,
    )
    engine = config.get_engine()
    if engine.dialect.name == "sqlite":
        use_one_trip_cursors(engine)
        event.listen(engine.sync_engine, "connect", _apply_sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    elif engine.dialect.name == "postgresql":
        event.listen(engine.sync_engine, "connect", _autocommit_when_idle)
        event.listen(engine.sync_engine, "checkin", _autocommit_when_idle)
        event.listen(engine.sync_engine, "checkout", _transaction_only_to_write)
    return config


class TransactionMiddleware:
    """Commits the request's session as the response starts (2xx and 3xx; anything else rolls back).

    It sits inside the session middleware, so the request's transaction has ended before the session store
    writes on its own connection (SQLite has a single writer). A commit that fails turns the response into
    an error page instead of acknowledging a write that did not happen.
    """

    def __init__(self, app: ASGIApp, config: SQLAlchemyAsyncConfig) -> None:
        self.app = app
        self.key = config.session_scope_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        failed = False

        async def send_after_commit(message: Message) -> None:
            nonlocal failed
            if failed:
                return
            if message["type"] == "http.response.start" and not await self._end_transaction(scope, message):
                failed = True
                await send(
                    {
                        "type": "http.response.start",
                        "status": 503,
                        "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"retry-after", b"1")],
                    }
                )
                await send({"type": "http.response.body", "body": COMMIT_FAILED_PAGE})
                return
            await send(message)

        try:
            await self.app(scope, receive, send_after_commit)
        finally:
            session = get_aa_scope_state(scope, self.key)
            if session is not None:
                await session.close()
                delete_aa_scope_state(scope, self.key)

    async def _end_transaction(self, scope: Scope, message: Message) -> bool:
        session = get_aa_scope_state(scope, self.key)
        if session is None or _without_transaction():
            # A request that only reads has no transaction to end: each statement committed on its own.
            return True
        try:
            if 200 <= message["status"] < 400:
                await session.commit()
            else:
                await session.rollback()
        except SQLAlchemyError:
            log.exception("commit failed; the response becomes a 503 and nothing was written")
            await session.rollback()
            return False
        return True


COMMIT_FAILED_PAGE = (
    b"<!doctype html><html lang=en><head><meta charset=utf-8><title>Not saved</title></head><body><main>"
    b"<h1>Not saved</h1><p>The database could not save this change, so nothing was written. Please try again."
    b"</p></main></body></html>"
)


def transaction_middleware(config: SQLAlchemyAsyncConfig) -> DefineMiddleware:
    return DefineMiddleware(TransactionMiddleware, config=config)
