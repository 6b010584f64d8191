"""`make serve`, the production command (python -m webapp.serve), run for real: two uvicorn workers on a free port
over a SQLite file; the probe, Secure cookies behind an HTTPS proxy, requests in flight finished after SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from tests.conftest import METADATA, PASSWORD, SECRET, add_account
from webapp.admin.accounts import sites_of, sync_permissions_on_startup, wanted_permissions
from webapp.admin.models import AdminPermission
from webapp.app import create_app
from webapp.serve import APP_FACTORY, command
from webapp.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHUTDOWN_TIMEOUT = 5


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    # The command `make serve` runs, once the database is prepared; a session of its own to clean up after.
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "webapp.serve"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def _prepare(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    await add_account(async_sessionmaker(engine), "root", superuser=True)
    await engine.dispose()


@dataclass
class Served:
    base: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    url = f"sqlite+aiosqlite:///{tmp_path}/served.sqlite3"
    asyncio.run(_prepare(url))
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DEBUG", "REDIS_URL", "WEB_CONCURRENCY"}},
        "DATABASE_URL": url,
        "SECRET_KEY": "a secret every worker shares",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": "2",
        "SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT),
    }
    log = tmp_path / "serve.log"
    process = _serve(env, log)
    server = Served(f"http://127.0.0.1:{port}", port, process, log)
    try:
        deadline = time.monotonic() + 60
        while server.output().count("Application startup complete.") < 2:
            assert process.poll() is None, server.output()
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # only when the test failed before its own SIGTERM
            process.wait(timeout=10)


def _cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name (a Secure cookie would not come back over plain http in a jar)."""
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


def _sign_in(base: str, *, proxy_says: str | None, source: str = "127.0.0.1") -> dict[str, str]:
    """The cookies the login page and the sign-in set, each request on a fresh connection as a proxy opens
    them: any worker may answer each."""
    headers = {"X-Forwarded-Proto": proxy_says, "X-Forwarded-For": "203.0.113.7"} if proxy_says else {}
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=base, headers=headers, transport=transport, timeout=10) as first:
        login = first.get("/admin/login")
    token = re.search(r"csrftoken=([^;]+)", _cookies(login)["csrftoken"]).group(1)
    with httpx.Client(base_url=base, headers=headers, transport=transport, timeout=10) as second:
        signed_in = second.post(
            "/admin/login",
            content=urlencode({"username": "root", "password": PASSWORD, "_csrf_token": token}),
            headers={"content-type": "application/x-www-form-urlencoded", "cookie": f"csrftoken={token}"},
        )
    assert signed_in.status_code == 303, signed_in.text
    return {**_cookies(login), **_cookies(signed_in)}


def test_make_serve_runs_two_workers_behind_a_proxy_and_stops_gracefully(served):
    health = httpx.get(f"{served.base}/admin/health", timeout=10)
    assert (health.status_code, health.text) == (200, "ok\n")

    # HTTPS at a proxy on 127.0.0.1 (trusted by default): the scheme is https, the admin's cookies are Secure.
    # Several sign-ins, each over fresh connections: a token one worker signed is good in the other.
    for _ in range(4):
        cookies = _sign_in(served.base, proxy_says="https")
        session = cookies["admin_session"]
        assert "; Secure" in session and "HttpOnly" in session and "Path=/admin" in session
        assert "; Secure" in cookies["csrftoken"]

    # The same header from an address that is not the proxy is not believed: plain http, no Secure.
    untrusted = _sign_in(served.base, proxy_says="https", source="127.0.0.2")
    assert "Secure" not in untrusted["admin_session"] and "Secure" not in untrusted["csrftoken"]
    plain = _sign_in(served.base, proxy_says=None)
    assert "Secure" not in plain["admin_session"]

    # A request in flight when SIGTERM comes: its body half sent. It still gets its answer, then the server stops.
    login = httpx.get(f"{served.base}/admin/login", timeout=10)
    token = login.cookies["csrftoken"]
    body = urlencode({"username": "root", "password": PASSWORD, "_csrf_token": token}).encode()
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as slow:
        slow.sendall(
            b"POST /admin/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + f"Content-Length: {len(body)}\r\nCookie: csrftoken={token}\r\n\r\n".encode()
            + body[:10]
        )
        time.sleep(0.3)  # a worker is reading the body
        stopping = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        while "Waiting for connections to close." not in served.output():  # that worker is stopping, and waits
            assert time.monotonic() - stopping < 10, served.output()
            time.sleep(0.05)
        slow.sendall(body[10:])
        answer = slow.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 303 "), answer
    assert served.process.wait(timeout=SHUTDOWN_TIMEOUT + 10) == 0
    assert time.monotonic() - stopping < SHUTDOWN_TIMEOUT + 10

    output = served.output()
    assert output.count("Application startup complete.") == 2  # two workers, each with the app's startup
    assert '"GET /admin/health HTTP/1.1" 200' in output  # access log
    assert "Received SIGTERM" in output and output.count("Finished server process") == 2
    assert "Traceback" not in output


def test_several_workers_without_a_secret_key_refuse_to_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    refused = subprocess.run(
        [sys.executable, "-m", "webapp.serve"],
        cwd=ROOT,
        env={**env, "WORKERS": "2", "PORT": str(_free_port())},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("make serve: set SECRET_KEY: with WORKERS=2 every worker must sign")
    assert "Traceback" not in refused.stderr and refused.stdout == ""


def test_the_command_line_follows_the_settings():
    argv = command({"SECRET_KEY": "k", "WORKERS": "3", "PORT": "9000", "FORWARDED_ALLOW_IPS": "10.0.0.5"})
    assert argv[:5] == [sys.executable, "-m", "uvicorn", "--factory", APP_FACTORY]
    options = " ".join(argv[5:])
    assert "--host 127.0.0.1 --port 9000 --workers 3" in options
    assert "--proxy-headers --forwarded-allow-ips 10.0.0.5" in options
    assert "--timeout-graceful-shutdown 20 --access-log" in options
    assert "--reload" not in options
    one = command({"WORKERS": "1"})  # a single worker may make its own secret
    assert one[one.index("--workers") + 1] == "1"
    with pytest.raises(SystemExit, match="DEBUG is set: debug pages show stack traces"):
        command({"SECRET_KEY": "k", "DEBUG": "1"})
    with pytest.raises(SystemExit, match="WORKERS must be a whole number of at least 1, not '0'"):
        command({"SECRET_KEY": "k", "WORKERS": "0"})


@pytest.mark.anyio
async def test_a_worker_that_starts_while_another_adds_the_permissions_starts_all_the_same(database_url):
    """Workers start together: each adds the permission rows its models need, and one of them comes second."""
    site = sites_of(create_app(Settings(database_url=database_url, secret_key=SECRET)))[0]
    engine = create_async_engine(database_url)
    try:
        if database_url.startswith("sqlite"):
            async with engine.begin() as conn:
                await conn.run_sync(METADATA.create_all)
        wanted = wanted_permissions(list(site))
        async with engine.connect() as other_worker:
            await other_worker.begin()
            rows = [{"codename": codename, "name": name} for codename, name in wanted.items()]
            await other_worker.execute(insert(AdminPermission.__table__), rows)
            starting = asyncio.create_task(sync_permissions_on_startup(site))
            await asyncio.sleep(0.5)  # this one reads no rows yet, and waits to write its own
            await other_worker.commit()
            await asyncio.wait_for(starting, 20)  # no exception: the app goes on starting
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(AdminPermission.__table__)) == len(wanted)
    finally:
        await site.db_config.get_engine().dispose()
        await engine.dispose()


def test_every_character_of_secret_key_counts(monkeypatch):
    """Keys that share their first 32 characters sign differently (they were cut to 32 bytes once)."""
    keys = ["x" * 32 + "first", "x" * 32 + "second", "short", "shorter"]
    secrets = []
    for key in keys:
        monkeypatch.setenv("SECRET_KEY", key)
        secrets.append(Settings().secret_key)
    assert len(set(secrets)) == len(keys)
    assert all(len(secret) == 32 for secret in secrets)
    monkeypatch.setenv("SECRET_KEY", keys[0])
    assert Settings().secret_key == secrets[0]  # the same key, the same secret: workers agree
