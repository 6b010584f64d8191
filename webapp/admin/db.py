"""The admin's transaction rules, kept on whatever advanced-alchemy config the host brings.

- A request that writes (any unsafe method) says so up front (`write_intent`): SQLite then takes its write lock
  when the transaction begins, so concurrent writers queue on the busy timeout instead of one failing with
  "database is locked" when it upgrades a read lock.
- A request that only reads runs without a transaction: each statement commits on its own (on PostgreSQL and
  MariaDB in autocommit, which saves BEGIN and COMMIT). `one_snapshot()` asks for one transaction inside such a
  request (the CSV export's server-side cursor).
- The request's session is committed as the response starts, inside the session middleware, so the session
  store writes after the request's transaction has ended; a commit that fails becomes an error page.

`keep_transaction_rules(config)` installs the engine half of these rules on any config (the plugin calls it);
the middleware half is mounted by the plugin on its own router. `database_config(url)` builds a config tuned
for the admin, for hosts that have none yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any
from weakref import WeakKeyDictionary

from advanced_alchemy.extensions.litestar import AsyncSessionConfig, EngineConfig, SQLAlchemyAsyncConfig
from advanced_alchemy.extensions.litestar._utils import delete_aa_scope_state, get_aa_scope_state
from litestar.exceptions import ImproperlyConfiguredException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_
from sqlalchemy.util.concurrency import in_greenlet

from webapp.admin.sqlite_driver import OneTripConnection, use_one_trip_cursors

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 15000
SQLITE_PRAGMAS = ("journal_mode=WAL", f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}", "foreign_keys=ON", "synchronous=NORMAL")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Set for requests that write (see the module's docstring).
write_intent: ContextVar[bool] = ContextVar("write_intent", default=False)

# Set for HTTP requests that only read (GET, HEAD, OPTIONS). Everything else (writes, the CLI, migrations,
# startup, and the host's own routes) runs in transactions as usual.
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


class SQLiteWriterQueue:
    """Writers of one process take SQLite's write lock in the order they asked for it.

    Without it, concurrent writers wait in SQLite's busy handler, which sleeps and retries with growing pauses
    (up to 100 ms): a writer that has waited long retries seldom and loses to newcomers, so under eight
    concurrent writers some wait for seconds (bench/README.md, "Where a write's time goes"). Here a writer
    first queues on an asyncio lock (first come, first served), held from its BEGIN IMMEDIATE until its
    connection goes back to the pool after the commit or rollback. Other processes still meet SQLite's busy
    handler. A writer that cannot get the lock within the busy timeout goes on without it (SQLite's own lock
    still guards the data), so a leaked hold can slow writers but never stop them. Guarded by
    tests/test_transactions.py (the queue is first come, first served, and released after a failure).
    """

    HELD = "admin_holds_write_queue"

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()
        self.waiting = 0  # writers queued now

    def enter(self, connection: Connection) -> None:
        """Called before BEGIN IMMEDIATE: waits in SQLAlchemy's greenlet (outside one, as in a plain sync use of
        the engine, there is no event loop to queue on)."""
        info = connection.connection.info
        if info.get(self.HELD) or not in_greenlet():
            return
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # an engine outlives a test's event loop; an asyncio.Lock does not
            self._loop, self._lock = loop, asyncio.Lock()
        lock = self._lock
        self.waiting += 1
        try:
            await_(asyncio.wait_for(lock.acquire(), self.timeout))
        except TimeoutError:
            log.warning("a SQLite writer waited %.0f s for the write queue; going on without it", self.timeout)
            return
        finally:
            self.waiting -= 1
        info[self.HELD] = lock

    def leave(self, _dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        """Pool checkin (the transaction has ended, committed or not): the next writer may begin."""
        lock = record.info.pop(self.HELD, None)
        if lock is not None:
            lock.release()


_WRITER_QUEUES: WeakKeyDictionary[Engine, SQLiteWriterQueue] = WeakKeyDictionary()


def writer_queue(engine: AsyncEngine) -> SQLiteWriterQueue | None:
    """The writer queue of a SQLite engine the rules were installed on."""
    return _WRITER_QUEUES.get(engine.sync_engine)


def _sqlite_rules(engine: Engine) -> tuple[tuple[str, Callable[..., Any]], ...]:
    queue = _WRITER_QUEUES[engine] = SQLiteWriterQueue(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)

    def begin(connection: Connection) -> None:
        # A request that writes takes the write lock up front; one that only reads opens no transaction.
        if write_intent.get():
            queue.enter(connection)
            _send_begin(connection, "BEGIN IMMEDIATE")
        elif not _without_transaction():
            _send_begin(connection, "BEGIN")

    return (("connect", _apply_sqlite_pragmas), ("begin", begin), ("checkin", queue.leave))


def _send_begin(connection: Connection, begin: str) -> None:
    dbapi_connection = connection.connection.dbapi_connection
    if isinstance(dbapi_connection, OneTripConnection):
        dbapi_connection.begin_with_next_statement(begin)  # in the first statement's trip to aiosqlite's thread
    else:
        connection.exec_driver_sql(begin)


def _autocommit_when_idle(dbapi_connection: Any, *_args: Any) -> None:
    if dbapi_connection is not None:
        dbapi_connection.autocommit = True


def _transaction_only_to_write(dbapi_connection: Any, *_args: Any) -> None:
    # PostgreSQL: a request that only reads runs without BEGIN and COMMIT (under READ COMMITTED each statement
    # reads its own snapshot anyway). Idle connections wait in autocommit, which also makes the pool's
    # pre-ping one round trip instead of three (BEGIN, ping, ROLLBACK).
    dbapi_connection.autocommit = _without_transaction()


def _mysql_autocommit_when_idle(dbapi_connection: Any, *_args: Any) -> None:
    if dbapi_connection is not None:
        dbapi_connection.autocommit(True)


def _mysql_transaction_only_to_write(dbapi_connection: Any, *_args: Any) -> None:
    # MariaDB/MySQL: as PostgreSQL's. The driver sends SET autocommit only when the mode changes, so a reader
    # on an idle connection pays nothing for it.
    dbapi_connection.autocommit(_without_transaction())


_MYSQL_RULES = (
    ("connect", _mysql_autocommit_when_idle),
    ("checkin", _mysql_autocommit_when_idle),
    ("checkout", _mysql_transaction_only_to_write),
)
_ENGINE_RULES: dict[str, tuple[tuple[str, Callable[..., Any]], ...]] = {
    "mysql": _MYSQL_RULES,
    "mariadb": _MYSQL_RULES,
    "sqlite": (),  # per engine, each with its own writer queue: see keep_engine_rules
    "postgresql": (
        ("connect", _autocommit_when_idle),
        ("checkin", _autocommit_when_idle),
        ("checkout", _transaction_only_to_write),
    ),
}


def keep_transaction_rules(config: SQLAlchemyAsyncConfig) -> None:
    """Install the engine half of the rules on `config`'s engine, once; refuse a setup that would break them.

    Safe for the host's own routes: outside the admin's requests no request is marked reading-only, so they
    get transactions as before (SQLite's deferred BEGIN, PostgreSQL's implicit one).
    """
    isolation = getattr(config.engine_config, "isolation_level", None)
    if isinstance(isolation, str) and isolation.upper() == "AUTOCOMMIT":
        raise ImproperlyConfiguredException(
            "The admin writes each change, its history entry and its version check in one transaction, which an "
            "engine in AUTOCOMMIT cannot give. Remove isolation_level='AUTOCOMMIT' from the EngineConfig."
        )
    keep_engine_rules(config.get_engine())


def keep_engine_rules(engine: AsyncEngine) -> None:
    """The engine half of the rules on one engine, once (a second database's, beside the config's own)."""
    sync_engine = engine.sync_engine
    rules = _ENGINE_RULES.get(engine.dialect.name, ())
    if rules and event.contains(sync_engine, *rules[0]):
        return
    if engine.dialect.name == "sqlite":
        if event.contains(sync_engine, "connect", _apply_sqlite_pragmas):
            return
        rules = _sqlite_rules(sync_engine)
        if sync_engine.pool.checkedout():
            raise ImproperlyConfiguredException(
                "The admin's SQLite rules (foreign keys on, WAL, BEGIN IMMEDIATE for writes) apply to new "
                "connections; this engine has connections open already. Mount the admin before using the engine."
            )
        use_one_trip_cursors(engine)
    for name, listener in rules:
        event.listen(sync_engine, name, listener)


class StateFirstSession(AsyncSession):
    """A session over two databases, the admin's state (its default bind: accounts, history, sessions) and the
    records' own: its commit ends the state database's transaction first, so no change is committed without
    its history entry. Should the process die between the two commits, the history holds an entry for a change
    that did not land (README, "Browsing an existing database"). tests/test_browse.py guards the order.
    """

    async def commit(self) -> None:
        await self.run_sync(_commit_default_bind_first)
        await super().commit()


def _commit_default_bind_first(session: Session) -> None:
    # SQLAlchemy commits a session's connections in no set order. The default bind's transaction is committed
    # here and marked as no longer the session's to commit; the session's own commit then ends the others.
    transaction = session.get_transaction()
    if transaction is None or session.bind is None:
        return
    session.flush()
    connections = transaction._connections  # private: see above (an entry per engine and per connection)
    first = {
        key: (connection, trans, autoclose)
        for key, (connection, trans, should_commit, autoclose) in connections.items()
        if should_commit and connection.engine is session.bind
    }
    for trans in {trans for _connection, trans, _autoclose in first.values()}:
        trans.commit()
    for key, (connection, trans, autoclose) in first.items():
        connections[key] = (connection, trans, False, autoclose)


# A server database's pool keeps every connection it opened, up to the ceiling of SQLAlchemy's default pool (its
# pool_size plus its max_overflow). With the default split, each request in flight beyond the pool's size opened an
# overflow connection that was closed as soon as it came back, and the next such request opened one again: a
# PostgreSQL backend started, its catalog caches cold, every statement prepared anew on it, which made the slowest
# requests of a busy worker (bench/README.md, stop 24). SQLite keeps the default: its connections are files.
SERVER_POOL = {"pool_size": 15, "max_overflow": 0}


def _engine_config(database_url: str) -> EngineConfig:
    if database_url.startswith("sqlite"):
        return EngineConfig(pool_pre_ping=False)
    return EngineConfig(pool_pre_ping=True, **SERVER_POOL)


def database_config(
    database_url: str, *, binds: dict[Any, AsyncEngine] | None = None, **options: Any
) -> SQLAlchemyAsyncConfig:
    """An advanced-alchemy config tuned for the admin; `options` go to SQLAlchemyAsyncConfig as they are.
    `binds` (mapped base → engine) put some models in another database than `database_url`'s, which then
    holds the admin's state (StateFirstSession).

    advanced-alchemy's FileObject and cache listeners are off (each asks Engine.execution_options(), a new
    engine object, on every flush and commit) and so is its touch_updated_timestamp listener (it computes
    every column's history of every dirty object before each flush; the audit mixin's `onupdate` sets
    `updated_at` in every UPDATE already). Guarded by tests/test_request_costs.py; figures in bench/README.md.
    On a server database the pool keeps the connections it opened (`SERVER_POOL`).
    """
    session_options: dict[str, Any] = {"binds": binds, "class_": StateFirstSession} if binds else {}
    config = SQLAlchemyAsyncConfig(
        connection_string=database_url,
        session_config=AsyncSessionConfig(
            expire_on_commit=False, info={"enable_cache_listener": False}, **session_options
        ),
        enable_file_object_listener=False,
        enable_touch_updated_timestamp_listener=False,
        engine_config=_engine_config(database_url),
        **options,
    )
    keep_transaction_rules(config)
    return config


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


class TransactionMiddleware:
    """Commits the request's session as the response starts (2xx and 3xx; anything else rolls back).

    It sits inside the session middleware, so the request's transaction has ended before the session store
    writes on its own connection (SQLite has a single writer). A commit that fails turns the response into
    an error page instead of acknowledging a write that did not happen.
    """

    def __init__(self, app: ASGIApp, session_scope_key: str) -> None:
        self.app = app
        self.key = session_scope_key

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
