"""`/admin/health`, a load balancer's probe: "ok" when every database the admin uses answers, a 503 naming the one
that does not otherwise; no sign-in, no cookie, no session or transaction, and never waiting long."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

import anyio
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import SECRET, count_statements
from webapp.admin.health import HEALTH_TIMEOUT, engines_of, failure
from webapp.app import create_app
from webapp.browse import BrowseSettings
from webapp.browse import create_app as create_browse_app
from webapp.settings import Settings

pytestmark = pytest.mark.anyio


async def test_the_probe_answers_ok_to_anyone_without_cookies_or_a_session(anonymous, database_url):
    with count_statements() as statements:
        response = await anonymous.client.get("/admin/health", follow_redirects=False)
    assert response.status_code == 200
    assert response.text == "ok\n"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers
    assert not anonymous.client.cookies
    # One SELECT 1: no session read or written, no BEGIN (no lock, no transaction), nothing else.
    assert statements == ["SELECT 1"]


async def test_a_signed_in_browser_gets_the_same_answer_and_its_session_is_not_touched(browser):
    response = await browser.client.get("/admin/health", follow_redirects=False)
    assert (response.status_code, response.text) == (200, "ok\n")
    assert "set-cookie" not in response.headers


async def test_the_probe_does_not_wait_for_a_writer_on_sqlite(anonymous, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's single write lock")
    await anonymous.client.get("/admin/health")  # the database file exists
    writer = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # a request in the middle of a long write
        started = time.monotonic()
        response = await anonymous.client.get("/admin/health")
        assert (response.status_code, response.text) == (200, "ok\n")
        assert time.monotonic() - started < HEALTH_TIMEOUT
    finally:
        writer.execute("ROLLBACK")
        writer.close()


async def test_only_get_is_answered(anonymous):
    response = await anonymous.client.post("/admin/health")
    assert response.status_code == 405
    assert "set-cookie" not in response.headers


@pytest.fixture
def server_down():
    # Nothing listens on port 1. Made before the test runs: the app's logging setup replaces the log capture's.
    return create_app(Settings(database_url="postgresql+asyncpg://someone:hunter2@127.0.0.1:1/shop", secret_key=SECRET))


async def test_a_database_server_that_refuses_connections_is_a_503_naming_it(server_down, caplog):
    """An app started while its PostgreSQL server is down starts all the same, and says so at /admin/health."""
    with caplog.at_level(logging.WARNING):
        async with AsyncTestClient(app=server_down) as client:
            started = time.monotonic()
            response = await client.get("/admin/health")
            assert time.monotonic() - started < HEALTH_TIMEOUT
            assert response.status_code == 503
            assert response.text == "postgresql database shop does not answer\n"
            again = await client.get("/admin/health")
            assert again.status_code == 503
    assert "hunter2" not in response.text and "someone" not in response.text and "127.0.0.1" not in response.text
    warnings = [r for r in caplog.records if r.name == "webapp.admin.health"]
    assert len(warnings) == 2 and all(r.levelno == logging.WARNING and not r.exc_info for r in warnings)
    assert "postgresql database shop does not answer" in warnings[0].getMessage()
    assert "Connect call failed" in warnings[0].getMessage() and "hunter2" not in caplog.text


async def test_a_sqlite_file_that_cannot_be_opened_is_a_503_until_it_can(tmp_path):
    missing = tmp_path / "not yet"
    url = f"sqlite+aiosqlite:///{missing}/admin.sqlite3"
    async with AsyncTestClient(app=create_app(Settings(database_url=url, secret_key=SECRET))) as client:
        down = await client.get("/admin/health")
        assert (down.status_code, down.text) == (503, "sqlite database admin.sqlite3 does not answer\n")
        assert "set-cookie" not in down.headers
        # The process keeps serving; once the database can be opened, the probe says so.
        missing.mkdir()
        up = await client.get("/admin/health")
        assert (up.status_code, up.text) == (200, "ok\n")


async def test_a_database_that_hangs_is_given_up_on_within_the_timeout():
    """A server that accepts the connection and never says a word (a hung host, a black-holing firewall)."""
    silent: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    engine = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/hung")
    try:
        started = time.monotonic()
        reason = await failure(engine, 0.3)
        assert reason == "no answer within 0.3 s"
        assert time.monotonic() - started < 2
        assert silent, "the probe did reach the server"
    finally:
        await engine.dispose()
        for writer in silent:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.fixture
def browsed(tmp_path: Path) -> tuple[str, str, Path]:
    folder = tmp_path / "shop"
    folder.mkdir()
    shop = sqlite3.connect(folder / "shop.sqlite3")
    shop.execute("CREATE TABLE product (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    shop.execute("CREATE TABLE health (id INTEGER PRIMARY KEY, status TEXT)")  # named like the probe
    shop.commit()
    shop.close()
    return f"sqlite+aiosqlite:///{folder}/shop.sqlite3", f"sqlite+aiosqlite:///{tmp_path}/state.sqlite3", folder


async def test_make_browse_probes_the_browsed_database_and_the_state_database(browsed):
    browsed_url, state_url, folder = browsed
    settings = BrowseSettings(database_url=browsed_url, state_url=state_url, secret_key=SECRET, max_form_fields=7)
    app = create_browse_app(settings)
    asked: list[str] = []

    def record(conn, cursor, statement, *args):
        asked.append(f"{Path(conn.engine.url.database).name}: {statement}")

    event.listen(Engine, "before_cursor_execute", record)
    try:
        async with AsyncTestClient(app=app) as client:
            asked.clear()  # startup's own statements
            response = await client.get("/admin/health")
            assert (response.status_code, response.text) == (200, "ok\n")
            assert sorted(asked) == ["shop.sqlite3: SELECT 1", "state.sqlite3: SELECT 1"]
            # The browsed database goes away (its folder moved, its pooled connections closed).
            site = next(plugin.site for plugin in app.plugins.init if hasattr(plugin, "site"))
            engines = engines_of(site.db_config)
            assert len(engines) == 2
            for engine in engines:
                await anyio.to_thread.run_sync(client.blocking_portal.call, engine.dispose)
            folder.rename(folder.with_name("moved"))
            down = await client.get("/admin/health")
            assert (down.status_code, down.text) == (503, "sqlite database shop.sqlite3 does not answer\n")
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    # A table named like the probe's path is listed under the next free slug.
    assert site.get("health_").model.__table__.name == "health"
    # make browse passes its form limits (MAX_FORM_BYTES, MAX_FORM_FIELDS) to the admin as make run does.
    plugin = next(plugin for plugin in app.plugins.init if getattr(plugin, "site", None) is site)
    assert (plugin.max_form_bytes, plugin.max_form_fields) == (1024 * 1024, 7)
