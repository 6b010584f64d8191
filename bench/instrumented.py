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
"""

from __future__ import annotations

import logging
import os
from contextvars import ContextVar
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import event
from sqlalchemy.engine import Engine

HEADER = b"x-sql-statements"
ECHO = os.environ.get("BENCH_ECHO_SQL") == "1"
ECHO_HEADER = b"x-bench-echo-sql"
_statements: ContextVar[list[int] | None] = ContextVar("bench_sql_statements", default=None)
_echo: ContextVar[str] = ContextVar("bench_echo", default="")  # the request's method and path when echoing
log = logging.getLogger("uvicorn.error")


def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    box = _statements.get()
    if box is not None:
        box[0] += 1
        echo = _echo.get()
        if echo:
            log.info("SQL %d for %s: %s", box[0], echo, " ".join(statement.split())[:300])


class CountStatements:
    """ASGI wrapper: one counter per HTTP request, reported in the response's headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        if not event.contains(Engine, "before_cursor_execute", _count):
            event.listen(Engine, "before_cursor_execute", _count)

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

        async def send_with_count(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (HEADER, str(box[0]).encode())]
                message = {**message, "headers": headers}  # type: ignore[assignment]
            await send(message)

        try:
            await self.app(scope, receive, send_with_count)
        finally:
            _statements.reset(token)
            _echo.reset(echo_token)


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
