"""Deterministic benchmark data, bulk-inserted after the project's own migrations.

SQLite: plain sqlite3 executemany in big transactions, the finished file cached under bench/.data/ (keyed by the
migrations and this file, so a schema or generator change reseeds). PostgreSQL: a fresh `bench_<random>` database,
asyncpg COPY, dropped by the caller.

Rows look exactly like rows the ORM writes: advanced-alchemy's DateTimeUTC stores naive UTC text
"YYYY-MM-DD HH:MM:SS.ffffff" in SQLite (timestamptz in PostgreSQL), Numeric(10, 2) is a REAL in SQLite, `status`
holds the enum's values ("draft", "active", "archived"). `check_sqlite_format()` proves it against the ORM.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench" / ".data"
MIGRATIONS_DIR = ROOT / "webapp" / "migrations" / "versions"

USERS = 1000
PER_PAGE = 50  # ItemAdmin's page size (the admin default)
TAG_NAMES = ("red", "green", "blue", "sale", "new", "fragile", "bulk", "gift", "seasonal", "clearance")
# One item in SEARCH_EVERY carries SEARCH_WORD, so `?q=zephyr` matches 0.1% of the rows at every size.
SEARCH_WORD = "Zephyr"
SEARCH_EVERY = 1000
# SELECTIVE_MATCHES items, spread over the table, carry SELECTIVE_WORD at every size: `?q=quokka` finds the same
# 20 rows in 1,000 or 1,000,000, so its cost shows what the index costs, not how many rows the page draws.
SELECTIVE_WORD = "Quokka"
SELECTIVE_MATCHES = 20
LOOKUP_QUERY = "ad"  # the usernames of "ada", "adele" and "adrian": 10% of the users
CHUNK = 50_000
SEED = 20261126
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
MIGRATE_TIMEOUT = 300

FIRST = (
    "ada", "adele", "adrian", "alan", "barbara", "bjarne", "carol", "dennis", "donald", "edsger", "frances", "grace",
    "guido", "hedy", "ivan", "james", "jean", "john", "ken", "leslie", "linus", "margaret", "marvin", "niklaus",
    "radia", "richard", "robin", "shafi", "sophie", "tim",
)  # fmt: skip
LAST = (
    "allen", "backus", "cerf", "dijkstra", "engelbart", "floyd", "goldberg", "hamilton", "hopper", "kay", "knuth",
    "lamport", "liskov", "lovelace", "mccarthy", "perlman", "ritchie", "shannon", "thompson", "turing", "wirth",
)  # fmt: skip
ADJECTIVES = (
    "Blue", "Compact", "Vintage", "Smart", "Quiet", "Sturdy", "Tiny", "Deluxe", "Classic", "Folding", "Heavy",
    "Portable", "Rustic", "Modern", "Wireless", "Ergonomic", "Handmade", "Industrial", "Bright", "Soft",
)  # fmt: skip
MATERIALS = (
    "oak", "steel", "glass", "leather", "cotton", "bamboo", "ceramic", "copper", "walnut", "wool", "linen", "marble",
)  # fmt: skip
NOUNS = (
    "lamp", "chair", "kettle", "notebook", "backpack", "monitor", "bicycle", "teapot", "clock", "speaker", "desk",
    "shelf", "mug", "blanket", "wallet", "umbrella", "stool", "vase", "mirror", "basket", "jacket", "tray", "rug",
    "bottle", "bench",
)  # fmt: skip

USER_COLUMNS = ("id", "username", "email", "full_name", "is_active", "created_at", "updated_at")
TAG_COLUMNS = ("id", "name", "created_at", "updated_at")
ITEM_COLUMNS = (
    "id", "name", "description", "price", "quantity", "status", "available_from", "owner_id", "created_at",
    "updated_at",
)  # fmt: skip
ITEM_TAG_COLUMNS = ("item_id", "tag_id")

Row = tuple[Any, ...]


class SeedError(RuntimeError):
    pass


# -- the data, backend-neutral (datetime, date, Decimal, bool) ---------------------------------------------------


def user_rows() -> list[Row]:
    rng = random.Random(SEED + 1)
    rows = []
    for n in range(1, USERS + 1):
        first, last = FIRST[(n - 1) % len(FIRST)], LAST[rng.randrange(len(LAST))]
        created = EPOCH - timedelta(days=60) + timedelta(minutes=7 * n, microseconds=rng.randrange(1_000_000))
        full_name = f"{first.capitalize()} {last.capitalize()}" if n % 7 else None
        rows.append((n, f"{first}{n:04d}", f"{first}.{last}{n}@example.com", full_name, n % 9 != 0, created, created))
    return rows


def tag_rows() -> list[Row]:
    created = EPOCH - timedelta(days=90)
    return [(n, name, created, created) for n, name in enumerate(TAG_NAMES, start=1)]


def item_chunks(count: int, chunk: int = CHUNK) -> Iterator[tuple[list[Row], list[Row]]]:
    """Items 1..count in id order (newest last) with their item_tag rows, `chunk` items at a time."""
    rng = random.Random(SEED)
    items: list[Row] = []
    links: list[Row] = []
    tag_ids = range(1, len(TAG_NAMES) + 1)
    selective = {k * count // SELECTIVE_MATCHES + 3 for k in range(SELECTIVE_MATCHES)}
    for n in range(1, count + 1):
        adjective = rng.choice(ADJECTIVES)
        if n % SEARCH_EVERY == SEARCH_EVERY // 2:
            adjective = SEARCH_WORD
        elif n in selective:
            adjective = SELECTIVE_WORD
        name = f"{adjective} {rng.choice(MATERIALS)} {rng.choice(NOUNS)}"
        roll = rng.random()
        status = "active" if roll < 0.6 else "draft" if roll < 0.85 else "archived"
        created = EPOCH + timedelta(seconds=7 * n, microseconds=rng.randrange(1_000_000))
        available = date(2025, 1, 1) + timedelta(days=rng.randrange(365)) if n % 4 else None
        items.append(
            (
                n,
                name,
                f"{name}, item {n}. Ships in {rng.randint(1, 14)} days." if n % 3 else None,
                rng.randint(100, 99_999),  # cents
                rng.randint(0, 500),
                status,
                available,
                rng.randrange(USERS) + 1,
                created,
                created,
            )
        )
        # 0..3 tags, 1.5 on average
        links.extend((n, tag) for tag in sorted(rng.sample(tag_ids, rng.randint(0, 3))))
        if len(items) >= chunk:
            yield items, links
            items, links = [], []
    if items:
        yield items, links


def page_one_ids(size: int) -> list[int]:
    """The ids list page 1 shows (newest first: created_at grows with the id)."""
    return list(range(size, max(0, size - PER_PAGE), -1))


# -- SQLite -------------------------------------------------------------------------------------------------------


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_user(row: Row) -> Row:
    n, username, email, full_name, active, created, updated = row
    return (n, username, email, full_name, 1 if active else 0, _sqlite_time(created), _sqlite_time(updated))


def _sqlite_tag(row: Row) -> Row:
    return (row[0], row[1], _sqlite_time(row[2]), _sqlite_time(row[3]))


def _sqlite_item(row: Row) -> Row:
    n, name, description, cents, quantity, status, available, owner, created, updated = row
    stamp = _sqlite_time(created)
    return (
        n,
        name,
        description,
        cents / 100,
        quantity,
        status,
        available.isoformat() if available else None,
        owner,
        stamp,
        stamp if updated == created else _sqlite_time(updated),
    )


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def fingerprint() -> str:
    """Changes when a migration or this generator changes, so cached files are never stale."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted(MIGRATIONS_DIR.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def migrate(database_url: str) -> None:
    """Create the schema the way production does: the project's Alembic migrations."""
    command = [sys.executable, "-m", "litestar", "--app", "webapp.app:create_app", "database", "upgrade", "--no-prompt"]
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=MIGRATE_TIMEOUT)
    if done.returncode != 0:
        raise SeedError(f"migrations failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def check_sqlite_format() -> None:
    """Write the first user, tag and item through the ORM and compare the stored values with ours, type for type."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from webapp.demo.models import Item, Status, Tag, User, item_tag, orm_registry

    user, tag = user_rows()[0], tag_rows()[0]
    item, _links = next(item_chunks(1))
    engine = create_engine("sqlite://")
    try:
        orm_registry.metadata.create_all(engine, tables=[User.__table__, Tag.__table__, Item.__table__, item_tag])
        with Session(engine) as session:
            session.add(User(**dict(zip(USER_COLUMNS, user, strict=True))))
            session.add(Tag(**dict(zip(TAG_COLUMNS, tag, strict=True))))
            values = dict(zip(ITEM_COLUMNS, item[0], strict=True))
            values["price"] = Decimal(values["price"]).scaleb(-2)
            values["status"] = Status(values["status"])
            session.add(Item(**values))
            session.commit()
        with engine.connect() as connection:
            for table, columns, ours in (
                ("user_account", USER_COLUMNS, _sqlite_user(user)),
                ("tag", TAG_COLUMNS, _sqlite_tag(tag)),
                ("item", ITEM_COLUMNS, _sqlite_item(item[0])),
            ):
                select_list = ", ".join(f"{c}, typeof({c})" for c in columns)
                stored = connection.exec_driver_sql(f"SELECT {select_list} FROM {table}").one()
                orm = [(stored[i], stored[i + 1]) for i in range(0, len(stored), 2)]
                mine = [(value, _sqlite_typeof(value)) for value in ours]
                if orm != mine:
                    raise SeedError(f"bulk rows for {table} differ from the ORM's:\n  orm:  {orm}\n  bulk: {mine}")
    finally:
        engine.dispose()


def _sqlite_typeof(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "real"
    return "text"


def _check_columns(connection: sqlite3.Connection) -> None:
    """A new NOT NULL column without a default would make every bulk row invalid: say so up front."""
    for table, columns in (("user_account", USER_COLUMNS), ("tag", TAG_COLUMNS), ("item", ITEM_COLUMNS)):
        for _cid, name, _type, notnull, default, pk in connection.execute(f"PRAGMA table_info({table})"):
            if notnull and default is None and not pk and name not in columns:
                raise SeedError(f"{table}.{name} is NOT NULL without a default: teach bench/seed.py to fill it")


def sqlite_database(size: int, *, reseed: bool = False, log: Any = print) -> Path:
    """The path of a seeded SQLite file for `size` items, built once and cached."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    stamp = fingerprint()
    path = DATA_DIR / f"items-{size}-{stamp}.sqlite3"
    if path.exists() and not reseed:
        return path
    for stale in DATA_DIR.glob(f"items-{size}-*.sqlite3*"):
        stale.unlink()
    partial = DATA_DIR / f"partial-{size}-{stamp}.sqlite3"
    started = time.monotonic()
    try:
        migrate(f"sqlite+aiosqlite:///{partial}")
        check_sqlite_format()
        connection = sqlite3.connect(partial, isolation_level=None)
        try:
            _check_columns(connection)
            connection.execute("PRAGMA journal_mode=DELETE")
            connection.execute("PRAGMA synchronous=OFF")
            connection.execute("BEGIN")
            connection.executemany(_insert_sql("user_account", USER_COLUMNS), map(_sqlite_user, user_rows()))
            connection.executemany(_insert_sql("tag", TAG_COLUMNS), map(_sqlite_tag, tag_rows()))
            item_sql, link_sql = _insert_sql("item", ITEM_COLUMNS), _insert_sql("item_tag", ITEM_TAG_COLUMNS)
            for items, links in item_chunks(size):
                connection.executemany(item_sql, map(_sqlite_item, items))
                connection.executemany(link_sql, links)
                if items[-1][0] % (CHUNK * 4) == 0:
                    connection.execute("COMMIT")
                    connection.execute("BEGIN")
            connection.execute("COMMIT")
            connection.execute("ANALYZE")
            connection.execute("PRAGMA journal_mode=WAL")  # what the app sets on every connection anyway
        finally:
            connection.close()
        os.replace(partial, path)
    finally:
        for leftover in DATA_DIR.glob(f"partial-{size}-*"):
            leftover.unlink()
    log(f"seeded SQLite with {size:,} items in {time.monotonic() - started:.1f} s: {path.relative_to(ROOT)}")
    return path


# -- PostgreSQL ---------------------------------------------------------------------------------------------------


def _pg_item(row: Row) -> Row:
    return (*row[:3], Decimal(row[3]).scaleb(-2), *row[4:])


async def _pg_copy(dsn: str, size: int) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table("user_account", records=user_rows(), columns=USER_COLUMNS)
        await connection.copy_records_to_table("tag", records=tag_rows(), columns=TAG_COLUMNS)
        for items, links in item_chunks(size, chunk=CHUNK * 2):
            await connection.copy_records_to_table("item", records=map(_pg_item, items), columns=ITEM_COLUMNS)
            await connection.copy_records_to_table("item_tag", records=links, columns=ITEM_TAG_COLUMNS)
        for table in ("user_account", "tag", "item"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def _pg_admin(admin_dsn: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def pg_create_database(admin_dsn: str, name: str) -> None:
    asyncio.run(_pg_admin(admin_dsn, f'CREATE DATABASE "{name}"'))


def pg_drop_database(admin_dsn: str, name: str) -> None:
    asyncio.run(_pg_admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def pg_seed(dsn: str, sqlalchemy_url: str, size: int, *, log: Any = print) -> None:
    """Migrate and fill an empty PostgreSQL database (created by the caller, who also drops it)."""
    started = time.monotonic()
    migrate(sqlalchemy_url)
    asyncio.run(_pg_copy(dsn, size))
    log(f"seeded PostgreSQL with {size:,} items in {time.monotonic() - started:.1f} s")
