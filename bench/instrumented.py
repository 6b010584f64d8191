"""uvicorn factories for the benchmark: the real app (and the floor), counting SQL statements per request.

    python -m uvicorn --factory bench.instrumented:admin_app ...
    python -m uvicorn --factory bench.instrumented:floor_app ...
    python -m uvicorn --factory bench.instrumented:bare_floor_app ...

The app itself is untouched: `webapp.app.create_app()` is wrapped in an ASGI callable that counts every statement
the request sends to the database (SQLAlchemy's `before_cursor_execute`, on every engine, scoped to the request by
a context variable) and reports the count in an `x-sql-statements` response header. Statements that run after
the response has started (a streamed body) are not in the header. COMMIT/BEGIN are not cursor executions and are
not counted. With BENCH_ECHO_SQL=1 (`run.py --echo-sql`), requests carrying an `x-bench-echo-sql` header (the
probes, never the load) also log each statement with their path.

With BENCH_SLOW_MS=<ms> (`run.py --log-slow MS`), every request slower than that is logged with when it began and
where its time went: its statements (all, and the longest), its COMMIT (from the engine's commit event to the
session's after_commit), Python's garbage collections while it ran, and the pool's new connections; every new
database connection and every collection of the oldest generation is logged too, so a slow request can be matched
with what else happened then (and with PostgreSQL's own log: checkpoints).
"""

from __future__ import annotations

import gc
import logging
import os
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

HEADER = b"x-sql-statements"
ECHO = os.environ.get("BENCH_ECHO_SQL") == "1"
ECHO_HEADER = b"x-bench-echo-sql"
_statements: ContextVar[list[int] | None] = ContextVar("bench_sql_statements", default=None)
_echo: ContextVar[str] = ContextVar("bench_echo", default="")  # the request's method and path when echoing
log = logging.getLogger("uvicorn.error")
SLOW_MS = float(os.environ.get("BENCH_SLOW_MS") or 0)


@dataclass
class Timing:
    """Where one request's time went (BENCH_SLOW_MS), in seconds of time.perf_counter()."""

    started: float
    gc_before: float
    connects_before: int
    sql: float = 0.0
    longest: float = 0.0
    longest_sql: str = ""
    statement_started: float = 0.0
    commit_started: float = 0.0
    commit: float = 0.0


_timing: ContextVar[Timing | None] = ContextVar("bench_timing", default=None)
_process = {"gc": 0.0, "gc_started": 0.0, "connects": 0}  # this process's collections and new connections


def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    box = _statements.get()
    if box is not None:
        box[0] += 1
        echo = _echo.get()
        if echo:
            log.info("SQL %d for %s: %s", box[0], echo, " ".join(statement.split())[:300])
    timing = _timing.get()
    if timing is not None:
        timing.statement_started = time.perf_counter()


def _statement_done(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    timing = _timing.get()
    if timing is not None and timing.statement_started:
        took = time.perf_counter() - timing.statement_started
        timing.sql += took
        if took > timing.longest:
            timing.longest, timing.longest_sql = took, " ".join(statement.split())[:120]


def _commit_begins(_conn: Any) -> None:
    timing = _timing.get()
    if timing is not None:
        timing.commit_started = time.perf_counter()


def _committed(_session: Any) -> None:
    timing = _timing.get()
    if timing is not None and timing.commit_started:
        timing.commit += time.perf_counter() - timing.commit_started
        timing.commit_started = 0.0


def _connected(_dbapi_connection: Any, _record: Any) -> None:
    _process["connects"] += 1
    log.info("SLOW-LOG new database connection at %s (the process's %d.)", _now(), _process["connects"])


def _collecting(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _process["gc_started"] = time.perf_counter()
        return
    took = time.perf_counter() - _process["gc_started"]
    _process["gc"] += took
    if info.get("generation") == 2:
        log.info("SLOW-LOG gc of generation 2 at %s: %.1f ms, %d collected", _now(), took * 1000, info["collected"])


def _now() -> str:
    return f"{datetime.now(UTC):%H:%M:%S.%f}"[:-3]


def _watch_slow_requests() -> None:
    if event.contains(Engine, "after_cursor_execute", _statement_done):
        return
    event.listen(Engine, "after_cursor_execute", _statement_done)
    event.listen(Engine, "commit", _commit_begins)
    event.listen(Session, "after_commit", _committed)
    event.listen(Pool, "connect", _connected)
    gc.callbacks.append(_collecting)


def _log_if_slow(timing: Timing, what: str, statements: int) -> None:
    took = time.perf_counter() - timing.started
    if took * 1000 < SLOW_MS:
        return
    began = datetime.now(UTC).timestamp() - took
    log.info(
        "SLOW %s: %.1f ms from %s; %d statements %.1f ms (longest %.1f ms: %s); commit %.1f ms; gc %.1f ms; "
        "new connections %d",
        what,
        took * 1000,
        f"{datetime.fromtimestamp(began, UTC):%H:%M:%S.%f}"[:-3],
        statements,
        timing.sql * 1000,
        timing.longest * 1000,
        timing.longest_sql,
        timing.commit * 1000,
        (_process["gc"] - timing.gc_before) * 1000,
        _process["connects"] - timing.connects_before,
    )


class CountStatements:
    """ASGI wrapper: one counter per HTTP request, reported in the response's headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        if not event.contains(Engine, "before_cursor_execute", _count):
            event.listen(Engine, "before_cursor_execute", _count)
        if SLOW_MS:
            _watch_slow_requests()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        box = [0]
        token = _statements.set(box)
        echo = ""
        if ECHO and any(name == ECHO_HEADER for name, _ in scope["headers"]):
            query = scope.get("query_string", b"").decode()
            echo = f"{scope['method']} {scope['path']}{'?' if query else ''}{query}"
        echo_token = _echo.set(echo)
        timing = Timing(time.perf_counter(), _process["gc"], _process["connects"]) if SLOW_MS else None
        timing_token = _timing.set(timing)

        async def send_with_count(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (HEADER, str(box[0]).encode())]
                message = {**message, "headers": headers}  # type: ignore[assignment]
            await send(message)

        try:
            await self.app(scope, receive, send_with_count)
        finally:
            if timing is not None:
                _log_if_slow(timing, f"{scope['method']} {scope['path']}", box[0])
            _statements.reset(token)
            _echo.reset(echo_token)
            _timing.reset(timing_token)


def admin_app() -> CountStatements:
    from webapp.app import create_app

    return CountStatements(create_app())


def browse_app() -> CountStatements:
    from webapp.browse import create_app

    return CountStatements(create_app())


def floor_app() -> CountStatements:
    from bench.floor import create_floor_app

    return CountStatements(create_floor_app())


def bare_floor_app() -> CountStatements:
    from bench.floor import create_floor_app

    return CountStatements(create_floor_app(signed_in=False))
