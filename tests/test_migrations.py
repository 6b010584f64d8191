"""The schema comes from the Alembic migrations, applied exactly as `make run` applies them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import DATABASES, METADATA, SCRATCH

LITESTAR = [sys.executable, "-m", "litestar", "--app", "webapp.app:create_app"]
ROOT = Path(__file__).resolve().parent.parent


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    result = subprocess.run([*LITESTAR, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


async def _schema_state(url: str) -> tuple[list, set[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:

            def read(sync_conn):
                diffs = [
                    diff
                    for diff in compare_metadata(
                        MigrationContext.configure(sync_conn, opts={"compare_type": False}), METADATA
                    )
                    # The version table, and SQLite's FTS5 search index (virtual tables the ORM does not map).
                    if not (diff[0] == "remove_table" and diff[1].name.startswith(("alembic_versions", "item_fts")))
                ]
                return diffs, set(inspect(sync_conn).get_table_names())

            return await conn.run_sync(read)
    finally:
        await engine.dispose()


@pytest.fixture(params=DATABASES)
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/migrated.sqlite3"
        return
    with SCRATCH[request.param]("admin_mig") as url:
        yield url


def test_migrations_build_the_models_schema_and_tear_it_down(empty_database):
    _cli(empty_database, "database", "upgrade", "--no-prompt")
    diffs, tables = asyncio.run(_schema_state(empty_database))
    assert diffs == [], "the migrations and the models disagree; run `litestar database make-migrations`"
    assert {"user_account", "item", "tag", "item_tag", "alembic_versions"} <= tables
    seeded = subprocess.run(
        [sys.executable, "-m", "webapp.demo.seed"],
        env={**os.environ, "DATABASE_URL": empty_database},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr
    assert "Seeded the demo data." in seeded.stdout
    _cli(empty_database, "database", "downgrade", "base", "--no-prompt")
    _, tables = asyncio.run(_schema_state(empty_database))
    assert tables <= {"alembic_versions"}


def test_a_database_made_before_the_admin_had_its_branch_upgrades_and_keeps_its_rows(empty_database):
    """Today's schema (every table, as the demo's chain up to 5d0c3e81a7b2 made it, with its accounts) takes the
    admin's branch and the merge: the admin's tables are adopted as they are, their rows kept."""
    asyncio.run(_schema_before_the_admin_branch(empty_database))
    _cli(empty_database, "database", "upgrade", "--no-prompt")
    diffs, _ = asyncio.run(_schema_state(empty_database))
    assert diffs == []
    versions, usernames = asyncio.run(_versions_and_accounts(empty_database))
    assert versions == ["c7d2a91e4b30"], "one head: the demo's chain joined the admin's branch"
    assert usernames == ["kept"]
    _cli(empty_database, "database", "downgrade", "base", "--no-prompt")
    _, tables = asyncio.run(_schema_state(empty_database))
    assert tables <= {"alembic_versions"}


async def _schema_before_the_admin_branch(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(METADATA.create_all)
            await conn.execute(text("CREATE TABLE alembic_versions (version_num VARCHAR(32) PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO alembic_versions VALUES ('5d0c3e81a7b2')"))
            await conn.execute(
                text(
                    "INSERT INTO admin_account (id, username, is_active, is_superuser, session_epoch, created_at, "
                    "updated_at) VALUES (1, 'kept', true, true, 0, '2026-11-30 10:00:00', '2026-11-30 10:00:00')"
                )
            )
    finally:
        await engine.dispose()


async def _versions_and_accounts(url: str) -> tuple[list[str], list[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_versions"))).scalars().all()
            usernames = (await conn.execute(text("SELECT username FROM admin_account"))).scalars().all()
            return list(versions), list(usernames)
    finally:
        await engine.dispose()
