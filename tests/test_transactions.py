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
from webapp.admin.db import one_snapshot, only_reading, writer_queue, writing
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


@pytest.fixture
async def sqlite_engine(tmp_path) -> AsyncIterator[AsyncEngine]:
    engine = make_db_config(f"sqlite+aiosqlite:///{tmp_path}/queue.sqlite3").get_engine()
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE turn (writer INTEGER)"))
    yield engine
    await engine.dispose()


async def _write(engine: AsyncEngine, writer: int, started: list[int], hold: float = 0.0, fail: bool = False):
    with writing():
        try:
            async with engine.begin() as conn:
                started.append(writer)
                await conn.execute(text("INSERT INTO turn VALUES (:w)"), {"w": writer})
                await asyncio.sleep(hold)
                if fail:
                    raise RuntimeError("this writer's transaction fails")
        except RuntimeError:
            pass


@pytest.mark.optimisation("SQLite writers of one process take the write lock first come, first served")
async def test_sqlite_writers_of_one_process_begin_in_the_order_they_asked(sqlite_engine):
    connections = [await sqlite_engine.connect() for _ in range(8)]
    for conn in connections:  # back to the pool, open: a writer then reaches BEGIN without connecting first
        await conn.close()
    started: list[int] = []
    first = asyncio.create_task(_write(sqlite_engine, 0, started, hold=0.2))
    await asyncio.sleep(0.05)  # the first writer holds the write lock; the others queue behind it, in order
    queue = writer_queue(sqlite_engine)
    assert queue is not None
    waiting = []
    for writer in range(1, 8):
        waiting.append(asyncio.create_task(_write(sqlite_engine, writer, started)))
        while queue.waiting < writer:  # noqa: ASYNC110 (this writer is in the queue before the next one asks)
            await asyncio.sleep(0.001)
    await asyncio.gather(first, *waiting)
    assert started == list(range(8))
    async with sqlite_engine.connect() as conn:
        assert (await conn.scalars(text("SELECT writer FROM turn ORDER BY rowid"))).all() == list(range(8))


async def test_a_failed_sqlite_write_lets_the_next_writer_in_and_keeps_nothing(sqlite_engine):
    started: list[int] = []
    await asyncio.wait_for(
        asyncio.gather(
            _write(sqlite_engine, 1, started, hold=0.05, fail=True),
            _write(sqlite_engine, 2, started),
            _write(sqlite_engine, 3, started),
        ),
        timeout=5,
    )
    assert started[0] == 1 and sorted(started) == [1, 2, 3]
    async with sqlite_engine.connect() as conn:
        assert sorted((await conn.scalars(text("SELECT writer FROM turn"))).all()) == [2, 3]


async def test_a_sqlite_writer_that_waits_past_the_queue_timeout_goes_on_and_both_writes_land(sqlite_engine, caplog):
    queue = writer_queue(sqlite_engine)
    assert queue is not None
    queue.timeout = 0.1  # the busy timeout's job, shortened: a hold longer than this makes the next writer go on
    started: list[int] = []
    with caplog.at_level("WARNING", logger="webapp.admin.db"):
        await asyncio.wait_for(
            asyncio.gather(
                _write(sqlite_engine, 1, started, hold=0.4),
                _write(sqlite_engine, 2, started),
            ),
            timeout=10,
        )
    assert "going on without it" in caplog.text
    async with sqlite_engine.connect() as conn:
        assert sorted((await conn.scalars(text("SELECT writer FROM turn"))).all()) == [1, 2]
    # The queue is not left held: a third writer gets it without waiting out the timeout.
    caplog.clear()
    with caplog.at_level("WARNING", logger="webapp.admin.db"):
        await asyncio.wait_for(_write(sqlite_engine, 3, started), timeout=1)
    assert "going on without it" not in caplog.text
    assert queue.waiting == 0
