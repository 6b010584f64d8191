"""Instructions per request, this checkout against another commit: what the machine's noise cannot move.

    .venv/bin/python -m bench.instructions --against a0b4313
    .venv/bin/python -m bench.instructions --against main --paths "/admin/item/,/admin/item/?q=quokka"

Each commit's app runs in one process under valgrind's callgrind (which counts instructions, not seconds), driven
through ASGI by httpx's ASGITransport on a copy of the cached 1k SQLite database, signed in as the bench account:
a warm-up, then `--requests` more. The run with the extra requests minus the run without them, divided by
their number, is the cost of one request, start-up and warm-up taken out. Wall time and req/s mean nothing under
valgrind (it runs some 50x slower); `make bench` measures those. Needs Debian's valgrind.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

WARMUP = 30
DEFAULT_PATHS = ("/admin/item/500/edit", "/admin/item/", "/admin/item/?q=quokka")
SIZE = 1_000


def child(database: str, path: str, requests: int) -> None:
    """In the measured process: sign in, warm up, then `requests` GETs of `path` (the checkout is the cwd)."""
    import asyncio
    import logging

    sys.path.insert(0, os.getcwd())  # the checkout being measured, before the installed one
    logging.disable(logging.INFO)
    copy = Path(tempfile.mkdtemp()) / "bench.sqlite3"
    shutil.copyfile(database, copy)
    os.environ["DATABASE_URL"] = f"sqlite+aiosqlite:///{copy}"
    os.environ["SECRET_KEY"] = "bench-fixed-secret-key-32-bytes!"
    username, password = "bench", "bench-password-not-secret-0"
    env = {**os.environ, "ADMIN_USERNAME": username, "ADMIN_PASSWORD": password}
    command = [sys.executable, "-m", "litestar", "--app", "webapp.app:create_app", "admin", "ensure-superuser"]
    subprocess.run(command, check=True, capture_output=True, env=env)

    import httpx

    from webapp.app import create_app

    async def run() -> None:
        app = create_app()
        transport = httpx.ASGITransport(app=app)
        async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
            await c.get("/admin/login")
            form = {"username": username, "password": password, "_csrf_token": c.cookies.get("csrftoken")}
            if (await c.post("/admin/login", data=form)).status_code != 303:
                raise SystemExit("could not sign in")
            for _ in range(WARMUP + requests):
                if (await c.get(path)).status_code != 200:
                    raise SystemExit(f"GET {path} did not answer 200")

    asyncio.run(run())


def instructions(root: Path, database: Path, path: str, requests: int) -> int:
    """Instructions of one measured process (callgrind's total)."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, str(Path(__file__).resolve()), "--child", str(database), path, str(requests),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=3600)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"valgrind failed in {root} for {path}:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_request(root: Path, database: Path, path: str, requests: int) -> float:
    return (instructions(root, database, path, requests) - instructions(root, database, path, 0)) / requests


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", metavar="REV", required=True, help="the commit to compare with")
    parser.add_argument("--paths", default=",".join(DEFAULT_PATHS), help="comma-separated GET paths")
    parser.add_argument("--requests", type=int, default=100, help="measured requests per path (default 100)")
    options = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind: apt-get install -y valgrind")
    from bench import run, seed

    database = seed.sqlite_database(SIZE, log=run.log)
    roots = {options.against: run.checkout(options.against), "this checkout": run.ROOT}
    print("| request | " + " | ".join(roots) + " | change |\n|---|--:|--:|--:|")
    for path in (p.strip() for p in options.paths.split(",") if p.strip()):
        counts = [per_request(root, database, path, options.requests) for root in roots.values()]
        before, after = counts
        print(f"| `GET {path}` | {before / 1e6:.2f} M | {after / 1e6:.2f} M | {after / before - 1:+.1%} |", flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(main())
