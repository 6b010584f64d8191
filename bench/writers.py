"""Eight concurrent writers for 30 seconds against a real server: no 5xx, no "database is locked", and every
write the server acknowledged is in the database afterwards.

    .venv/bin/python -m bench.writers                 # SQLite (WAL)
    .venv/bin/python -m bench.writers --postgres      # and PostgreSQL (a database made and dropped here)

Only 127.0.0.1 is ever contacted; the run stops by itself after --seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
USERNAME, PASSWORD = "writer", "bench writer password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-writers",
        "ADMIN_USERNAME": USERNAME,
        "ADMIN_PASSWORD": PASSWORD,
    }


def _prepare(url: str) -> None:
    cli = [sys.executable, "-m", "litestar", "--app", "webapp.app:create_app"]
    for args in (["database", "upgrade", "--no-prompt"], ["admin", "ensure-superuser"]):
        subprocess.run([*cli, *args], env=_env(url), cwd=ROOT, check=True, capture_output=True, timeout=300)
    subprocess.run(
        [sys.executable, "-m", "webapp.demo.seed"],
        env=_env(url),
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )


async def _sign_in(client: httpx.AsyncClient) -> str:
    await client.get("/admin/login")
    token = client.cookies["csrftoken"]
    response = await client.post(
        "/admin/login", data={"username": USERNAME, "password": PASSWORD, "_csrf_token": token}
    )
    if response.status_code != 303:
        raise RuntimeError(f"sign-in failed: {response.status_code}")
    return token


async def _writer(
    base: str, number: int, deadline: float, acknowledged: list[str], statuses: Counter[int], problems: list[str]
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        token = await _sign_in(client)
        headers = {"x-csrftoken": token}
        sequence = 0
        while time.monotonic() < deadline:
            sequence += 1
            name = f"writer{number}-{sequence}"
            created = await client.post("/admin/tag/", data={"name": name}, headers=headers)
            statuses[created.status_code] += 1
            if created.status_code == 303:
                acknowledged.append(name)
            elif created.status_code >= 500 or "locked" in created.text:
                problems.append(f"create {name}: {created.status_code}")
            edited = await client.patch(
                "/admin/item/1", data={"quantity": str(sequence)}, headers={**headers, "HX-Request": "true"}
            )
            statuses[edited.status_code] += 1
            if edited.status_code >= 500 or "locked" in edited.text:
                problems.append(f"edit by {number}: {edited.status_code}")


async def _stored(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set((await conn.execute(text("SELECT name FROM tag WHERE name LIKE 'writer%'"))).scalars())
    finally:
        await engine.dispose()


def run(url: str, writers: int, seconds: float) -> bool:
    _prepare(url)
    port = _free_port()
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115 - read after the server stops
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "webapp.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
        ],
        env=_env(url),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/admin/login", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        acknowledged: list[str] = []
        statuses: Counter[int] = Counter()
        problems: list[str] = []
        deadline = time.monotonic() + seconds

        async def all_writers() -> None:
            await asyncio.gather(
                *(_writer(base, n, deadline, acknowledged, statuses, problems) for n in range(writers))
            )

        asyncio.run(all_writers())
    finally:
        server.terminate()
        server.wait(timeout=30)
    log.seek(0)
    server_log = log.read()
    locked = len(re.findall("database is locked", server_log))
    if locked:
        print("\n".join(line for line in server_log.splitlines() if "locked" in line or "SQL:" in line)[:3000])
    log.close()
    Path(log.name).unlink()
    stored = asyncio.run(_stored(url))
    missing = set(acknowledged) - stored
    ok = not problems and not missing and not locked and not any(code >= 500 for code in statuses)
    print(
        f"{url.split('://')[0]}: {writers} writers, {seconds:.0f} s, responses {dict(sorted(statuses.items()))}, "
        f"{len(acknowledged)} creates acknowledged, {len(missing)} missing, {locked} 'database is locked' in the "
        f"server log, problems: {problems[:5] or 'none'} -> {'OK' if ok else 'FAILED'}"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--postgres", action="store_true", help="also run on a fresh PostgreSQL database")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--postgres-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    results = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            results.append(run(f"sqlite+aiosqlite:///{folder}/writers.sqlite3", args.writers, args.seconds))
    if args.postgres:
        name = f"bench_writers_{uuid.uuid4().hex[:8]}"

        async def admin(sql: str) -> None:
            conn = await asyncpg.connect(args.postgres_dsn, timeout=5)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        try:
            base = args.postgres_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
            results.append(run(f"{base}/{name}", args.writers, args.seconds))
        finally:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
