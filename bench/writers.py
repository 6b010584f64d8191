"""Eight concurrent writers against a real server, in two scenarios.

- **Writers** (the default): 30 seconds of creates and edits; no 5xx, no "database is locked", and every write
  the server acknowledged is in the database afterwards.
- **Kill** (`--kill [N]`, 3 kills unless given): eight writers while the server is killed with SIGKILL N
  times, each time restarted on the same port and database. Every write the server acknowledged (a 2xx/3xx
  response fully received) must be in the database afterwards, and none may be half-written: each tag a writer
  created has exactly one "create" entry in the history and each such entry its tag, and each edited item's
  "update" entries form one unbroken chain of quantities, one entry per version, ending at the stored value.
  A write in flight at a kill may be lost, but only whole.

  The writers create tags and edit four items, two writers an item, by inline PATCH with the version their form
  carried; a 409 (the other writer saved first) is expected and answered by editing the fresh version. An
  acknowledged edit from version v must be the chain's entry from v to v + 1, with its value. Each kill comes
  at a random moment of its slice of the run, at the instant a response has just been received: if the server
  ever acknowledged a write before committing it, that is when the write would be lost.

    .venv/bin/python -m bench.writers                       # SQLite (WAL, a temporary file)
    .venv/bin/python -m bench.writers --postgres            # and PostgreSQL (a database made and dropped here)
    .venv/bin/python -m bench.writers --kill --seconds 25   # the kill scenario; --kill 5 for five kills

Only 127.0.0.1 is ever contacted; the run stops by itself after --seconds (the kill scenario goes on past it, up
to 30 s, until its kills are done and the last server has acknowledged a write). tests/test_crash_safety.py runs
`crash_run` briefly on both databases; bench/README.md ("Crash safety") has the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from webapp.admin.models import AdminAccount, AdminLogEntry
from webapp.demo.models import Item, Tag, User

ROOT = Path(__file__).resolve().parent.parent
USERNAME, PASSWORD = "writer", "bench writer password"
POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
STARTUP_SECONDS = 60
RESTART_GRACE = 30  # seconds past the end the run waits for the last server's first write


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-writers",
        "ADMIN_USERNAME": USERNAME,
        "ADMIN_PASSWORD": PASSWORD,
    }
    env.pop("REDIS_URL", None)  # sessions in the database: they survive a kill with it
    return env


def _prepare(url: str, *, demo_data: bool = True) -> None:
    """The schema by the migrations, as in production, the writers' account, and the demo data if asked."""
    cli = [sys.executable, "-m", "litestar", "--app", "webapp.app:create_app", "database", "upgrade", "--no-prompt"]
    subprocess.run(cli, env=_env(url), cwd=ROOT, check=True, capture_output=True, timeout=300)
    # In this process: `litestar admin ensure-superuser` would start one more Python (1.5 s of a short test).
    asyncio.run(_add_account(url))
    if demo_data:
        seed = [sys.executable, "-m", "webapp.demo.seed"]
        subprocess.run(seed, env=_env(url), cwd=ROOT, check=True, capture_output=True, timeout=300)


async def _add_account(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as session:
            session.add(AdminAccount(username=USERNAME, password=PASSWORD, is_superuser=True))
            await session.commit()
    finally:
        await engine.dispose()


class Server:
    """One uvicorn process of the app on a fixed port, its output in `log_path` (appended to, life after
    life): started, killed with SIGKILL, started again on the same port, and stopped."""

    def __init__(self, url: str, log_path: Path, port: int | None = None) -> None:
        self.url = url
        self.port = port or _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "uvicorn", "--factory", "webapp.app:create_app", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--workers", "1", "--no-access-log"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=_env(self.url), cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )

    async def wait_until_up(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        async with httpx.AsyncClient(base_url=self.base, timeout=2, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log()[-3000:]}")
                try:
                    if (await client.get("/admin/login")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError(f"the server did not answer within {STARTUP_SECONDS} s:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup; whatever the process had not committed is gone."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _locked_lines(server_log: str) -> list[str]:
    return [line for line in server_log.splitlines() if "database is locked" in line]


async def _sign_in(client: httpx.AsyncClient) -> str:
    await client.get("/admin/login")
    token = client.cookies["csrftoken"]
    response = await client.post(
        "/admin/login", data={"username": USERNAME, "password": PASSWORD, "_csrf_token": token}
    )
    if response.status_code != 303:
        raise RuntimeError(f"sign-in failed: {response.status_code}")
    return token


# -- the writers scenario -----------------------------------------------------------------------------------


async def _writer(
    base: str, number: int, deadline: float, acknowledged: list[str], statuses: Counter[int], problems: list[str]
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False) as client:
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
    with tempfile.TemporaryDirectory() as folder:
        server = Server(url, Path(folder) / "server.log")
        acknowledged: list[str] = []
        statuses: Counter[int] = Counter()
        problems: list[str] = []

        async def all_writers() -> None:
            await server.wait_until_up()
            deadline = time.monotonic() + seconds
            await asyncio.gather(
                *(_writer(server.base, n, deadline, acknowledged, statuses, problems) for n in range(writers))
            )

        server.start()
        try:
            asyncio.run(all_writers())
        finally:
            server.stop()
        locked = _locked_lines(server.log())
    if locked:
        print("\n".join(locked)[:3000])
    stored = asyncio.run(_stored(url))
    missing = set(acknowledged) - stored
    ok = not problems and not missing and not locked and not any(code >= 500 for code in statuses)
    print(
        f"{url.split('://')[0]}: {writers} writers, {seconds:.0f} s, responses {dict(sorted(statuses.items()))}, "
        f"{len(acknowledged)} creates acknowledged, {len(missing)} missing, {len(locked)} 'database is locked' in "
        f"the server log, problems: {problems[:5] or 'none'} -> {'OK' if ok else 'FAILED'}"
    )
    return ok


# -- the kill scenario --------------------------------------------------------------------------------------

EDITED_ITEMS = 4  # two writers an item: their edits meet the version check
TAG_PREFIX = "crash-"


@dataclass(frozen=True)
class Edit:
    """An acknowledged inline edit: `item`'s quantity set to `value` from version `version`."""

    item: int
    version: int
    value: int


@dataclass
class Acknowledged:
    """What the server acknowledged: a 2xx/3xx response, fully received."""

    creates: list[str] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)


@dataclass
class Findings:
    """What the database holds of the acknowledged writes, and what is half-written."""

    stored_creates: int  # acknowledged tags found
    unacknowledged_creates: int  # tags stored whose response never arrived (in flight at a kill)
    stored_edits: int  # entries in the items' chains (every version an edit reached)
    missing: list[str]
    half_written: list[str]


async def arrange_items(url: str) -> list[int]:
    """The items the writers edit (quantity 0, version 1) and their owner; their ids."""
    engine = create_async_engine(url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            owner = User(username="crash-owner", email="crash-owner@example.com")
            items = [
                Item(name=f"crash item {n}", price=Decimal("1.00"), quantity=0, owner=owner)
                for n in range(1, EDITED_ITEMS + 1)
            ]
            session.add_all([owner, *items])
            await session.commit()
            return [item.id for item in items]
    finally:
        await engine.dispose()


async def check_crash_safety(url: str, acknowledged: Acknowledged, items: list[int]) -> Findings:
    """Reads the database after the run: the acknowledged writes that are missing, and every change without
    its history entry or entry without its change. The items started at quantity 0, version 1."""
    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as session:
            return await _findings(session, acknowledged, items)
    finally:
        await engine.dispose()


async def _findings(session: AsyncSession, acknowledged: Acknowledged, items: list[int]) -> Findings:
    log, tag, item = AdminLogEntry.__table__, Tag.__table__, Item.__table__
    missing: list[str] = []
    half: list[str] = []

    names = dict((await session.execute(select(tag.c.id, tag.c.name).where(tag.c.name.like(f"{TAG_PREFIX}%")))).all())
    entries = (
        await session.execute(
            select(log.c.object_pk, log.c.object_label).where(log.c.model == "tag", log.c.action == "create")
        )
    ).all()
    created = Counter(int(pk) for pk, _label in entries)
    stored_names = set(names.values())
    missing += [f"tag {name}: acknowledged, not stored" for name in acknowledged.creates if name not in stored_names]
    half += [f"tag {name} (id {pk}): {created[pk]} 'create' entries" for pk, name in names.items() if created[pk] != 1]
    for pk, label in entries:
        name = names.get(int(pk))
        if name is None:
            half.append(f"a 'create' entry for tag {pk}, which is not there")
        elif label != name:
            half.append(f"the 'create' entry for tag {pk} names {label!r}, the tag is {name!r}")

    stored = {row.id: row for row in await session.execute(select(item).where(item.c.id.in_(items)))}
    entries = await session.execute(
        select(log.c.object_pk, log.c.changes)
        .where(log.c.model == "item", log.c.action == "update", log.c.object_pk.in_([str(i) for i in items]))
        .order_by(log.c.id)
    )
    chains: dict[int, list[tuple[int, int]]] = {i: [] for i in items}
    for pk, changes in entries:
        before, after = changes.get("quantity", [None, None])
        chains[int(pk)].append((before, after))
    stored_edits = 0
    for pk, chain in chains.items():
        row = stored[pk]
        stored_edits += len(chain)
        quantity = 0
        for number, (before, after) in enumerate(chain, start=1):
            if before != quantity:
                half.append(f"item {pk}: entry {number} changes the quantity from {before}, which was {quantity}")
            quantity = after
        if row.quantity != quantity:
            half.append(f"item {pk}: quantity {row.quantity}, its history ends at {quantity}")
        if row.version != 1 + len(chain):
            half.append(f"item {pk}: version {row.version} after {len(chain)} 'update' entries (from version 1)")
    for edit in acknowledged.edits:
        chain = chains[edit.item]
        reached = chain[edit.version - 1][1] if edit.version <= len(chain) else None
        if reached != edit.value:
            missing.append(
                f"item {edit.item}: the edit to {edit.value} from version {edit.version} was acknowledged, the "
                f"history holds {reached} there"
            )
    stored_creates = sum(1 for name in acknowledged.creates if name in stored_names)
    return Findings(stored_creates, len(names) - stored_creates, stored_edits, missing, half)


@dataclass
class CrashReport:
    """One run of the kill scenario: what the writers saw and what the database holds."""

    database: str
    seed: int  # of the kills' moments (the writers' timing is the machine's)
    writers: int
    seconds: float
    kills: int
    acknowledged: Acknowledged
    findings: Findings
    statuses: Counter[int]
    cut: int  # requests in flight at a kill: their response cut off or never sent
    after_last_restart: int  # writes acknowledged by the last server
    problems: list[str]

    @property
    def ok(self) -> bool:
        return (
            not self.findings.missing
            and not self.findings.half_written
            and not self.problems
            and self.after_last_restart > 0
        )

    def summary(self) -> str:
        found = self.findings
        lines = [
            f"{self.database}: {self.writers} writers, {self.seconds:.0f} s, {self.kills} kills (SIGKILL; --seed "
            f"{self.seed}), responses {dict(sorted(self.statuses.items()))}, {self.cut} cut off by a kill",
            f"  creates: {len(self.acknowledged.creates)} acknowledged, {found.stored_creates} of them stored, "
            f"{found.unacknowledged_creates} more stored unacknowledged",
            f"  edits: {len(self.acknowledged.edits)} acknowledged, {found.stored_edits} stored in the history "
            f"chains of {EDITED_ITEMS} items",
            f"  {self.after_last_restart} writes acknowledged after the last restart",
            f"  missing {len(found.missing)}, half-written {len(found.half_written)}, problems {len(self.problems)}"
            f" -> {'OK' if self.ok else 'FAILED'}",
        ]
        lines += [f"  {line}" for line in (found.missing + found.half_written + self.problems)[:20]]
        return "\n".join(lines)


class _Lives:
    """What the writers and the killer share: whether the server is up, when to stop, what was acknowledged."""

    def __init__(self, seconds: float, kills: int) -> None:
        self.end = time.monotonic() + seconds
        self.kills_left = kills
        self.up = asyncio.Event()
        self.just_acknowledged = asyncio.Event()
        self.acknowledged = Acknowledged()
        self.statuses: Counter[int] = Counter()
        self.cut = 0
        self.in_this_life = 0
        self.problems: list[str] = []

    def running(self) -> bool:
        # Past its end the run waits for its kills and for the last server's first write (a busy machine may
        # take a while), within a grace.
        now = time.monotonic()
        waiting = self.kills_left > 0 or self.in_this_life == 0
        return now < self.end or (waiting and now < self.end + RESTART_GRACE)

    def acknowledge(self) -> None:
        self.in_this_life += 1
        self.just_acknowledged.set()

    def answered(self, what: str, response: httpx.Response) -> None:
        self.statuses[response.status_code] += 1
        if response.status_code >= 500 or "database is locked" in response.text:
            self.problems.append(f"{what}: {response.status_code}")

    async def lost(self) -> None:
        """A request went unanswered: wait for the server to be back (or the run to end)."""
        self.cut += 1
        await asyncio.sleep(0.02)
        remaining = self.end + RESTART_GRACE - time.monotonic()
        if not self.up.is_set() and remaining > 0:
            with suppress(TimeoutError):
                await asyncio.wait_for(self.up.wait(), remaining)


_VERSION = re.compile(r'name="_version" value="(\d+)"')


class _CrashWriter:
    """One writer: a tag created, then its item edited from the version its form carried, again and again."""

    def __init__(self, lives: _Lives, client: httpx.AsyncClient, number: int, item: int) -> None:
        self.lives, self.client, self.number, self.item = lives, client, number, item
        self.headers: dict[str, str] = {}
        self.version: int | None = None  # of the item, as this writer last knew it

    def signed_out(self, response: httpx.Response) -> bool:
        return response.status_code == 401 or response.headers.get("location", "").startswith("/admin/login")

    async def run(self) -> None:
        sequence = 0
        while self.lives.running():
            sequence += 1
            try:
                if not self.headers:
                    self.headers = {"x-csrftoken": await _sign_in(self.client)}
                await self.create(f"{TAG_PREFIX}{self.number}-{sequence}")
                await self.edit(self.number * 1_000_000 + sequence)
            except httpx.TransportError:
                self.version = None  # an edit in flight may have landed: read the version again
                await self.lives.lost()

    async def create(self, name: str) -> None:
        response = await self.client.post("/admin/tag/", data={"name": name}, headers=self.headers)
        self.lives.answered(f"create {name}", response)
        if self.signed_out(response):
            self.headers = {}
        elif response.status_code == 303:
            self.lives.acknowledged.creates.append(name)
            self.lives.acknowledge()

    async def edit(self, value: int) -> None:
        headers = {**self.headers, "HX-Request": "true"}
        if self.version is None:
            form = await self.client.get(f"/admin/item/{self.item}/edit", headers=headers)
            self.lives.answered(f"edit form of item {self.item}", form)
            found = _VERSION.search(form.text)
            if found is None:
                self.headers = {} if self.signed_out(form) else self.headers
                return
            self.version = int(found.group(1))
        data = {"quantity": str(value), "_version": str(self.version)}
        response = await self.client.patch(f"/admin/item/{self.item}", data=data, headers=headers)
        self.lives.answered(f"edit of item {self.item}", response)
        if response.status_code == 200:
            self.lives.acknowledged.edits.append(Edit(self.item, self.version, value))
            self.lives.acknowledge()
            self.version += 1
        elif response.status_code == 409:  # the other writer saved first: its form shows the version now
            found = _VERSION.search(response.text)
            self.version = int(found.group(1)) if found else None
        else:
            self.version = None
            if self.signed_out(response):
                self.headers = {}


async def _kill_and_restart(lives: _Lives, server: Server, kills: int, seconds: float, rng: random.Random) -> int:
    """`kills` times: wait a random moment of this slice of the run, then kill the server as the next
    acknowledgement arrives, and start it again. The number of kills done."""
    slice_length = seconds / (kills + 1)
    done = 0
    for _ in range(kills):
        await asyncio.sleep(rng.uniform(0.25, 0.75) * slice_length)
        lives.just_acknowledged.clear()
        with suppress(TimeoutError):  # no write acknowledged meanwhile: kill anyway
            await asyncio.wait_for(lives.just_acknowledged.wait(), 2)
        if not lives.running():
            break  # past the grace
        lives.up.clear()
        lives.in_this_life = 0
        server.kill()
        done += 1
        server.start()
        await server.wait_until_up()
        lives.kills_left -= 1
        lives.up.set()
        lives.end = max(lives.end, time.monotonic() + 0.5)  # time for the last server's writes
    return done


def crash_run(
    url: str, writers: int = 8, seconds: float = 25, kills: int = 3, *, demo_data: bool = True, seed: int | None = None
) -> CrashReport:
    """The kill scenario on the database at `url` (empty: migrated and filled here); see the module's
    docstring. Never leaves a server running."""
    _prepare(url, demo_data=demo_data)
    items = asyncio.run(arrange_items(url))
    seed = random.randrange(1_000_000) if seed is None else seed
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        server = Server(url, Path(folder) / "server.log")

        async def scenario() -> tuple[_Lives, int]:
            await server.wait_until_up()
            lives = _Lives(seconds, kills)
            lives.up.set()
            clients = [httpx.AsyncClient(base_url=server.base, timeout=10, trust_env=False) for _ in range(writers)]
            try:
                team = [_CrashWriter(lives, c, n, items[n % len(items)]).run() for n, c in enumerate(clients)]
                work = asyncio.gather(_kill_and_restart(lives, server, kills, seconds, rng), *team)
                done, *_ = await asyncio.wait_for(work, seconds + 60 * (kills + 1))
            finally:
                for client in clients:
                    await client.aclose()
            return lives, done

        server.start()
        try:
            lives, done = asyncio.run(scenario())
        finally:
            server.stop()
        locked = _locked_lines(server.log())
    findings = asyncio.run(check_crash_safety(url, lives.acknowledged, items))
    problems = lives.problems + [f"server log: {line}" for line in locked[:5]]
    if done < kills:
        problems.append(f"{done} kills of {kills}: the run was too short")
    return CrashReport(
        url.split("+")[0].split(":")[0],
        seed,
        writers,
        seconds,
        done,
        lives.acknowledged,
        findings,
        lives.statuses,
        lives.cut,
        lives.in_this_life,
        problems,
    )


# -- the command line ---------------------------------------------------------------------------------------


@contextmanager
def scratch_postgres(dsn: str) -> Iterator[str]:
    """A PostgreSQL database made on `dsn`'s server for the run, and dropped after it: its async URL."""
    name = f"bench_writers_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{dsn.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--kill", type=int, nargs="?", const=3, default=0, metavar="N", help="the kill scenario")
    parser.add_argument("--seed", type=int, help="of the kills' random moments")
    parser.add_argument("--postgres", action="store_true", help="also run on a fresh PostgreSQL database")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--postgres-dsn", default=POSTGRES_DSN)
    args = parser.parse_args()

    def one(url: str) -> bool:
        if not args.kill:
            return run(url, args.writers, args.seconds)
        report = crash_run(url, args.writers, args.seconds, args.kill, seed=args.seed)
        print(report.summary())
        return report.ok

    results = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            results.append(one(f"sqlite+aiosqlite:///{folder}/writers.sqlite3"))
    if args.postgres:
        with scratch_postgres(args.postgres_dsn) as url:
            results.append(one(url))
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
