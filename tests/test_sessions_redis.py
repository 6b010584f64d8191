"""With REDIS_URL set, sessions and the sign-in throttle live in Redis, so several workers share them."""

from __future__ import annotations

import os

import pytest
import redis.asyncio as redis
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from tests.conftest import METADATA, SECRET, Admin, add_account
from webapp.app import create_app
from webapp.settings import Settings

pytestmark = pytest.mark.anyio
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def redis_client():
    client = redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, redis.ConnectionError) as exc:
        await client.aclose()
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required when CI is set: {exc}", pytrace=False)
        pytest.skip(f"Redis not available at {REDIS_URL}: {exc}")
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
