"""Where the admin's CPU goes against the floor's: both apps in one process, without HTTP or wrk.

    .venv/bin/python -m bench.inprocess --postgres --scenario update
    .venv/bin/python -m bench.inprocess --postgres --scenario update --bare --without session,audit

Both apps run in this process on one seeded 1,000-item database (the cached SQLite file's copy, or a fresh
PostgreSQL database dropped afterwards), signed in as `run.py` signs in. Requests go straight to the ASGI apps,
`--concurrency` at a time, in blocks of `--requests` that alternate admin, floor; floor, admin; ... Each block pair
gives the floor's CPU time per request over the admin's (this process only: the database's CPU is not counted),
the equivalent of the req/s ratio; the report gives each pair and their median.

The floor signs in and audits as the admin does (see bench/floor.py); `--bare` measures against the bare floor,
which does neither. `--without` takes those parts of issue #4's per-request work out of the admin, for this
measurement only, by patching this process: `session` answers the session-and-account read from memory after the
first request, `audit` skips the audit entry's INSERT. Against the bare floor the admin then does the floor's
work; how close it comes is what its machinery costs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
from litestar.types import ASGIApp, Message

from bench import run

SIZE = 1000  # items in the seeded database


def scenario_of(app: str, key: str, size: int) -> run.Scenario:
    """`run.py`'s scenario of that key, the admin's or the floor's twin: the same paths, method and body."""
    scenarios = run.admin_scenarios(size) if app == "admin" else run.floor_scenarios(size)
    return next(scenario for scenario in scenarios if scenario.key == key)


class Client:
    """Calls an ASGI app directly with a browser's cookies, over a scenario's paths in turn; every write changes
    the row it sends."""

    def __init__(self, app: ASGIApp, credentials: run.Credentials, scenario: run.Scenario) -> None:
        self.app = app
        self.scenario = scenario
        headers = run.request_headers(scenario, credentials) | {"Host": "127.0.0.1"}
        self.headers = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
        self.sent = 0

    async def send(self) -> int:
        path = self.scenario.paths[self.sent % len(self.scenario.paths)]
        self.sent += 1
        body = self.scenario.body.replace("{n}", str(self.sent)).encode()
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": self.scenario.method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": self.headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80), "state": {},
        }  # fmt: skip
        status = 0
        delivered = False

        async def receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects
            raise AssertionError

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)  # type: ignore[arg-type]
        if status != 200:
            raise run.BenchError(f"{self.scenario.method} {path} answered {status}")
        return status


async def block(client: Client, count: int, concurrency: int) -> float:
    """CPU ms per request of this process over `count` requests, `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await client.send()

    started = time.process_time()
    await asyncio.gather(*(one() for _ in range(count)))
    return (time.process_time() - started) * 1000 / count


async def started(app: ASGIApp) -> Callable[[], Awaitable[None]]:
    """Run the app's startup (its lifespan); the function returned runs its shutdown."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.get_running_loop().create_task(app(scope, inbox.get, outbox.put))  # type: ignore[arg-type]
    await inbox.put({"type": "lifespan.startup"})
    answer = await outbox.get()
    if answer["type"] != "lifespan.startup.complete":
        raise run.BenchError(f"startup failed: {answer}")

    async def stop() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task

    return stop


async def signed_in(
    app: ASGIApp, start_path: str, target: run.Target, carry: dict[str, str] | None = None
) -> run.Credentials:
    """`run.acquire_credentials`, through the ASGI app instead of a server."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", cookies=carry) as client:
        response = await client.get(start_path)
        if run._login_url(response):
            username, password = run.login_account()
            run.ensure_account(target)(username, password)
            page = await client.get(run.LOGIN_PATH)
            token = client.cookies.get("csrftoken") or ""
            if not token:
                raise run.BenchError(f"no CSRF cookie from {run.LOGIN_PATH} ({page.status_code})")
            form = {"username": username, "password": password, "_csrf_token": token}
            await client.post(run.LOGIN_PATH, data=form)
            response = await client.get(start_path)
        if response.status_code != 200:
            raise run.BenchError(f"GET {start_path} answered {response.status_code}")
        cookies = dict(client.cookies.items())
    return run.Credentials(cookies=cookies, csrf_token=cookies.get("csrftoken", ""))


def take_out(parts: set[str]) -> None:
    """Patch this process's admin so it skips the named parts of its per-request work (see the module's doc)."""
    if "session" in parts:
        from webapp.admin import sessions
        from webapp.admin.signed_in import READ_SLOT

        read = sessions.WritingStore._get_in_request
        remembered: dict[str, tuple[bytes | None, Any]] = {}

        async def from_memory(store: sessions.WritingStore, scope: Any, key: str) -> bytes | None:
            if key in remembered:
                value, row = remembered[key]
                if store.read_along is not None:
                    store.read_along.received(scope, key, row)
                return value
            value = await read(store, scope, key)
            slot = scope.get("state", {}).get(READ_SLOT)
            if slot is not None and slot[2] is not None:  # once the account is read along with the session
                remembered[key] = (value, slot[2])
            return value

        sessions.WritingStore._get_in_request = from_memory  # type: ignore[method-assign]
    if "audit" in parts:
        from webapp.admin import audit

        async def no_entry(_session: Any, _row: dict[str, Any]) -> int:
            return 0

        audit.log = no_entry  # type: ignore[assignment]


async def measure(target: run.Target, options: argparse.Namespace) -> list[tuple[float, float]]:
    os.environ.update({"DATABASE_URL": target.url, "SECRET_KEY": run.SECRET_KEY})
    from bench.floor import create_floor_app
    from webapp.app import create_app

    take_out(options.without)
    admin, floor = create_app(), create_floor_app(signed_in=not options.bare)
    stops = [await started(app) for app in (admin, floor)]
    try:
        return await _alternate(admin, floor, target, options)
    finally:
        for stop in stops:
            await stop()


async def _alternate(
    admin: ASGIApp, floor: ASGIApp, target: run.Target, options: argparse.Namespace
) -> list[tuple[float, float]]:
    admin_credentials = await signed_in(admin, "/admin/", target)
    session = {run.SESSION_COOKIE: admin_credentials.cookies.get(run.SESSION_COOKIE, "")}
    floor_credentials = await signed_in(floor, run.FLOOR_START, target, carry=None if options.bare else session)
    clients = {
        "admin": Client(admin, admin_credentials, scenario_of("admin", options.scenario, target.size)),
        "floor": Client(floor, floor_credentials, scenario_of("floor", options.scenario, target.size)),
    }
    for client in clients.values():  # warm up: compiled statements, templates, the pool
        await block(client, options.requests, options.concurrency)
    pairs = []
    for number in range(options.blocks):
        order = ("admin", "floor") if number % 2 == 0 else ("floor", "admin")
        cost = {name: await block(clients[name], options.requests, options.concurrency) for name in order}
        pairs.append((cost["admin"], cost["floor"]))
        run.log(f"block {number + 1}: admin {cost['admin']:.2f} ms, floor {cost['floor']:.2f} ms per request")
    return pairs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenario", choices=[s.key for s in run.floor_scenarios(SIZE)], default="update", help="a floor twin's key"
    )
    parser.add_argument("--postgres", action="store_true", help="a fresh PostgreSQL database instead of SQLite")
    parser.add_argument("--postgres-dsn", default=run.PG_ADMIN_DSN)
    parser.add_argument(
        "--without",
        type=lambda text: {part.strip() for part in text.split(",") if part.strip()},
        default=set(),
        help="session, audit: parts of the admin's work to take out, for this measurement only",
    )
    parser.add_argument("--bare", action="store_true", help="against the bare floor (no sign-in, no audit)")
    parser.add_argument("--blocks", type=int, default=8, help="blocks of each app (default 8)")
    parser.add_argument("--requests", type=int, default=1000, help="requests per block (default 1000)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8, as wrk's)")
    options = parser.parse_args(argv)
    if not options.without <= {"session", "audit"}:
        parser.error("--without takes session and/or audit")
    options.reseed = False
    with run.database("postgres" if options.postgres else "sqlite", SIZE, options) as target:
        pairs = asyncio.run(measure(target, options))
    ratios = [floor / admin for admin, floor in pairs]
    without = f" without {', '.join(sorted(options.without))}" if options.without else ""
    floor = "the bare floor's" if options.bare else "the floor's"
    print(
        f"{options.scenario} on {target.db}{without}: {floor} CPU per request over the admin's, "
        f"median {statistics.median(ratios):.2f} (blocks {min(ratios):.2f} to {max(ratios):.2f}); "
        f"admin {statistics.median(a for a, _ in pairs):.2f} ms, floor {statistics.median(f for _, f in pairs):.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
