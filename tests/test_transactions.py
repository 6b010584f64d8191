"""A request that only reads runs without a transaction (one round trip to the database fewer each way); one
that writes runs in one, as does everything outside requests; an export reads in one transaction through a
server-side cursor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import count_statements
from webapp.admin.db import one_snapshot, only_reading, writing
from webapp.db import make_db_config

pytestmark = pytest.mark.anyio


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_db_config(database_url).get_engine()
    yield engine
    await engine.dispose()


async def _in_one_transaction(engine: AsyncEngine) -> bool:
    """Whether two statements a moment apart share a transaction: the database's transaction clock stands
    still inside one (now() on PostgreSQL), MariaDB is out of autocommit, and SQLite's BEGIN is a
    statement of its own."""
    with count_statements() as statements:
        async with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                first = await conn.scalar(select(func.now()))
                await asyncio.sleep(0.02)
                second = await conn.scalar(select(func.now()))
                same_clock = first == second
            elif engine.dialect.name in {"mysql", "mariadb"}:
                # Outside autocommit, MariaDB holds every statement in one transaction until COMMIT.
                same_clock = not await conn.scalar(text("SELECT @@autocommit"))
            else:
                await conn.execute(select(1))
                await conn.execute(select(2))
                same_clock = None
            await conn.commit()
    if same_clock is not None:
        return same_clock
    return any(s.startswith("BEGIN") for s in statements)


async def test_a_request_that_reads_runs_without_a_transaction_and_one_that_writes_in_one(engine):
    with only_reading():
        assert not await _in_one_transaction(engine), "a reader: each statement on its own"
        with writing():  # e.g. the session store writing during a GET
            assert await _in_one_transaction(engine), "a writer: one transaction"
        assert not await _in_one_transaction(engine), "the connection went back to the pool without one"
        with one_snapshot():
            assert await _in_one_transaction(engine), "a reader that asks for one snapshot"
    with writing():
        assert await _in_one_transaction(engine)


async def test_outside_requests_work_runs_in_transactions(engine):
    """The CLI, migrations and startup (permission rows) are not requests: all or nothing, as always."""
    assert await _in_one_transaction(engine)


async def test_an_export_streams_through_a_server_side_cursor_in_one_transaction(browser, demo):
    exported = await browser.open("/admin/item/export.jsonl")
    assert exported.status_code == 200
    assert sorted(line.split('"name": "')[1].split('"')[0] for line in exported.text.splitlines()) == [
        "Chair",
        "Lamp",
    ]
