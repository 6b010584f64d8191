"""Eight writers at once (a short version of bench/writers.py): no 5xx, no "database is locked", and every
acknowledged write is in the database afterwards."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from tests.conftest import Admin
from webapp.demo.models import Item, Tag

pytestmark = pytest.mark.anyio

WRITERS = 8
SECONDS = 3.0


async def test_concurrent_writers_lose_nothing(browser, demo, db):
    acknowledged: list[str] = []
    statuses: list[int] = []
    deadline = time.monotonic() + SECONDS

    async def writer(number: int) -> None:
        person = Admin(browser.client)
        person.htmx = number % 2 == 1
        sequence = 0
        while time.monotonic() < deadline:
            sequence += 1
            name = f"w{number}-{sequence}"
            created = await person.submit("/admin/tag/", {"name": name})
            statuses.append(created.status_code)
            if created.status_code in {201, 303}:
                acknowledged.append(name)
            # Everyone also edits the same row: conflicts may be refused, never crash.
            edited = await person.submit(f"/admin/item/{demo.lamp.id}", {"quantity": str(sequence)}, method="PATCH")
            statuses.append(edited.status_code)

    await asyncio.gather(*(writer(n) for n in range(WRITERS)))
    assert acknowledged, "no write went through"
    assert not [s for s in statuses if s >= 500], sorted(set(statuses))
    async with db() as session:
        stored = set(await session.scalars(select(Tag.name).where(Tag.name.like("w%-%"))))
        assert set(acknowledged) <= stored
        assert (await session.get(Item, demo.lamp.id)).quantity > 0
