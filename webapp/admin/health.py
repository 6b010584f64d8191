"""`GET <path>/health`: does every database the admin uses answer? For a load balancer's probe.

It sits on a router of its own, outside the admin's middleware: no sign-in, no session read or cookie, no CSRF
cookie, no transaction. Each database gets a `SELECT 1` outside any transaction (the admin's reading rules: no
BEGIN, so no lock on SQLite and no transaction anywhere), all at once, each bounded by `HEALTH_TIMEOUT`. The answer
is a plain `ok`, or a 503 that names each database that did not answer by its kind and name (no host, user or
password; the reason goes to the log).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.enums import MediaType
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.admin.db import only_reading
from webapp.admin.site import site_of

log = logging.getLogger(__name__)

# Load balancers give a probe a few seconds before they count it as failed. Answering within that, with a 503
# that names the database, says more than their own timeout would; and a hung database must not keep probes
# (and the connections they hold) waiting on it.
HEALTH_TIMEOUT = 3.0

NO_STORE = {"Cache-Control": "no-store"}


def engines_of(config: Any) -> list[AsyncEngine]:
    """The engines the admin's sessions use: the config's own, and those its session binds some models to
    (`make browse` keeps the admin's state in one database and reads the browsed one through binds)."""
    engines = [config.get_engine()]
    binds = getattr(config.session_config, "binds", None)
    for bound in binds.values() if isinstance(binds, dict) else ():
        if isinstance(bound, AsyncEngine) and all(bound is not engine for engine in engines):
            engines.append(bound)
    return engines


def database_name(engine: AsyncEngine) -> str:
    """The database as an operator knows it, without where it is or who connects: `postgresql database shop`."""
    url = engine.url
    name = url.database or ""
    if url.get_backend_name() == "sqlite":
        name = Path(name).name if name not in ("", ":memory:") else "in memory"
    return f"{url.get_backend_name()} database {name}".rstrip()


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def failure(engine: AsyncEngine, seconds: float) -> str | None:
    """Why `engine`'s database did not answer `SELECT 1` within `seconds`, or None when it did."""
    try:
        with only_reading():
            async with asyncio.timeout(seconds):
                await _select_one(engine)
    except TimeoutError:
        return f"no answer within {seconds:g} s"
    except DBAPIError as exc:
        return f"{type(exc.orig).__name__}: {exc.orig}"
    # Whatever a driver raises (refused connections are OSError, some drivers raise their own): the probe's
    # answer is a 503 and a line in the log, never a 500 with a trace.
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@get("/health", name="admin:health", include_in_schema=False)
async def health(request: Request[Any, Any, Any]) -> Response[str]:
    engines = engines_of(site_of(request).db_config)
    failures = await asyncio.gather(*(failure(engine, HEALTH_TIMEOUT) for engine in engines))
    down = [(engine, reason) for engine, reason in zip(engines, failures, strict=True) if reason is not None]
    if not down:
        return Response("ok\n", media_type=MediaType.TEXT, headers=NO_STORE)
    for engine, reason in down:
        log.warning(
            "health check: %s does not answer (%s): %s",
            database_name(engine),
            engine.url.render_as_string(hide_password=True),
            reason,
        )
    body = "".join(f"{database_name(engine)} does not answer\n" for engine, _ in down)
    return Response(body, media_type=MediaType.TEXT, status_code=HTTP_503_SERVICE_UNAVAILABLE, headers=NO_STORE)
