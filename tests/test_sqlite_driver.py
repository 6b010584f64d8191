"""SQLite through aiosqlite in one trip to its thread per statement (webapp/admin/sqlite_driver.py): the same results,
counts, keys and errors as SQLAlchemy's own adapter. SQLite only: PostgreSQL's driver is asyncio-native."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from unittest import mock

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.admin.db import write_intent
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
        await conn.execute(text("SELECT 1"))  # the transaction is open (its BEGIN was a trip of its own)
        with _trips() as trips:
            assert (await conn.execute(text("SELECT 1 + 1"))).scalar_one() == 2
        assert trips.call_count == 1


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
