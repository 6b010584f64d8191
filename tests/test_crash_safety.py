"""Crash safety: a server killed with SIGKILL under eight concurrent writers, and started again on the same
database, has kept every write it acknowledged, and holds no write half-done: no change without its history
entry, no entry without its change. The short run of `python -m bench.writers --kill` (bench/README.md,
"Crash safety"), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import create_async_engine

from bench.writers import Acknowledged, Edit, arrange_items, check_crash_safety, crash_run
from tests.conftest import METADATA, scratch_postgres
from webapp.admin.models import AdminLogEntry
from webapp.demo.models import Item, Tag


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it yet: the run migrates it, as production does."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/crash.sqlite3"
        return
    with scratch_postgres("admin_crash") as url:
        yield url


def test_a_server_killed_under_eight_writers_keeps_every_acknowledged_write_whole(empty_database):
    report = crash_run(empty_database, writers=8, seconds=2, kills=1, demo_data=False)
    summary = report.summary()
    assert report.findings.missing == [], f"every acknowledged write is in the database\n{summary}"
    assert report.findings.half_written == [], f"every change has its history entry, every entry its change\n{summary}"
    assert report.problems == [], f"no 5xx, no 'database is locked'\n{summary}"
    assert report.kills == 1, summary
    assert report.acknowledged.creates and report.acknowledged.edits, f"tags created, items edited\n{summary}"
    assert report.after_last_restart > 0, f"the restarted server took writes again\n{summary}"


def _entry(model: str, pk: object, label: str, action: str, changes: dict[str, list[int]] | None = None) -> dict:
    return {
        "username": "writer",
        "model": model,
        "object_pk": str(pk),
        "object_label": label,
        "action": action,
        "changes": changes or {},
    }


async def _arrange_a_damaged_database(url: str) -> list[int]:
    """What a broken server could leave: an acknowledged tag lost, a tag without its 'create' entry, an entry
    without its tag, an entry naming another tag than its own, and an item whose last change has no entry."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(METADATA.create_all)
        items = await arrange_items(url)
        log, tag, item = AdminLogEntry.__table__, Tag.__table__, Item.__table__
        async with engine.begin() as conn:
            await conn.execute(
                insert(tag),
                [{"id": 1, "name": "crash-0-1"}, {"id": 2, "name": "crash-0-2"}, {"id": 3, "name": "crash-0-4"}],
            )
            await conn.execute(
                insert(log),
                [
                    _entry("tag", 1, "crash-0-1", "create"),
                    _entry("tag", 3, "crash-0-5", "create"),
                    _entry("tag", 9, "crash-0-9", "create"),
                    # The first item: 0 → 5 with its entry, then 5 → 7 without one.
                    _entry("item", items[0], "crash item 1", "update", {"quantity": [0, 5]}),
                ],
            )
            await conn.execute(update(item).where(item.c.id == items[0]).values(quantity=7, version=3))
        return items
    finally:
        await engine.dispose()


def test_the_check_finds_a_lost_write_and_each_kind_of_half_written_one(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/damaged.sqlite3"
    items = asyncio.run(_arrange_a_damaged_database(url))
    acknowledged = Acknowledged(
        creates=["crash-0-1", "crash-0-3"], edits=[Edit(items[0], 1, 5), Edit(items[0], 2, 7), Edit(items[1], 1, 4)]
    )
    findings = asyncio.run(check_crash_safety(url, acknowledged, items))
    assert findings.missing == [
        "tag crash-0-3: acknowledged, not stored",
        f"item {items[0]}: the edit to 7 from version 2 was acknowledged, the history holds None there",
        f"item {items[1]}: the edit to 4 from version 1 was acknowledged, the history holds None there",
    ]
    assert findings.half_written == [
        "tag crash-0-2 (id 2): 0 'create' entries",
        "the 'create' entry for tag 3 names 'crash-0-5', the tag is 'crash-0-4'",
        "a 'create' entry for tag 9, which is not there",
        f"item {items[0]}: quantity 7, its history ends at 5",
        f"item {items[0]}: version 3 after 1 'update' entries (from version 1)",
    ]
    assert (findings.stored_creates, findings.unacknowledged_creates, findings.stored_edits) == (1, 2, 1)
