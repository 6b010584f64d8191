"""Deterministic demo data: 50 users, 10 tags, 1,000 items. Seeds only an empty database.

python -m webapp.demo.seed          # uses DATABASE_URL, like the app
"""

from __future__ import annotations

import asyncio
import random
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from webapp.demo.models import Item, Status, Tag, User
from webapp.settings import Settings

USERS, ITEMS = 50, 1000
TAG_NAMES = ("red", "green", "blue", "sale", "new", "fragile", "bulk", "gift", "seasonal", "clearance")
FIRST = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Radia", "Linus")
LAST = (
    "Lovelace",
    "Turing",
    "Hopper",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Hamilton",
    "Thompson",
    "Perlman",
    "Torvalds",
)
NOUNS = (
    "lamp",
    "chair",
    "kettle",
    "notebook",
    "backpack",
    "monitor",
    "bicycle",
    "teapot",
    "clock",
    "speaker",
)
ADJECTIVES = (
    "Blue",
    "Compact",
    "Vintage",
    "Smart",
    "Quiet",
    "Sturdy",
    "Tiny",
    "Deluxe",
    "Classic",
    "Folding",
)


async def seed(session: AsyncSession) -> bool:
    """Fill an empty database; return False (and write nothing) when users already exist."""
    if await session.scalar(select(func.count()).select_from(User)):
        return False
    rng = random.Random(20261126)
    tags = [Tag(name=name) for name in TAG_NAMES]
    users = []
    for n in range(USERS):
        first, last = FIRST[n % 10], LAST[(n // 10 + n) % 10]
        users.append(
            User(
                username=f"{first.lower()}{n + 1:02d}",
                email=f"{first.lower()}.{last.lower()}{n + 1}@example.com",
                full_name=f"{first} {last}" if n % 7 else None,
                is_active=n % 9 != 0,
            )
        )
    session.add_all([*tags, *users])
    for n in range(ITEMS):
        session.add(
            Item(
                name=f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {n + 1}",
                description=f"Demo item number {n + 1}." if n % 3 else None,
                price=Decimal(rng.randint(100, 99_999)) / 100,
                quantity=rng.randint(0, 500),
                status=rng.choice(list(Status)),
                available_from=date(2026, 1, 1) + timedelta(days=rng.randint(0, 364)) if n % 4 else None,
                owner=users[rng.randrange(USERS)],
                tags=rng.sample(tags, rng.randint(0, 3)),
            )
        )
    await session.commit()
    return True


async def main() -> None:
    engine = create_async_engine(Settings().database_url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            seeded = await seed(session)
        print("Seeded the demo data." if seeded else "The database already has data; not seeding.")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
