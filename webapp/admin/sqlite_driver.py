"""SQLite through aiosqlite in one trip to its thread per statement, instead of four.

aiosqlite runs each sqlite3 call on a thread of its own and wakes the event loop for every result. SQLAlchemy's
adapter makes four such calls per statement (make a cursor, execute, fetch the rows, close), and each trip costs
more CPU than SQLite takes to answer a page's queries (bench/README.md, "Measured choices"; guarded by
tests/test_sqlite_driver.py). Here the cursor is made,
executed, read and closed in one call on aiosqlite's thread; what SQLAlchemy asks of it afterwards (rows,
description, rowcount, lastrowid) was kept from that call.

A transaction's BEGIN (BEGIN IMMEDIATE for a write, see `webapp.admin.db`) rides along with its first statement
in that same call rather than making a trip of its own (`OneTripConnection.begin_with_next_statement`).

Only the buffered cursor changes. Server-side cursors (`stream()`, the CSV export) stay SQLAlchemy's own (sending
a BEGIN still held back first, on its own), and so does everything else: connecting, commit, rollback,
isolation level, error translation.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import EMPTY_DICT

_Outcome = tuple[Any, int, int | None, list[Any] | None]


def _begin_only(connection: aiosqlite.Connection, begin: str) -> None:
    """Runs on aiosqlite's thread: a transaction's BEGIN."""
    connection._conn.execute(begin).close()


def _execute(
    connection: aiosqlite.Connection, begin: str | None, operation: str, parameters: Any, many: bool
) -> _Outcome:
    """Runs on aiosqlite's thread: the transaction's BEGIN when it is still to be sent, then the whole life of
    one sqlite3 cursor."""
    if begin is not None:
        _begin_only(connection, begin)
    cursor = connection._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No aiosqlite cursor is made here (that would be a trip of its own): `_execute` makes one per statement.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        adapt_connection = self._adapt_connection
        begin, adapt_connection.begin = adapt_connection.begin, None
        async with adapt_connection._execute_mutex:
            outcome = await self._connection._execute(_execute, self._connection, begin, operation, parameters, many)
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows) if rows is not None else collections.deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._run(operation, seq_of_parameters, many=True)

    async def _async_soft_close(self) -> None:
        return None  # closed on aiosqlite's thread already

    def close(self) -> None:
        self._rows.clear()

    def nextset(self) -> None:
        return None  # sqlite3 has no multiple result sets

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None  # sqlite3 ignores them


class ServerSideCursor(AsyncAdapt_aiosqlite_ss_cursor):
    """SQLAlchemy's own server-side cursor, which sends a BEGIN still held back before its statement."""

    __slots__ = ()
    _adapt_connection: OneTripConnection

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._adapt_connection.send_begin()
        return await super()._execute_async(operation, parameters)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._adapt_connection.send_begin()
        return await super()._executemany_async(operation, seq_of_parameters)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """`begin` holds a transaction's BEGIN until the transaction's first statement, which takes it along to
    aiosqlite's thread (`begin_with_next_statement`)."""

    __slots__ = ("begin",)
    _cursor_cls = OneTripCursor  # type: ignore[assignment]
    _ss_cursor_cls = ServerSideCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: aiosqlite.Connection) -> None:
        super().__init__(dbapi, connection)
        self.begin: str | None = None

    def begin_with_next_statement(self, begin: str) -> None:
        """Send `begin` (BEGIN or BEGIN IMMEDIATE) in the same trip as the next statement rather than in one of
        its own: a transaction's first statement comes right after its BEGIN anyway, and a write request's
        BEGIN IMMEDIATE is still sent before any of its statements, so the write lock is still taken before the
        first read. A transaction that ends without a statement sends neither (it had nothing to commit or roll
        back). Guarded by tests/test_sqlite_driver.py."""
        self.begin = begin

    async def send_begin(self) -> None:
        """Send a BEGIN still held back on its own (before a statement that does not take it along)."""
        begin, self.begin = self.begin, None
        if begin is not None:
            await self._connection._execute(_begin_only, self._connection, begin)

    def commit(self) -> None:
        if self.begin is not None:  # no statement since BEGIN: there is no transaction to commit
            self.begin = None
            return
        super().commit()

    def rollback(self) -> None:
        """No trip to aiosqlite's thread when there is nothing to roll back.

        The pool rolls a connection back again when it takes it in, after the transaction was committed or
        rolled back already: sqlite3's rollback then does nothing, yet the call through aiosqlite is a trip to
        its thread and back, on every request. `in_transaction` is SQLite's autocommit flag, read while no
        statement runs on this connection (SQLAlchemy rolls back between statements only). Guarded by
        tests/test_sqlite_driver.py.
        """
        self.begin = None
        connection = self._connection._connection
        if connection is not None and not connection.in_transaction:
            return
        super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def use_one_trip_cursors(engine: AsyncEngine) -> None:
    """Make an aiosqlite engine's future connections use OneTripCursor (before its first connection)."""
    dialect = engine.sync_engine.dialect
    if dialect.driver != "aiosqlite":
        return
    dialect.dbapi = OneTripDBAPI(aiosqlite, sqlite3)
