"""With REDIS_URL set, sessions and the sign-in throttle live in Redis, so several workers share them, and a write
through any worker makes every worker forget what it remembered of list counts. With Redis down, the memory is
as if forgotten (tests/test_workers.py runs two real workers)."""

from __future__ import annotations

import logging

import pytest
import redis.asyncio as redis
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from tests.conftest import (
    METADATA,
    REDIS_URL,
    SECRET,
    Admin,
    add_account,
    cap_counts,
    count_statements,
    require_redis,
)
from tests.processes import free_port
from webapp.admin import AdminPlugin, sizes
from webapp.admin.sizes import RedisForgetting, SizeMemory
from webapp.app import create_app
from webapp.demo.models import Tag
from webapp.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def redis_client():
    require_redis()
    client = redis.from_url(REDIS_URL)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


async def test_two_app_instances_share_sessions_through_redis(redis_client, tmp_path):
    # The session store is what is tested here, so one database kind is enough.
    database_url = f"sqlite+aiosqlite:///{tmp_path}/redis.sqlite3"
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    await add_account(async_sessionmaker(engine), "shared", superuser=True)
    await engine.dispose()
    settings = Settings(database_url=database_url, secret_key=SECRET, create_all=True, redis_url=REDIS_URL)
    first, second = create_app(settings), create_app(settings)
    async with AsyncTestClient(app=first) as one, AsyncTestClient(app=second) as two:
        person = Admin(one)
        assert (await person.sign_in("shared")).status_code == 303
        keys = [key.decode() async for key in redis_client.scan_iter("admin*")]
        assert any("sessions" in key for key in keys), keys
        two.cookies = one.cookies
        assert (await two.get("/admin/", follow_redirects=False)).status_code == 200, "worker two knows the session"
        await person.submit("/admin/logout", {})
        two.cookies = one.cookies
        assert (await two.get("/admin/", follow_redirects=False)).status_code == 303


async def test_a_write_through_one_worker_forgets_what_every_worker_remembers_of_counts(redis_client):
    """Two processes' memories (the same Redis key), and a page of the second that read the generation just
    before the first process's write committed: what that page measured is kept for nobody."""
    first, second = (SizeMemory(RedisForgetting(REDIS_URL, key="test_sizes:generation")) for _ in range(2))
    try:
        (await second.now()).found_more_than("view", 10)
        assert (await second.now()).more_than("view", 10), "remembered while nothing is written"
        counting_meanwhile = await second.now()
        await first.forget()  # a write through the first process has committed
        counting_meanwhile.found_more_than("another view", 10)  # the rows as they were before it
        after_the_write = await second.now()
        assert not after_the_write.more_than("view", 10) and not after_the_write.more_than("another view", 10)
        assert await redis_client.get("test_sizes:generation"), "the generation lives in Redis"
    finally:
        await first.close()
        await second.close()


async def test_a_forget_redis_did_not_take_is_sent_before_the_next_generation_is_read(redis_client, monkeypatch):
    monkeypatch.setattr(sizes, "REDIS_RETRY", 0)
    memory = SizeMemory(RedisForgetting(REDIS_URL, key="test_sizes:generation"))
    other = SizeMemory(RedisForgetting(REDIS_URL, key="test_sizes:generation"))
    try:
        (await other.now()).found_more_than("view", 10)
        before = await redis_client.get("test_sizes:generation")

        async def refuse(*args: object, **kwargs: object) -> None:
            raise ConnectionError("Redis went away")

        monkeypatch.setattr(memory.forgetting._redis, "set", refuse)
        await memory.forget()  # the write stands; Redis did not hear of it
        assert await redis_client.get("test_sizes:generation") == before
        monkeypatch.undo()
        await memory.now()  # Redis answers again: the forget goes first
        assert await redis_client.get("test_sizes:generation") != before
        assert not (await other.now()).more_than("view", 10)
    finally:
        await memory.close()
        await other.close()


async def test_with_redis_down_every_list_counts_again_and_writes_are_saved(tmp_path, monkeypatch, caplog):
    """Redis down is a memory forgotten: pages count their rows again, never a server error, one warning."""
    database_url = f"sqlite+aiosqlite:///{tmp_path}/down.sqlite3"
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    db = async_sessionmaker(engine, expire_on_commit=False)
    await add_account(db, "root", superuser=True)
    async with db() as session:
        session.add_all([Tag(name="red"), Tag(name="blue"), Tag(name="green")])
        await session.commit()
    cap_counts(monkeypatch, 2)
    monkeypatch.setattr(sizes, "REDIS_RETRY", 0)  # asked again on every page, and failing every time
    app = create_app(Settings(database_url=database_url, secret_key=SECRET))  # sessions in the database
    nobody_listens = f"redis://127.0.0.1:{free_port()}/0"
    app.plugins.get(AdminPlugin).site.view_sizes = SizeMemory(RedisForgetting(nobody_listens, key="sizes"))
    async with AsyncTestClient(app=app) as client:
        # After the app's start, which sets up logging afresh (and drops the handlers it finds on the root).
        logging.getLogger("webapp.admin.sizes").addHandler(caplog.handler)
        try:
            person = Admin(client)
            assert (await person.sign_in("root")).status_code == 303
            for _ in range(2):
                with count_statements() as statements:
                    page = await person.open("/admin/tag/")
                assert page.status_code == 200 and '<span id="result-count">2+</span> tags' in page.text
                assert [s for s in statements if "count(" in s.lower()], "counted again: nothing is remembered"
            assert (await person.submit("/admin/tag/", {"name": "yellow"})).status_code == 303
        finally:
            logging.getLogger("webapp.admin.sizes").removeHandler(caplog.handler)
    async with db() as session:
        assert "yellow" in (await session.scalars(select(Tag.name))).all()
    await engine.dispose()
    warnings = [r for r in caplog.records if "Redis did not answer" in r.getMessage()]
    assert len(warnings) == 1, caplog.text
