"""The demo seed: deterministic, about 50 users, 1,000 items and 10 tags, and only into an empty database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.demo.models import Item, Tag, User, item_tag
from webapp.demo.seed import seed

pytestmark = pytest.mark.anyio


async def test_seed_fills_an_empty_database_once_and_the_same_way(db):
    async with db() as session:
        assert await seed(session) is True
    async with db() as session:
        counts = [await session.scalar(select(func.count()).select_from(m)) for m in (User, Item, Tag)]
        first_items = (await session.execute(select(Item.name, Item.price).order_by(Item.id).limit(5))).all()
        links = await session.scalar(select(func.count()).select_from(item_tag))
        assert await seed(session) is False
    assert counts == [50, 1000, 10]
    assert links > 500
    assert first_items[0].name.endswith(" 1")
    async with db() as session:
        again = (await session.execute(select(Item.name, Item.price).order_by(Item.id).limit(5))).all()
    assert again == first_items
