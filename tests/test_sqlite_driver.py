"""SQLite through aiosqlite in one trip to its thread per statement (webapp/admin/sqlite_driver.py): the same results,
counts, keys and errors as SQLAlchemy's own adapter. SQLite only: PostgreSQL's driver is asyncio-native."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from unittest import mock

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.admin.db import write_intent, writing
from webapp.admin.sqlite_driver import OneTripCursor
from webapp.db import make_db_config

pytestmark = pytest.mark.anyio

metadata = MetaData()
thing = Table(
    "thing",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), unique=True, nullable=False),
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_db_config(f"sqlite+aiosqlite:///{tmp_path / 'driver.sqlite3'}").get_engine()
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def _trips() -> mock._patch:
    return mock.patch.object(aiosqlite.Connection, "_execute", autospec=True, side_effect=aiosqlite.Connection._execute)


@pytest.mark.optimisation("OneTripCursor: one trip to aiosqlite's thread per statement")
async def test_a_statement_is_one_trip_to_sqlites_thread(engine):
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, aiosqlite.Connection)
        assert isinstance(raw.dbapi_connection.cursor(), OneTripCursor)
        await conn.execute(text("SELECT 1"))  # the transaction is open (its BEGIN rode along with this)
        with _trips() as trips:
            assert (await conn.execute(text("SELECT 1 + 1"))).scalar_one() == 2
        assert trips.call_count == 1


def _write_lock_is_free(path: str) -> bool:
    """Whether another connection could take SQLite's write lock on that file right now."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if "locked" not in str(error):
            raise
        return False
    else:
        other.execute("ROLLBACK")
        return True
    finally:
        other.close()


@pytest.mark.optimisation("OneTripConnection.begin_with_next_statement: a BEGIN rides with the first statement")
async def test_a_writes_begin_immediate_rides_with_its_first_statement_and_takes_the_lock(engine):
    path = engine.url.database
    with writing():
        async with engine.connect() as conn:
            with _trips() as trips:
                assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
            assert trips.call_count == 1, "BEGIN IMMEDIATE and the SELECT in one trip"
            assert not _write_lock_is_free(path), "the write lock is held from the first statement on"
            await conn.execute(insert(thing).values(name="written"))
            await conn.commit()
        assert _write_lock_is_free(path)
    async with engine.connect() as conn:
        assert (await conn.execute(select(thing.c.name))).scalars().all() == ["written"]


async def test_a_transaction_without_a_statement_sends_nothing_and_holds_no_lock(engine):
    with writing():
        async with engine.connect() as conn:
            with _trips() as trips:
                await conn.begin()
                await conn.commit()
                await conn.begin()
                await conn.rollback()
            assert trips.call_count == 0
            assert _write_lock_is_free(engine.url.database)
            await conn.execute(insert(thing).values(name="after"))  # the next transaction begins as usual
            assert not _write_lock_is_free(engine.url.database)
            await conn.commit()
    async with engine.connect() as conn:
        assert (await conn.execute(select(thing.c.name))).scalars().all() == ["after"]


async def test_a_first_statement_that_fails_after_its_begin_leaves_no_lock_behind(engine):
    with writing():
        async with engine.connect() as conn:
            with pytest.raises(OperationalError, match="no such table"):
                await conn.execute(text("SELECT * FROM missing"))
            assert not _write_lock_is_free(engine.url.database), "its BEGIN IMMEDIATE went through"
            await conn.rollback()
            assert _write_lock_is_free(engine.url.database)
            await conn.execute(insert(thing).values(name="next"))
            await conn.commit()
    async with engine.connect() as conn:
        assert (await conn.execute(select(thing.c.name))).scalars().all() == ["next"]


async def test_a_server_side_cursor_first_sends_the_begin_on_its_own(engine):
    async with engine.begin() as conn:
        await conn.execute(insert(thing), [{"name": f"n{n}"} for n in range(3)])
    with writing():
        async with engine.connect() as conn:
            streamed = await conn.stream(select(thing.c.name).order_by(thing.c.id))
            assert not _write_lock_is_free(engine.url.database), "BEGIN IMMEDIATE went before the stream"
            assert [name async for (name,) in streamed] == ["n0", "n1", "n2"]
            await conn.rollback()
        assert _write_lock_is_free(engine.url.database)


async def test_a_begin_refused_by_a_busy_database_fails_its_statement_and_the_next_transaction_begins_again(
    engine,
):
    async with engine.connect() as conn:  # the pool's one connection: stop waiting for a busy lock
        await conn.exec_driver_sql("PRAGMA busy_timeout = 0")
        await conn.commit()
    blocker = sqlite3.connect(engine.url.database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with writing():
        async with engine.connect() as conn:
            with pytest.raises(OperationalError, match="database is locked"):
                await conn.execute(insert(thing).values(name="refused"))
            await conn.rollback()
        blocker.execute("ROLLBACK")
        blocker.close()
        async with engine.connect() as conn:
            await conn.execute(insert(thing).values(name="accepted"))
            assert not _write_lock_is_free(engine.url.database), "the BEGIN IMMEDIATE was sent again"
            await conn.commit()
    async with engine.connect() as conn:
        assert (await conn.execute(select(thing.c.name))).scalars().all() == ["accepted"]


async def test_rows_keys_counts_and_many_rows_come_back_as_they_did(engine):
    async with engine.begin() as conn:
        inserted = await conn.execute(insert(thing).values(name="a"))
        assert inserted.inserted_primary_key == (1,)
        await conn.execute(insert(thing), [{"name": f"n{n}"} for n in range(5)])  # executemany
        returned = await conn.execute(
            insert(thing).returning(thing.c.id, thing.c.name), [{"name": "r1"}, {"name": "r2"}]
        )
        assert [row.name for row in returned] == ["r1", "r2"]
        changed = await conn.execute(update(thing).where(thing.c.name.like("n%")).values(name=thing.c.name + "!"))
        assert changed.rowcount == 5
        nothing = await conn.execute(update(thing).where(thing.c.name == "absent").values(name="x"))
        assert nothing.rowcount == 0
        result = await conn.execute(select(thing.c.id, thing.c.name).order_by(thing.c.id))
        assert list(result.keys()) == ["id", "name"]
        assert [row.name for row in result] == ["a", "n0!", "n1!", "n2!", "n3!", "n4!", "r1", "r2"]
        streamed = await conn.stream(select(thing.c.name).order_by(thing.c.id).limit(3))
        assert [name async for (name,) in streamed] == ["a", "n0!", "n1!"]


async def test_a_refused_write_is_sqlalchemys_error_and_the_transaction_rolls_back(engine):
    token = write_intent.set(True)  # as for a POST: BEGIN IMMEDIATE, so the rollback undoes the first insert
    try:
        async with engine.connect() as conn:
            await conn.execute(insert(thing).values(name="same"))
            with pytest.raises(IntegrityError, match=r"UNIQUE constraint failed: thing\.name"):
                await conn.execute(insert(thing).values(name="same"))
            await conn.rollback()
            assert (await conn.execute(select(thing.c.name))).all() == []
    finally:
        write_intent.reset(token)


@pytest.mark.optimisation("OneTripConnection.rollback: no trip when SQLite has no transaction open")
async def test_a_connection_back_in_the_pool_after_its_transaction_ended_makes_no_trip(engine):
    async with engine.connect() as conn:
        await conn.execute(select(thing.c.name))
        with _trips() as trips:
            await conn.rollback()  # ends the read's transaction (its BEGIN): one trip
        assert trips.call_count == 1
        with _trips() as trips:
            await conn.close()  # the pool's reset rolls back again: nothing is open, no trip
        assert trips.call_count == 0


async def test_a_write_not_committed_is_still_rolled_back(engine):
    # Without the write intent sqlite3 opens the transaction itself, just before the INSERT: it must be undone.
    async with engine.connect() as conn:
        await conn.execute(insert(thing).values(name="kept only until the rollback"))
        with _trips() as trips:
            await conn.rollback()
        assert trips.call_count == 1
        assert (await conn.execute(select(thing.c.name))).all() == []
    async with engine.connect() as conn:
        await conn.execute(insert(thing).values(name="left open"))
    async with engine.connect() as conn:  # the pool rolled the first connection back when it took it in
        assert (await conn.execute(select(thing.c.name))).all() == []
