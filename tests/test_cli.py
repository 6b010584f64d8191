"""The Litestar CLI commands for accounts, run as a person would run them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import METADATA
from webapp.admin.models import AdminAccount

ROOT = Path(__file__).resolve().parent.parent


def _cli(url: str, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "litestar", "--app", "webapp.app:create_app", "admin", *args],
        input=stdin,
        env={**os.environ, "DATABASE_URL": url, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _accounts(url: str) -> list[tuple[str, bool, object]]:
    async def read() -> list[tuple[str, bool, object]]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(METADATA.create_all)
                rows = await conn.execute(select(AdminAccount.__table__).order_by("id"))
                return [(r.username, r.is_superuser, r.password) for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_first_account_from_environment_then_generated_once(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3"
    _accounts(url)  # creates the schema
    made = _cli(url, "ensure-superuser", ADMIN_USERNAME="boss", ADMIN_PASSWORD="a fine password")
    assert made.returncode == 0, made.stderr
    assert "Created superuser 'boss'" in made.stdout and "a fine password" not in made.stdout
    again = _cli(url, "ensure-superuser")
    assert "An admin account exists already." in again.stdout
    (boss,) = _accounts(url)
    assert boss[0] == "boss" and boss[1] is True and boss[2].verify("a fine password")

    other = f"sqlite+aiosqlite:///{tmp_path}/cli2.sqlite3"
    _accounts(other)
    generated = _cli(other, "ensure-superuser", ADMIN_USERNAME="", ADMIN_PASSWORD="")
    assert "Created superuser 'admin' with password: " in generated.stdout
    assert "This password is shown once." in generated.stdout


def test_create_user_and_change_password_prompt_for_the_password(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3"
    _accounts(url)
    created = _cli(url, "create-user", "--username", "ann", "--no-superuser", stdin="secret pass 1\nsecret pass 1\n")
    assert created.returncode == 0, created.stderr + created.stdout
    assert "Created account 'ann'." in created.stdout
    duplicate = _cli(url, "create-user", "--username", "ann", "--password", "another pass")
    assert duplicate.returncode != 0 and "already exists" in duplicate.stdout + duplicate.stderr
    short = _cli(url, "change-password", "--username", "ann", "--password", "short")
    assert short.returncode != 0 and "at least 8 characters" in short.stdout + short.stderr
    changed = _cli(url, "change-password", "--username", "ann", stdin="newer pass 2\nnewer pass 2\n")
    assert changed.returncode == 0, changed.stderr
    assert "Password changed for 'ann'" in changed.stdout
    (ann,) = _accounts(url)
    assert ann[1] is False
