"""SQLite through aiosqlite in one trip to its thread per statement, instead of four.

aiosqlite runs each sqlite3 call on a thread of its own and wakes the event loop for every result. SQLAlchemy's
adapter makes four such calls per statement (make a cursor, execute, fetch the rows, close), and each trip costs
more CPU than SQLite takes to answer a page's queries (bench/README.md, "Measured choices"; guarded by
tests/test_sqlite_driver.py). Here the cursor is made,
executed, read and closed in one call on aiosqlite's thread; what SQLAlchemy asks of it afterwards (rows,
description, rowcount, lastrowid) was kept from that call.

Only the buffered cursor changes. Server-side cursors (`stream()`, the CSV export) stay SQLAlchemy's own, and
so does everything else: connecting, commit, rollback, isolation level, error translation.
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
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import EMPTY_DICT

_Outcome = tuple[Any, int, int | None, list[Any] | None]


def _execute(connection: aiosqlite.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """Runs on aiosqlite's thread: the whole life of one sqlite3 cursor."""
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
        async with self._adapt_connection._execute_mutex:
            outcome = await self._connection._execute(_execute, self._connection, operation, parameters, many)
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


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor

    def rollback(self) -> None:
        """No trip to aiosqlite's thread when there is nothing to roll back.

        The pool rolls a connection back again when it takes it in, after the transaction was committed or
        rolled back already: sqlite3's rollback then does nothing, yet the call through aiosqlite is a trip to
        its thread and back, on every request. `in_transaction` is SQLite's autocommit flag, read while no
        statement runs on this connection (SQLAlchemy rolls back between statements only). Guarded by
        tests/test_sqlite_driver.py.
        """
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
