"""Benchmark the admin against a hand-written floor, on SQLite (and PostgreSQL), at several table sizes.

    make bench                                  # 1,000 / 100,000 / 1,000,000 items, SQLite, 10 s per scenario
    .venv/bin/python -m bench.run --quick       # smoke run: small sizes, 2 s per scenario
    .venv/bin/python -m bench.run --sizes 1k,100k --postgres --duration 5
    .venv/bin/python -m bench.run --sizes 1k --postgres --no-sqlite --workers 1,2   # 1 and 2 uvicorn workers

For every database and size: seed (cached for SQLite), start the app under uvicorn as production would (through
bench/instrumented.py, which adds an `x-sql-statements` header), probe each scenario once with httpx (status,
statement count, is the feature there at all), then load it with wrk on 127.0.0.1 and read the server's peak
memory and CPU time. The floors (bench/floor.py) run side by side, each scenario in slices alternating with the
admin's twin: the floor, which does the admin's work by hand (signed in, audited), and the bare floor, which does
not sign in or audit. Prints one markdown table and writes bench/results/latest.md.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from bench import seed

ROOT = seed.ROOT
BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
LUA_SCRIPT = BENCH_DIR / "report.lua"
HOST = "127.0.0.1"
SECRET_KEY = "bench-fixed-secret-key-32-bytes!"  # fixed: cookies and CSRF tokens stay valid for the whole run
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
LOGIN_PATH = "/admin/login"
FLOOR_START = "/floor/item/"
SESSION_COOKIE = "admin_session"  # webapp.admin.sessions.SESSION_COOKIE; the harness does not import the app
BENCH_ACCOUNT = ("bench", "bench-password-not-secret-0")  # only ever in the harness's own databases
DEFAULT_SIZES = (1_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)
ADMIN_FACTORY = "bench.instrumented:admin_app"
# `--browse`: the admin as `make browse` serves the same database, reflected with no model code.
BROWSE_FACTORY = "bench.instrumented:browse_app"
# The floors, by the name their rows carry. "floor" does the admin's work by hand, including issue #4's sign-in
# and audit entry: the targets' floor. "bare" is the floor as issue #3 first defined it, before the admin had
# sign-in; its ratios are reported beside, so what the trust work costs stays in view.
FLOORS = {"floor": "bench.instrumented:floor_app", "bare": "bench.instrumented:bare_floor_app"}
TARGET_FLOOR = "floor"
# `--against REV`: the admin at another commit, served from that commit's files beside this one and loaded in
# alternating slices with it, scenario by scenario: a before/after comparison that the machine's drift during
# the run (seen here: a floor's req/s moving by a third between two runs) cannot fake.
BEFORE = "before"
AGAINST_DIR = BENCH_DIR / ".against"
SLOWER = 0.95  # an admin scenario below this share of the earlier commit's req/s is reported as slower
# `--workers 1,2`: every server of the run is started once per worker count, and each scenario is loaded in
# alternating slices at every count, so the ratio of N workers to the fewest is read from the same moments.
SCALING = "workers"
# `--redis`: sessions, the sign-in throttle and the list counts' memory in Redis, as `REDIS_URL` puts them in
# production; a database of its own, so that the tests' FLUSHDB (on /15) never signs the run out.
BENCH_REDIS_URL = "redis://127.0.0.1:6379/14"
SERVER_START_TIMEOUT = 60.0
SERVER_STOP_TIMEOUT = 15.0
WRK_SOCKET_TIMEOUT = "60s"
PROBE_TIMEOUT = 120.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BUSY_MACHINE = 0.10  # flag a run when other processes used more than this share of the CPUs
SLOW_PROBE = 0.5  # seconds: a scenario this slow alone gets no warm-up and a longer load (up to --max-duration)
IDLE_TIMEOUT = 300.0
IDLE_SAMPLE = 0.25
DRAIN_NOTE = 3.0  # mention draining that took longer than this
EXPORT_TIMEOUT = 900.0

# Targets from the issue. Cost = mean latency at the fixed concurrency (by Little's law ~ connections / req/s).
FLOOR_TARGET = 0.70  # admin req/s >= 70% of the floor's
FLOOR_KEYS = ("list", "edit", "update")
# cost at 1M <= factor x cost at 1,000; search twice: a term matching 0.1% of the rows (1 row at 1k, 1,000 at 1M:
# the page it draws grows too) and one matching the same 20 rows at every size (the index alone)
SCALING_TARGETS = {"list": 1.5, "list_deepest": 1.5, "search": 3.0, "search_selective": 3.0}
BIG, SMALL = 1_000_000, 1_000


class BenchError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- what is measured ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One database at one size, with the DATABASE_URL the servers get."""

    db: str
    size: int
    url: str
    database_name: str = ""  # PostgreSQL only


Check = Callable[[httpx.Response, Target], str | None]


@dataclass(frozen=True)
class Scenario:
    """One request shape. `check` looks at the probe response and returns why the scenario is n/a, if it is."""

    key: str  # stable across sizes and apps: the ratios pair rows by it
    label: str
    paths: tuple[str, ...]  # several: used in turn (writes spread over the rows of page 1)
    method: str = "GET"
    body: str = ""  # form body; "{n}" becomes a request counter
    htmx: bool = False
    download: bool = False  # one timed streamed download instead of a load run
    check: Check | None = None
    note: str = ""
    redirects: bool = False  # a whole-page form post: answers 303 (wrk counts 3xx as success too)


@dataclass
class Ratio:
    """The admin's req/s over a floor's (same db, size and scenario): the median of the slice pairs' ratios when
    they were loaded in alternating slices."""

    value: float
    cpu: float | None = None  # the floor's CPU ms per request over the admin's: the same ratio in CPU time
    whole: float | None = None  # the whole run's req/s over the floor's, when sliced
    slices: list[float] = field(default_factory=list)


@dataclass
class Row:
    app: str
    scenario: Scenario
    target: Target
    status: str = "ok"  # ok | n/a | error
    note: str = ""
    rps: float | None = None
    mean_ms: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    bytes_per_response: float | None = None
    statements: int | None = None
    peak_mb: float | None = None
    cpu_ms: float | None = None  # server (+ its PostgreSQL backends) CPU time per request: barely moved by other load
    others_share: float | None = None
    workers: int = 1  # uvicorn worker processes of the server
    usage: Usage | None = None  # where the machine's CPU went during the load
    seconds: float | None = None  # downloads
    vs: dict[str, Ratio] = field(default_factory=dict)  # against each floor by its name, BEFORE and SCALING
    # rows loaded in alternating slices with others (the same `together`): each slice's req/s and CPU ms/request,
    # which pair slice by slice into the ratios
    together: int | None = None
    slice_rps: list[float] = field(default_factory=list)
    slice_cpu_ms: list[float] = field(default_factory=list)
    slice_usage: list[dict[str, float]] = field(default_factory=list)  # each slice's shares of the machine
    vs_small: float | None = None
    vs_small_cpu: float | None = None  # CPU ms / CPU ms at 1,000 rows

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _absent(response: httpx.Response, _target: Target) -> str | None:
    if response.status_code in (404, 405):
        return f"answers {response.status_code}: not built yet"
    return None


RESULT_COUNT = re.compile(r'id="result-count">([\d,]+)<')


def _shown_total(response: httpx.Response) -> int | None:
    found = RESULT_COUNT.search(response.text)
    return int(found.group(1).replace(",", "")) if found else None


def _filter_applies(response: httpx.Response, target: Target) -> str | None:
    if response.status_code == 400:
        return "answers 400: the status filter is not built yet"
    if response.is_success and _shown_total(response) == target.size:
        return "`status` is ignored (the page counts all rows): the filter is not built yet"
    return None


def admin_scenarios(size: int) -> list[Scenario]:
    """The admin's scenarios for a table of `size` items. Add one here and it is probed, loaded and tabled."""
    pages = max(1, math.ceil(size / seed.PER_PAGE))
    page_one = seed.page_one_ids(size)
    middle = (size + 1) // 2
    scenarios = [
        Scenario("list", "list page 1", ("/admin/item/",)),
        # The deepest page as a person reaches it: page 1's "Last »" link (a keyset cursor, like Next/Previous).
        Scenario("list_deepest", "list deepest page (Last link)", ("/admin/item/?last=1",), note=f"page {pages:,}"),
        # The same page by its number, as only a typed URL asks for it on a big table (an OFFSET).
        Scenario("list_deepest_number", "list deepest page by number", (f"/admin/item/?page={pages}",)),
    ]
    if pages > 1000:
        scenarios.append(Scenario("list_page_1000", "list page 1,000", ("/admin/item/?page=1000",)))
    word = seed.SEARCH_WORD.lower()
    return [
        *scenarios,
        Scenario("search", "search", (f"/admin/item/?q={word}",), note=f"q={word}: 0.1% of rows"),
        Scenario(
            "search_selective",
            "search, 20 matches",
            (f"/admin/item/?q={seed.SELECTIVE_WORD.lower()}",),
            note=f"q={seed.SELECTIVE_WORD.lower()}: the same 20 rows at every size",
        ),
        Scenario("filter_sort", "filter + sort", ("/admin/item/?status=active&sort=-price",), check=_filter_applies),
        Scenario("lookup", "FK lookup", (f"/admin/user/lookup?q={seed.LOOKUP_QUERY}",), check=_absent),
        Scenario("edit", "edit form", (f"/admin/item/{middle}/edit",)),
        Scenario(
            "update",
            "inline update",
            tuple(f"/admin/item/{pk}" for pk in page_one),
            method="PATCH",
            body="name=Bench+item+{n}&price={n}.50",
            htmx=True,
            note="PATCH, rows of page 1 in turn",
        ),
        Scenario(
            "form_update",
            "form update",
            tuple(f"/admin/item/{pk}" for pk in page_one),
            method="POST",
            body="name=Bench+form+{n}&description=&price={n}.50&quantity=1&status=active&owner_id=1",
            redirects=True,
            note="whole-page POST, then 303; rows of page 1 in turn",
        ),
        Scenario("export", "CSV export", ("/admin/item/export.csv",), download=True, check=_absent),
    ]


def floor_scenarios(size: int) -> list[Scenario]:
    page_one = seed.page_one_ids(size)
    middle = (size + 1) // 2
    return [
        Scenario("list", "list page 1", ("/floor/item/",)),
        Scenario("edit", "edit form", (f"/floor/item/{middle}/edit",)),
        Scenario(
            "update",
            "inline update",
            tuple(f"/floor/item/{pk}" for pk in page_one),
            method="PATCH",
            body="name=Bench+item+{n}&price={n}.50",
            htmx=True,
            note="PATCH, rows of page 1 in turn",
        ),
    ]


# -- credentials: the one place that knows how to get in ----------------------------------------------------------


@dataclass
class Credentials:
    cookies: dict[str, str] = field(default_factory=dict)
    csrf_token: str = ""

    def headers(self, method: str) -> dict[str, str]:
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if method not in ("GET", "HEAD") and self.csrf_token:
            headers["x-csrftoken"] = self.csrf_token
        return headers


def acquire_credentials(
    base_url: str,
    start_path: str,
    *,
    create_account: Callable[[str, str], None] | None = None,
    carry: dict[str, str] | None = None,
) -> Credentials:
    """The cookies (session, `csrftoken`) and CSRF token a browser holds after opening `start_path`.

    When the page sends to a login page (a redirect there, or 401), log in first: POST username, password and
    _csrf_token to it as ADMIN_USERNAME / ADMIN_PASSWORD (see `login_account`), after `create_account` made sure
    that account exists in the benchmark's database. Every request of the run then carries the signed-in cookies.
    `carry`: cookies the browser already holds (the admin's session, for the floor that reads it).
    """
    with httpx.Client(base_url=base_url, follow_redirects=False, timeout=PROBE_TIMEOUT, cookies=carry) as client:
        response = client.get(start_path)
        login_url = _login_url(response)
        if login_url:
            username, password = login_account()
            if create_account is not None:
                create_account(username, password)
            _log_in(client, login_url, username, password)
            response = client.get(start_path)
        if not response.is_success:
            raise BenchError(f"GET {start_path} answered {response.status_code}; cannot start the run")
        cookies = {cookie.name: cookie.value for cookie in client.cookies.jar}
    return Credentials(cookies=cookies, csrf_token=cookies.get("csrftoken", ""))


def login_account() -> tuple[str, str]:
    """ADMIN_USERNAME / ADMIN_PASSWORD, or a fixed account the harness creates in its own throwaway database."""
    return os.environ.get("ADMIN_USERNAME") or BENCH_ACCOUNT[0], os.environ.get("ADMIN_PASSWORD") or BENCH_ACCOUNT[1]


def _login_url(response: httpx.Response) -> str | None:
    location = response.headers.get("location", "")
    if response.is_redirect and "login" in location:
        return location
    if response.status_code == 401:
        return response.headers.get("hx-redirect") or LOGIN_PATH
    return None


def _log_in(client: httpx.Client, login_url: str, username: str, password: str) -> None:
    page = client.get(login_url)  # sets the csrftoken cookie
    token = next((c.value for c in client.cookies.jar if c.name == "csrftoken"), "")
    if not token:
        hidden = re.search(r'name="_csrf_token"\s+value="([^"]+)"', page.text)
        token = hidden.group(1) if hidden else ""
    answer = client.post(login_url, data={"username": username, "password": password, "_csrf_token": token})
    refused = answer.status_code >= 400 or (answer.is_success and 'name="password"' in answer.text)
    if refused or (answer.is_redirect and "login" in answer.headers.get("location", "")):
        raise BenchError(
            f"logging in as {username!r} at {login_url} failed (HTTP {answer.status_code}); "
            "set ADMIN_USERNAME and ADMIN_PASSWORD to an account of the app"
        )
    log(f"logged in as {username}")


def ensure_account(target: Target) -> Callable[[str, str], None]:
    """Create the login account in the run's database with the app's CLI (`admin ensure-superuser`, when the app
    has it); a failure is only logged, and logging in then says what is wrong."""

    def create(username: str, password: str) -> None:
        command = [sys.executable, "-m", "litestar", "--app", "webapp.app:create_app", "admin", "ensure-superuser"]
        env = {
            **os.environ,
            "DATABASE_URL": target.url,
            "SECRET_KEY": SECRET_KEY,
            "ADMIN_USERNAME": username,
            "ADMIN_PASSWORD": password,
        }
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log(f"could not create the account {username!r}: {(done.stderr or done.stdout).strip()[-500:]}")

    return create


# -- servers ------------------------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    workers: int = 1

    def processes(self) -> list[int]:
        """The server's process and all its descendants (uvicorn's supervisor and its workers), as they are now."""
        return [self.process.pid, *descendants(self.process.pid)]

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: uvicorn --workers 1 serves in its own process; with more, in children
        it spawns (`multiprocessing.spawn`), which it replaces when one dies, so this is read afresh each time."""
        if self.workers == 1:
            return [self.process.pid]
        spawned = [pid for pid in descendants(self.process.pid) if b"spawn_main" in _cmdline(pid)]
        return spawned or [self.process.pid]


def _cmdline(pid: int) -> bytes:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    return b""


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children of any of its threads, and theirs), from /proc."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                with contextlib.suppress(OSError):
                    children = [int(child) for child in (task / "children").read_text().split()]
                    found += children
                    todo += children
    return found


def _status_kb(pid: int, key: str) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    return None


def reset_peak_memory(pids: Sequence[int]) -> bool:
    """Reset VmHWM (Linux: `echo 5 > /proc/pid/clear_refs`) so each scenario reports its own peak."""
    try:
        for pid in pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of the process (aiosqlite runs queries in threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_cpu_seconds() -> tuple[float, float, float]:
    """(busy, total, steal) CPU seconds of the whole machine since boot, from /proc/stat; steal is the time a
    virtual machine's CPUs were ready to run but the host ran something else (part of busy)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS, values[7] / CLOCK_TICKS


def load_average() -> float:
    """The machine's one-minute load average (runnable and waiting processes), from /proc/loadavg."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return float(Path("/proc/loadavg").read_text().split()[0])
    return 0.0


# PostgreSQL's own processes, which serve every database at once (their title is "postgres: <this>").
PG_BACKGROUND = ("checkpointer", "background writer", "walwriter", "autovacuum launcher", "logical replication")
PG_CLUSTER = re.compile(r"^[^ :]+: ")


def postgres_processes(database_name: str) -> tuple[list[int], list[int]]:
    """The PostgreSQL server processes serving `database_name` (their title: "postgres: user db host(port) …"), and
    PostgreSQL's background processes: its WAL writer, checkpointer, … and the autovacuum workers on that database."""
    backends, background = [], []
    marker = f" {database_name} "
    vacuum = f"autovacuum worker {database_name}"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            title = (entry / "cmdline").read_bytes().rstrip(b"\0 ").decode(errors="replace")
            if not title.startswith("postgres: "):
                continue
            # "postgres: [cluster: ]what": Debian's clusters put their name first ("15/main: walwriter")
            what = PG_CLUSTER.sub("", title.removeprefix("postgres: "), count=1)
            if what == vacuum or what.startswith(PG_BACKGROUND):
                background.append(int(entry.name))
            elif marker in title:
                backends.append(int(entry.name))
    return backends, background


def _cpu_of(pids: Sequence[int]) -> dict[int, float]:
    seconds = {}
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            seconds[pid] = process_cpu_seconds(pid)
    return seconds


@dataclass(frozen=True)
class Watched:
    """Where a server's work runs, looked up afresh at each reading: uvicorn replaces a worker that dies, and
    PostgreSQL starts a backend for each new connection of a pool."""

    running: Server
    database_name: str = ""  # PostgreSQL only

    def groups(self) -> dict[str, list[int]]:
        """Processes by what they do: "server" (uvicorn's), "postgres" (the backends serving the run's database)
        and "pg_background" (PostgreSQL's WAL writer, checkpointer, autovacuum on that database)."""
        backends, background = postgres_processes(self.database_name) if self.database_name else ([], [])
        return {"server": self.running.processes(), "postgres": backends, "pg_background": background}

    def busy(self) -> list[int]:
        """The processes whose CPU time a request costs: the server's and its PostgreSQL backends."""
        groups = self.groups()
        return [*groups["server"], *groups["postgres"]]


def wait_until_idle(pids: Callable[[], list[int]], timeout: float = IDLE_TIMEOUT) -> float:
    """Wait (bounded) until the server uses under 10% of a core for half a second; return the seconds waited."""
    started = time.monotonic()
    last, quiet = sum(_cpu_of(pids()).values()), 0
    while time.monotonic() - started < timeout:
        time.sleep(IDLE_SAMPLE)
        now = sum(_cpu_of(pids()).values())
        quiet = quiet + 1 if now - last < IDLE_SAMPLE * 0.1 else 0
        last = now
        if quiet >= 2:
            break
    return time.monotonic() - started


# Where the machine's CPU time goes during a load, in this order in the report.
USAGE_PARTS = ("server", "postgres", "pg_background", "wrk", "others", "steal", "idle")


@dataclass
class Usage:
    """CPU seconds of the machine during one or more loads, by who spent them (USAGE_PARTS), with the machine's
    capacity (cores x seconds) over the same time, each serving worker's seconds and the wall-clock seconds."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(USAGE_PARTS, 0.0))
    capacity: float = 0.0
    wall: float = 0.0
    per_worker: dict[int, float] = field(default_factory=dict)  # by pid
    load: float = 0.0  # the highest one-minute load average seen when a load began
    new_backends: int = 0  # PostgreSQL backends that began during the load: connections the server opened

    def add(self, other: Usage) -> None:
        self.new_backends += other.new_backends
        for part, seconds in other.seconds.items():
            self.seconds[part] = self.seconds.get(part, 0.0) + seconds
        self.capacity += other.capacity
        self.wall += other.wall
        for pid, seconds in other.per_worker.items():
            self.per_worker[pid] = self.per_worker.get(pid, 0.0) + seconds
        self.load = max(self.load, other.load)

    def share(self, part: str) -> float:
        """Of the machine's capacity (1.0: every core busy all the time)."""
        return self.seconds.get(part, 0.0) / self.capacity if self.capacity > 0 else 0.0

    def worker_shares(self) -> list[float]:
        """Each serving process's CPU time over the wall-clock time, busiest first (1.0: a whole core)."""
        shares = (seconds / self.wall for seconds in self.per_worker.values()) if self.wall > 0 else ()
        return sorted(shares, reverse=True)


@dataclass(frozen=True)
class Reading:
    """The CPU seconds so far of everything a CpuMeter tells apart, at one moment."""

    groups: dict[str, dict[int, float]]  # by part (Watched.groups), by pid
    workers: dict[int, float]
    children: float  # this process's reaped children (wrk, once it has ended)
    machine: tuple[float, float, float]  # machine_cpu_seconds()
    at: float

    @classmethod
    def now(cls, watched: Watched) -> Reading:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(
            {part: _cpu_of(pids) for part, pids in watched.groups().items()},
            _cpu_of(watched.running.worker_pids()),
            children.ru_utime + children.ru_stime,
            machine_cpu_seconds(),
            time.monotonic(),
        )

    def since(self, before: Reading) -> Usage:
        busy, total, steal = (now - then for now, then in zip(self.machine, before.machine, strict=True))
        usage = Usage(capacity=total, wall=self.at - before.at)
        for part, now in self.groups.items():
            then = before.groups.get(part, {})
            # a process born in between counts from its start; one that ended in between is lost
            usage.seconds[part] = sum(seconds - then.get(pid, 0.0) for pid, seconds in now.items())
            if part == "postgres":
                usage.new_backends = len(now.keys() - then.keys())
        usage.per_worker = {pid: seconds - before.workers.get(pid, 0.0) for pid, seconds in self.workers.items()}
        usage.seconds["wrk"] = self.children - before.children
        usage.seconds["idle"] = max(0.0, total - busy)
        usage.seconds["steal"] = steal
        counted = sum(usage.seconds[part] for part in ("server", "postgres", "pg_background", "wrk", "steal"))
        usage.seconds["others"] = max(0.0, busy - counted)
        return usage


@dataclass
class CpuMeter:
    """CPU seconds spent while a load ran: by the server (its processes), its PostgreSQL backends, PostgreSQL's
    background processes, wrk, and everything else on the machine; read from /proc before and after.

    `loaded()`, called when wrk has ended, closes the window of the shares (`usage`): the wait for the server to
    finish the requests wrk left in flight would dilute them. `server` (for CPU ms per request) runs to the end
    of the block, that wait included, since those requests are counted."""

    watched: Watched
    usage: Usage = field(default_factory=Usage)
    server: float = 0.0  # the CPU seconds the requests cost: the server's processes and its PostgreSQL backends
    _first: Reading | None = None

    @property
    def others_share(self) -> float:
        return self.usage.share("others")

    def __enter__(self) -> CpuMeter:
        load = load_average()
        self._first = Reading.now(self.watched)
        self.usage = Usage(load=load)
        return self

    def loaded(self) -> None:
        assert self._first is not None
        load, self.usage = self.usage.load, Reading.now(self.watched).since(self._first)
        self.usage.load = load

    def __exit__(self, *_exc: object) -> None:
        assert self._first is not None
        whole = Reading.now(self.watched).since(self._first)
        self.server = whole.seconds["server"] + whole.seconds["postgres"]
        if not self.usage.capacity:
            whole.load = self.usage.load
            self.usage = whole


def peak_memory_mb(pids: Sequence[int]) -> float | None:
    """The largest VmHWM among the serving processes (each worker has its own memory)."""
    peaks = [kb for kb in (_status_kb(pid, "VmHWM") for pid in pids) if kb is not None]
    return max(peaks) / 1024 if peaks else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _log_tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


@contextlib.contextmanager
def server(
    name: str,
    factory: str,
    target: Target,
    *,
    echo_sql: bool = False,
    slow_ms: float = 0.0,
    root: Path = ROOT,
    workers: int = 1,
    redis_url: str = "",
) -> Iterator[Server]:
    """uvicorn as production runs it (no reload, no debug; `workers` processes, as `make serve` starts them with
    WORKERS), stopped whatever happens. `root`: the checkout whose code it serves (`python -m` imports from the
    working folder first). `redis_url`: REDIS_URL for the app, as production sets it; without it the app keeps
    its sessions in the database and each worker its own list counts' memory."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": target.url, "SECRET_KEY": SECRET_KEY, "PYTHONUNBUFFERED": "1"}
    # For the browsing admin: its own tables are in the benchmark's database already (the migrations made them).
    env["ADMIN_STATE_URL"] = target.url
    for unset in ("DEBUG", "BENCH_ECHO_SQL", "BENCH_SLOW_MS", "REDIS_URL"):
        env.pop(unset, None)
    if echo_sql:
        env["BENCH_ECHO_SQL"] = "1"
    if slow_ms:
        env["BENCH_SLOW_MS"] = str(slow_ms)
    if redis_url:
        env["REDIS_URL"] = redis_url
    command = [
        sys.executable, "-m", "uvicorn", "--factory", factory, "--host", HOST, "--port", str(port),
        "--workers", str(workers), "--no-access-log",
    ]  # fmt: skip
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    many = f"-{workers}w" if workers > 1 else ""
    log_path = RESULTS_DIR / f"server-{name}{many}-{target.db}-{target.size}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            running = Server(name, process, f"http://{HOST}:{port}", log_path, workers)
            _wait_until_up(running)
            yield running
        finally:
            _stop(process)


STARTED = "Application startup complete."  # uvicorn logs it once per worker


def _wait_until_up(running: Server) -> None:
    """Until the server answers and every one of its workers has started (they share the listening socket, so
    an answer alone may come from the first)."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise BenchError(
                f"{running.name} server exited ({running.process.returncode}):\n{_log_tail(running.log_path)}"
            )
        try:
            httpx.get(f"{running.base_url}/", timeout=2.0)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        with contextlib.suppress(OSError):
            if running.log_path.read_text(errors="replace").count(STARTED) >= running.workers:
                return
        time.sleep(0.2)
    raise BenchError(f"{running.name} server not up after {SERVER_START_TIMEOUT:.0f} s:\n{_log_tail(running.log_path)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=SERVER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the group this script started the server in
        process.wait(timeout=SERVER_STOP_TIMEOUT)


# -- databases ----------------------------------------------------------------------------------------------------


def _check_local(dsn: str) -> None:
    if urlsplit(dsn).hostname not in ("127.0.0.1", "localhost"):
        raise BenchError(f"only 127.0.0.1 is benchmarked; refusing {dsn}")


@contextlib.contextmanager
def database(db: str, size: int, options: argparse.Namespace) -> Iterator[Target]:
    """A seeded database; a working copy of the cached SQLite file, or a PostgreSQL database dropped afterwards."""
    if db == "sqlite":
        cached = seed.sqlite_database(size, reseed=options.reseed, log=log)
        work = seed.DATA_DIR / f"run-{size}-{os.getpid()}.sqlite3"
        shutil.copyfile(cached, work)  # the writes of the run never touch the cache
        try:
            yield Target("sqlite", size, f"sqlite+aiosqlite:///{work}")
        finally:
            for path in (work, Path(f"{work}-wal"), Path(f"{work}-shm")):
                path.unlink(missing_ok=True)
        return
    admin_dsn = options.postgres_dsn
    _check_local(admin_dsn)
    name = f"bench_{secrets.token_hex(4)}"
    parts = urlsplit(admin_dsn)
    dsn = urlunsplit(parts._replace(path=f"/{quote(name)}"))
    log(f"creating PostgreSQL database {name}")
    seed.pg_create_database(admin_dsn, name)
    try:
        url = urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{quote(name)}"))
        seed.pg_seed(dsn, url, size, log=log)
        yield Target("postgres", size, url, database_name=name)
    finally:
        seed.pg_drop_database(admin_dsn, name)
        log(f"dropped PostgreSQL database {name}")


# -- load ---------------------------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    log("installing wrk (apt-get install -y wrk)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "wrk"]
    if subprocess.run(install, env=env, capture_output=True, timeout=600).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600)
        subprocess.run(install, env=env, capture_output=True, timeout=600)
    found = shutil.which("wrk")
    if not found:
        raise BenchError("wrk is not installed and could not be installed")
    return found


@dataclass(frozen=True)
class Load:
    wrk: str
    duration: int
    max_duration: int
    warmup: int
    connections: int
    threads: int
    gzip: bool
    echo_sql: bool
    slow_ms: float = 0.0  # log requests slower than this (bench/instrumented.py), 0: none
    slices: int = 1  # an admin scenario and its floor twin alternate in this many slices of the duration


def probe_headers(headers: dict[str, str], load: Load) -> dict[str, str]:
    return {**headers, "x-bench-echo-sql": "1"} if load.echo_sql else headers


def request_headers(scenario: Scenario, credentials: Credentials, *, gzip: bool = False) -> dict[str, str]:
    headers = credentials.headers(scenario.method)
    headers["Accept-Encoding"] = "gzip" if gzip else "identity"
    if scenario.htmx:
        headers["HX-Request"] = "true"
    if scenario.body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return headers


def run_wrk(load: Load, base_url: str, scenario: Scenario, headers: dict[str, str], seconds: int) -> dict[str, Any]:
    command = [
        load.wrk, "--threads", str(min(load.threads, load.connections)), "--connections", str(load.connections),
        "--duration", f"{seconds}s", "--timeout", WRK_SOCKET_TIMEOUT, "--latency", "--script", str(LUA_SCRIPT),
    ]  # fmt: skip
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    command.append(base_url + scenario.paths[0])
    env = {
        **os.environ,
        "BENCH_METHOD": scenario.method if scenario.method != "GET" else "",
        "BENCH_BODY": scenario.body,
        "BENCH_PATHS": ",".join(scenario.paths) if len(scenario.paths) > 1 else "",
        "BENCH_THREADS": str(min(load.threads, load.connections)),
    }
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 120)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line.removeprefix("BENCH_JSON "))
    raise BenchError(f"wrk gave no result ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def probe(base_url: str, scenario: Scenario, headers: dict[str, str]) -> httpx.Response:
    body = scenario.body.replace("{n}", "0").encode() if scenario.body else None
    with httpx.Client(base_url=base_url, follow_redirects=False, timeout=PROBE_TIMEOUT) as client:
        return client.request(scenario.method, scenario.paths[0], content=body, headers=headers)


def _statements(response: httpx.Response) -> int | None:
    value = response.headers.get("x-sql-statements")
    return int(value) if value and value.isdigit() else None


@dataclass
class Prepared:
    """A scenario probed and warmed up, ready for load."""

    row: Row
    running: Server
    headers: dict[str, str]
    watched: Watched
    duration: int
    slow: bool


@dataclass
class Tally:
    """What the load runs of one scenario add up to (one run, or the slices of an admin/floor pair)."""

    requests: int = 0
    duration_us: float = 0.0
    latency_us: float = 0.0  # mean latency x requests, summed over runs
    bytes: int = 0
    runs: int = 0
    p50s: list[float] = field(default_factory=list)
    p99s: list[float] = field(default_factory=list)
    slice_rps: list[float] = field(default_factory=list)  # each run's req/s
    slice_cpu_ms: list[float] = field(default_factory=list)  # each run's server CPU ms per request
    errors: dict[str, int] = field(default_factory=dict)
    server_cpu: float = 0.0
    others: list[float] = field(default_factory=list)
    slice_usage: list[dict[str, float]] = field(default_factory=list)  # each run's shares of the machine, by part
    usage: Usage = field(default_factory=Usage)
    drained: float = 0.0


def prepare(
    running: Server, target: Target, scenario: Scenario, credentials: Credentials, load: Load
) -> Prepared | Row:
    """Probe the scenario once (status, statements, is it there at all) and warm it up; a Row when it ends there."""
    row = Row(running.name, scenario, target, note=scenario.note, workers=running.workers)
    headers = request_headers(scenario, credentials, gzip=load.gzip)
    if scenario.download:
        return download(running, row, probe_headers(headers, load))
    started = time.monotonic()
    response = probe(running.base_url, scenario, probe_headers(headers, load))
    probe_seconds = time.monotonic() - started
    row.statements = _statements(response)
    reason = scenario.check(response, target) if scenario.check else None
    if reason:
        row.status, row.note = "n/a", reason
        return row
    if not (response.is_success or (scenario.redirects and response.status_code == 303)):
        row.status, row.note = "error", f"probe answered HTTP {response.status_code}; not loaded"
        return row
    if scenario.key.startswith("search"):
        matches = _shown_total(response) or 0
        row.note = f"{row.note}; {matches:,} {'match' if matches == 1 else 'matches'}"
    watched = Watched(running, target.database_name)
    slow = probe_seconds > SLOW_PROBE  # the probe warmed it up; a warm-up run would only queue more slow work
    if load.warmup and not slow:
        run_wrk(load, running.base_url, scenario, headers, load.warmup)
        wait_until_idle(watched.busy)
    duration = load.duration
    if slow:  # long enough for about 3 responses per connection
        duration = min(max(duration, math.ceil(3 * load.connections * probe_seconds)), load.max_duration)
        row.note = f"{row.note}; slow: {probe_seconds:.1f} s alone, loaded {duration} s".lstrip("; ")
    return Prepared(row, running, headers, watched, duration, slow)


def load_run(prepared: Prepared, load: Load, seconds: int, tally: Tally) -> None:
    with CpuMeter(prepared.watched) as cpu:
        result = run_wrk(load, prepared.running.base_url, prepared.row.scenario, prepared.headers, seconds)
        cpu.loaded()
        # wrk leaves one request per connection in flight; the server finishes them: count them, and never let
        # them spill into the next run.
        drained = wait_until_idle(prepared.watched.busy)
    tally.runs += 1
    tally.requests += result["requests"]
    tally.duration_us += result["duration_us"]
    tally.latency_us += result["latency_mean_us"] * result["requests"]
    tally.bytes += result["bytes"]
    if result["requests"]:
        tally.p50s.append(result["p50_us"])
        tally.p99s.append(result["p99_us"])
    for key, value in result.items():
        if key.startswith("errors_") and value:
            tally.errors[key.removeprefix("errors_")] = tally.errors.get(key.removeprefix("errors_"), 0) + value
    tally.server_cpu += cpu.server
    if result["requests"] and result["duration_us"]:
        tally.slice_rps.append(result["requests"] / (result["duration_us"] / 1e6))
        tally.slice_cpu_ms.append(cpu.server * 1000 / (result["requests"] + load.connections))
    tally.others.append(cpu.others_share)
    tally.slice_usage.append({part: cpu.usage.share(part) for part in USAGE_PARTS} | {"load": cpu.usage.load})
    tally.usage.add(cpu.usage)
    tally.drained = max(tally.drained, drained)


def finish(prepared: Prepared, tally: Tally, load: Load) -> Row:
    row = prepared.row
    row.peak_mb = peak_memory_mb(prepared.running.worker_pids())
    row.others_share = sum(tally.others) / len(tally.others) if tally.others else 0.0
    row.usage = tally.usage
    row.slice_usage = tally.slice_usage
    if tally.drained > DRAIN_NOTE:
        row.note = f"{row.note}; server busy {tally.drained:.0f} s after the load stopped".lstrip("; ")
    if row.others_share > BUSY_MACHINE:
        row.note = f"{row.note}; busy machine: others used {row.others_share:.0%} of the CPUs".lstrip("; ")
    if tally.errors or not tally.requests:
        row.status = "error"
        kinds = {"status": "responses ≥ 400", "timeout": "timeouts"}
        problems = ", ".join(f"{v:,} {kinds.get(k, k + ' errors')}" for k, v in tally.errors.items())
        row.note = (
            f"under load: {problems} in {tally.requests:,} requests; speed not reported; {row.note}"
            if problems
            else f"under load: no response within {prepared.duration} s; {row.note}"
        ).rstrip("; ")
        return row
    row.rps = tally.requests / (tally.duration_us / 1e6)
    row.mean_ms = tally.latency_us / tally.requests / 1000
    row.p50_ms = statistics.median(tally.p50s) / 1000  # of the runs' medians: exact for one run
    row.p99_ms = max(tally.p99s) / 1000
    row.bytes_per_response = tally.bytes / tally.requests
    row.cpu_ms = tally.server_cpu * 1000 / (tally.requests + load.connections * tally.runs)
    if len(tally.slice_rps) == tally.runs:  # every slice answered: they pair with the others' slice by slice
        row.slice_rps = tally.slice_rps
        if len(tally.slice_cpu_ms) == tally.runs:
            row.slice_cpu_ms = tally.slice_cpu_ms
    return row


def measure_alone(prepared: Prepared | Row, load: Load) -> Row:
    if isinstance(prepared, Row):
        return prepared
    reset_peak_memory(prepared.running.worker_pids())
    tally = Tally()
    load_run(prepared, load, prepared.duration, tally)
    return finish(prepared, tally, load)


_groups = itertools.count(1)  # numbers the groups loaded together (`Row.together`)


def measure_together(group: list[Prepared], load: Load) -> list[Row]:
    """Servers loaded in alternating slices (admin, floor, bare; bare, floor, admin; ...; and so on for each worker
    count), so a change in the machine's load during their run weighs on all alike instead of on whichever ran
    then. Each row keeps its slices' req/s and CPU ms per request: `add_ratios` pairs them slice by slice and
    takes the median, which a burst of the machine's other load during one slice cannot move (over whole runs it
    moved the floor ratio by up to 10 points)."""
    slices = max(1, min(load.slices, load.duration))
    seconds = max(1, round(load.duration / slices))
    tallies = {id(prepared): Tally() for prepared in group}
    for prepared in group:
        reset_peak_memory(prepared.running.worker_pids())
    for number in range(slices):
        for prepared in group if number % 2 == 0 else group[::-1]:
            load_run(prepared, load, seconds, tallies[id(prepared)])
    rows = [finish(prepared, tallies[id(prepared)], load) for prepared in group]
    together = next(_groups)
    for row in rows:
        row.together = together
    return rows


def download(running: Server, row: Row, headers: dict[str, str]) -> Row:
    """One streamed download, timed, with the server's peak memory while it ran."""
    reset_peak_memory(running.worker_pids())
    started = time.monotonic()
    total = 0
    with (
        httpx.Client(base_url=running.base_url, follow_redirects=False, timeout=PROBE_TIMEOUT) as client,
        client.stream("GET", row.scenario.paths[0], headers=headers) as response,
    ):
        row.statements = _statements(response)
        reason = row.scenario.check(response, row.target) if row.scenario.check else None
        if reason:
            row.status, row.note = "n/a", reason
            return row
        if not response.is_success:
            row.status, row.note = "error", f"answered HTTP {response.status_code}"
            return row
        for chunk in response.iter_raw():
            total += len(chunk)
            if time.monotonic() - started > EXPORT_TIMEOUT:
                row.status, row.note = "error", f"not finished after {EXPORT_TIMEOUT:.0f} s"
                return row
    row.seconds = time.monotonic() - started
    row.peak_mb = peak_memory_mb(running.worker_pids())
    row.bytes_per_response = total
    row.note = f"one streamed download: {row.seconds:.2f} s, {total / 1e6:.1f} MB"
    return row


def run_target(
    target: Target,
    load: Load,
    *,
    floor: bool,
    only: frozenset[str] = frozenset(),
    against: Path | None = None,
    admin_factory: str = ADMIN_FACTORY,
    workers: Sequence[int] = (1,),
    redis_url: str = "",
) -> list[Row]:
    """The servers up side by side, each once per worker count in `workers`; each admin scenario is loaded in
    alternating slices with its floor twins, with `against` (an earlier commit's files) that commit's admin, and
    all of them at every worker count."""
    rows = []
    admin_scenarios_ = [s for s in admin_scenarios(target.size) if not only or s.key in only]
    twins = {s.key: s for s in floor_scenarios(target.size) if not only or s.key in only} if floor else {}
    floors = list(FLOORS) if floor else []
    apps = [("admin", admin_factory, ROOT), *((name, FLOORS[name], ROOT) for name in floors)]
    if against is not None:
        apps.append((BEFORE, admin_factory, against))

    with contextlib.ExitStack() as stack:
        running = {
            (name, count): stack.enter_context(
                server(
                    name,
                    factory,
                    target,
                    echo_sql=load.echo_sql,
                    slow_ms=load.slow_ms,
                    root=root,
                    workers=count,
                    redis_url=redis_url,
                )
            )
            for count in workers
            for name, factory, root in apps
        }
        credentials: dict[tuple[str, int], Credentials] = {}
        for count in workers:
            for name in ("admin", *([BEFORE] if against is not None else [])):
                credentials[name, count] = acquire_credentials(
                    running[name, count].base_url, "/admin/", create_account=ensure_account(target)
                )
            for name in floors:
                # The floor reads the admin's session, as the admin's own pages do; the bare floor has no sign-in.
                carried = None
                if name == TARGET_FLOOR:
                    session = credentials["admin", count].cookies.get(SESSION_COOKIE)
                    if not session:
                        raise BenchError(f"the admin set no {SESSION_COOKIE} cookie for the floor to read")
                    carried = {SESSION_COOKIE: session}
                credentials[name, count] = acquire_credentials(
                    running[name, count].base_url, FLOOR_START, carry=carried
                )

        def prepared(name: str, count: int, scenario: Scenario) -> Prepared | Row:
            return prepare(running[name, count], target, scenario, credentials[name, count], load)

        def keep(*measured: Row) -> None:
            for row in measured:
                shown = f"{row.rps:,.0f} req/s, {row.cpu_ms:.1f} CPU ms/req" if row.rps and row.cpu_ms else row.note
                many = f" ({row.workers} workers)" if row.workers > 1 else ""
                log(f"{row.app}{many} {target.db} {target.size:,} {row.scenario.label}: {row.status} {shown}")
                rows.append(row)

        for scenario in admin_scenarios_:
            twin = twins.pop(scenario.key, None)
            group = [
                prepared(name, count, twin if name in floors and twin else scenario)
                for count in workers
                for name, _, _ in apps
                if name not in floors or twin
            ]
            loadable = [p for p in group if isinstance(p, Prepared) and not p.slow]
            if len(group) > 1 and len(loadable) == len(group):
                keep(*measure_together(loadable, load))
            else:
                keep(*(measure_alone(p, load) for p in group))
        for twin in twins.values():
            keep(*(measure_alone(prepared(name, count, twin), load) for count in workers for name in floors))
    return rows


# -- ratios, targets, table ---------------------------------------------------------------------------------------


def _ratio_to(row: Row, other: Row | None) -> Ratio | None:
    """`row`'s req/s over `other`'s (and other's CPU ms per request over row's); for rows loaded together in
    slices, the median of the slice pairs' ratios."""
    if other is None or not other.ok or not other.rps or not row.rps:
        return None
    ratio = Ratio(row.rps / other.rps)
    if other.cpu_ms and row.cpu_ms:
        ratio.cpu = other.cpu_ms / row.cpu_ms
    if row.together is not None and row.together == other.together and row.slice_rps:
        if len(row.slice_rps) == len(other.slice_rps):
            ratio.slices = [a / b for a, b in zip(row.slice_rps, other.slice_rps, strict=True)]
            ratio.whole, ratio.value = ratio.value, statistics.median(ratio.slices)
        if row.slice_cpu_ms and len(row.slice_cpu_ms) == len(other.slice_cpu_ms):
            ratio.cpu = statistics.median(b / a for a, b in zip(row.slice_cpu_ms, other.slice_cpu_ms, strict=True))
    return ratio


def add_ratios(rows: list[Row]) -> None:
    by_key = {(r.app, r.workers, r.target.db, r.target.size, r.scenario.key): r for r in rows}
    fewest = min((r.workers for r in rows), default=1)
    for row in rows:
        if not row.ok:
            continue
        db, size, key = row.target.db, row.target.size, row.scenario.key
        for name in (*FLOORS, BEFORE) if row.app == "admin" else ():
            ratio = _ratio_to(row, by_key.get((name, row.workers, db, size, key)))
            if ratio is not None:
                row.vs[name] = ratio
        if row.workers != fewest:
            ratio = _ratio_to(row, by_key.get((row.app, fewest, db, size, key)))
            if ratio is not None:
                row.vs[SCALING] = ratio
        small = by_key.get((row.app, row.workers, db, SMALL, key))
        if small and small.ok and small is not row and small.mean_ms and row.mean_ms:
            row.vs_small = row.mean_ms / small.mean_ms
            if small.cpu_ms and row.cpu_ms:
                row.vs_small_cpu = row.cpu_ms / small.cpu_ms


def targets(rows: list[Row]) -> list[tuple[str, str, str, str]]:
    """(target, measured, the same in CPU time, PASS/FAIL/—) for the issue's targets; the verdict uses `measured`."""
    out: list[tuple[str, str, str, str]] = []
    dbs = sorted({r.target.db for r in rows}, key=lambda d: d != "sqlite")
    counts = sorted({r.workers for r in rows})
    for db, count in ((db, count) for db in dbs for count in counts):
        where = db if len(counts) == 1 else f"{db}, {_workers(count)}"
        admin = [r for r in rows if r.app == "admin" and r.target.db == db and r.workers == count]
        for key in FLOOR_KEYS:
            for row in (r for r in admin if r.scenario.key == key):
                out += [_floor_target(rows, row, name, where) for name in FLOORS]
        for key, limit in SCALING_TARGETS.items():
            label = next((r.scenario.label for r in admin if r.scenario.key == key), key)
            what = f"{label} at {BIG:,} ≤ {limit}x its cost at {SMALL:,} ({where})"
            row = next((r for r in admin if r.scenario.key == key and r.target.size == BIG), None)
            if row is None:
                largest = max((r for r in admin if r.scenario.key == key), key=lambda r: r.target.size, default=None)
                seen = f"; at {largest.target.size:,}: {largest.vs_small:.2f}x" if largest and largest.vs_small else ""
                out.append((what, f"{BIG:,} not in this run{seen}", "", "—"))
            elif row.vs_small is None:
                out.append((what, row.note or "not measured", "", "FAIL" if row.status == "error" else "—"))
            else:
                cpu = f"{row.vs_small_cpu:.2f}x" if row.vs_small_cpu is not None else ""
                out.append((what, f"{row.vs_small:.2f}x", cpu, "PASS" if row.vs_small <= limit else "FAIL"))
    return out


def _workers(count: int) -> str:
    return f"{count} worker{'s' if count != 1 else ''}"


def _floor_target(rows: list[Row], row: Row, name: str, where: str) -> tuple[str, str, str, str]:
    """The floor target of one admin row, against the floor `name`; only TARGET_FLOOR's verdict is the target's."""
    whose = "the floor's" if name == TARGET_FLOOR else f"the {name} floor's (not the target: no sign-in, no audit)"
    what = f"{row.scenario.label} ≥ {FLOOR_TARGET:.0%} of {whose} req/s ({where}, {row.target.size:,})"
    floor = next(
        (
            r
            for r in rows
            if (r.app, r.workers, r.target, r.scenario.key) == (name, row.workers, row.target, row.scenario.key)
        ),
        None,
    )
    ratio = row.vs.get(name)
    if not row.ok:
        return what, f"admin {row.status}: {row.note}", "", "FAIL" if row.status == "error" else "—"
    if floor is None or not floor.ok or ratio is None:
        return what, f"{name} {floor.status}: {floor.note}" if floor else f"no {name} run", "", "—"
    measured = f"{ratio.value:.0%}"
    if ratio.slices:
        measured += f" (slices {min(ratio.slices):.0%} to {max(ratio.slices):.0%}; whole run {ratio.whole:.0%})"
    cpu = f"{ratio.cpu:.0%}" if ratio.cpu is not None else ""
    if name != TARGET_FLOOR:
        return what, measured, cpu, "—"
    return what, measured, cpu, "PASS" if ratio.value >= FLOOR_TARGET else "FAIL"


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _vs(ratio: Ratio | None) -> str:
    return "" if ratio is None else _ratio(ratio.value, ratio.cpu, ratio.slices)


def _ratio(value: float | None, by_cpu: float | None, slices: Sequence[float] = ()) -> str:
    if value is None:
        return ""
    notes = [f"CPU {by_cpu:.2f}x"] if by_cpu is not None else []
    if slices:
        notes.append(f"slices {min(slices):.2f} to {max(slices):.2f}x")
    return f"{value:.2f}x" + (f" ({'; '.join(notes)})" if notes else "")


def row_data(row: Row) -> dict[str, Any]:
    """One row's figures as JSON data, its slices' among them (req/s, CPU ms per request, shares of the machine in
    the order they were loaded), for reading a run again beyond the tables."""
    usage = row.usage
    return {
        "app": row.app,
        "scenario": row.scenario.key,
        "db": row.target.db,
        "size": row.target.size,
        "workers": row.workers,
        "status": row.status,
        "note": row.note,
        **{
            name: getattr(row, name)
            for name in ("rps", "mean_ms", "p50_ms", "p99_ms", "cpu_ms", "statements", "peak_mb", "together")
        },
        "slice_rps": row.slice_rps,
        "slice_cpu_ms": row.slice_cpu_ms,
        "slice_usage": row.slice_usage,
        "usage": {part: usage.share(part) for part in USAGE_PARTS} if usage else None,
        "worker_shares": usage.worker_shares() if usage else None,
        "vs": {name: ratio.value for name, ratio in row.vs.items()},
    }


def _several(rows: list[Row]) -> bool:
    """Whether the run served anything with other than one worker: then the tables say how many."""
    return {r.workers for r in rows} != {1}


def table(rows: list[Row]) -> str:
    several = _several(rows)
    fewest = min((r.workers for r in rows), default=1)
    columns = [
        "app", "scenario", "db", "size", *(["workers"] if several else []), "req/s", "p50 ms", "p99 ms",
        "CPU ms/req", "bytes/resp", "SQL/req", "peak MB", "vs floor", "vs bare floor", "vs before",
        *([f"vs {_workers(fewest)}"] if several else []), "vs 1k", "status / notes",
    ]  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        status = {"ok": "", "n/a": "n/a: ", "error": "**ERROR**: "}[r.status] + r.note
        if r.seconds is not None:
            rps, p50, p99 = "—", _num(r.seconds * 1000), ""
        else:
            rps, p50, p99 = _num(r.rps), _num(r.p50_ms, 2), _num(r.p99_ms, 2)
        cells = [
            r.app,
            r.scenario.label,
            r.target.db,
            f"{r.target.size:,}",
            *([str(r.workers)] if several else []),
            rps if r.ok else ("ERROR" if r.status == "error" else "n/a"),
            p50,
            p99,
            _num(r.cpu_ms, 2),
            _num(r.bytes_per_response, 0),
            "" if r.statements is None else str(r.statements),
            _num(r.peak_mb, 0),
            _vs(r.vs.get(TARGET_FLOOR)),
            _vs(r.vs.get("bare")),
            _vs(r.vs.get(BEFORE)),
            *([_vs(r.vs.get(SCALING))] if several else []),
            _ratio(r.vs_small, r.vs_small_cpu),
            status.replace("|", "\\|"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def usage_table(rows: list[Row]) -> str:
    """Where the machine's CPU time went while each scenario was loaded: shares of all its cores' time."""
    columns = [
        "app", "scenario", "db", "size", "workers", "load avg", "CPUs busy", "server", "each worker (of a core)",
        "PG backends", "PG background", "wrk", "others", "steal", "idle", "new PG connections",
    ]  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        usage = r.usage
        if usage is None or usage.capacity <= 0:
            continue
        cells = [
            r.app,
            r.scenario.label,
            r.target.db,
            f"{r.target.size:,}",
            str(r.workers),
            f"{usage.load:.1f}",
            f"{1 - usage.share('idle'):.0%}",
            f"{usage.share('server'):.0%}",
            " + ".join(f"{share:.0%}" for share in usage.worker_shares()),
            *(f"{usage.share(part):.0%}" for part in ("postgres", "pg_background", "wrk", "others", "steal", "idle")),
            str(usage.new_backends) if r.target.database_name else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _git(*args: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    return ""


def against_summary(rows: list[Row], rev: str) -> list[str]:
    """Each admin scenario against the earlier commit's, and which fell below SLOWER of it."""
    compared = [r for r in rows if r.app == "admin" and BEFORE in r.vs]
    slower = [r for r in compared if r.vs[BEFORE].value < SLOWER]
    lines = [
        f"## Against {rev}",
        "",
        f"{len(compared)} admin scenarios loaded in alternating slices with the admin at {rev} (the `before` rows); "
        f"vs before = this commit's req/s ÷ that one's, the median of the slice pairs.",
        "",
    ]
    for r in slower:
        many = f", {_workers(r.workers)}" if _several(rows) else ""
        lines.append(f"- slower: {r.scenario.label} ({r.target.db}{many}, {r.target.size:,}): {_vs(r.vs[BEFORE])}")
    if not slower:
        lines.append(f"- none below {SLOWER:.0%} of {rev}'s req/s")
    return [*lines, ""]


def scaling_summary(rows: list[Row]) -> list[str]:
    """Each scenario at every worker count against the fewest: req/s, the ratio, CPU per request, and how busy
    each worker was (a worker near a whole core is as fast as one process can go)."""
    fewest = min(r.workers for r in rows)
    lines = [
        f"## Workers: {', '.join(str(n) for n in sorted({r.workers for r in rows}))}",
        "",
        f"req/s with N workers ÷ req/s with {_workers(fewest)}, served side by side and loaded in alternating "
        "slices (the median of the slice pairs; (CPU x) = CPU ms per request with the fewest ÷ with N, over all "
        "processes of the server and its PostgreSQL backends). Each worker: its CPU time ÷ the load's wall time.",
        "",
        "| app | scenario | db | size | workers | req/s | ratio | CPU ms/req | each worker (of a core) | CPUs busy |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if not r.ok or r.rps is None:
            continue
        usage = r.usage or Usage()
        cells = [
            r.app,
            r.scenario.label,
            r.target.db,
            f"{r.target.size:,}",
            str(r.workers),
            _num(r.rps),
            _vs(r.vs.get(SCALING)) if r.workers != fewest else "(baseline)",
            _num(r.cpu_ms, 2),
            " + ".join(f"{share:.0%}" for share in usage.worker_shares()),
            f"{1 - usage.share('idle'):.0%}" if usage.capacity else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def report(
    rows: list[Row],
    load: Load,
    sizes: Sequence[int],
    dbs: Sequence[str],
    elapsed: float,
    against: str = "",
    workers: Sequence[int] = (1,),
    redis_url: str = "",
) -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    dirty = " (working tree has uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    lines = [
        "# Benchmark results",
        "",
        f"- run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {elapsed / 60:.1f} min, "
        f"commit {_git('rev-parse', '--short', 'HEAD')}{dirty}",
        f"- machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}; server and wrk share it",
        f"- load: wrk, {load.connections} connections, {min(load.threads, load.connections)} threads, "
        f"{load.duration} s per scenario after a {load.warmup} s warm-up; "
        f"{'gzip' if load.gzip else 'no compression (Accept-Encoding: identity)'}",
        f"- databases: {', '.join(dbs)}; sizes: {', '.join(f'{s:,}' for s in sizes)} items",
        f"- servers: uvicorn --workers {', '.join(str(n) for n in workers)} (every app at each count, side by side); "
        + (
            f"sessions, the sign-in throttle and the list counts' memory in Redis ({redis_url})"
            if redis_url
            else "sessions in the database, each worker its own list counts' memory (no REDIS_URL)"
        ),
        "- cost = mean latency at that fixed concurrency; vs floor = admin req/s ÷ floor req/s (same db and size), "
        "for pages loaded in alternating slices the median of the slice pairs' ratios (their range in brackets); "
        "the floor signs in and audits as the admin does, the bare floor does neither; "
        f"vs 1k = cost ÷ cost at {SMALL:,} rows; (CPU …) = the same ratio from the server's CPU ms per request, "
        "which other load on the machine barely moves",
        "",
        table(rows),
        "",
        "## Targets",
        "",
        "| target | measured | in CPU time | result |",
        "|---|---|---|---|",
        *(f"| {what} | {measured} | {cpu} | {result} |" for what, measured, cpu, result in targets(rows)),
        "",
        *(against_summary(rows, against) if against else []),
        *(scaling_summary(rows) if len(set(workers)) > 1 else []),
        "## Where the CPUs went",
        "",
        "Shares of the machine's CPU time (all cores) while each scenario was loaded: the server's processes, the "
        "PostgreSQL backends serving its database, PostgreSQL's own background processes (WAL writer, "
        "checkpointer, autovacuum on that database), wrk, everything else, the hypervisor's steal, and idle; each "
        "worker as a share of one "
        "core; load avg = the highest one-minute load average when a load began; new PG connections = backends "
        "that began during the loads (a pool opening connections, or closing and opening them again).",
        "",
        usage_table(rows),
        "",
    ]
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    sizes = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        factor = {"k": 1_000, "m": 1_000_000}.get(part[-1:], 1)
        number = part[:-1] if factor > 1 else part
        if not number.isdigit() or int(number) * factor < 1:
            raise argparse.ArgumentTypeError(f"not a size: {part!r} (e.g. 1000,100k,1m)")
        sizes.append(int(number) * factor)
    return sorted(set(sizes))


def _counts(text: str) -> list[int]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part.isascii() and part.isdigit() and int(part) >= 1 for part in parts):
        raise argparse.ArgumentTypeError(f"not worker counts: {text!r} (e.g. 1,2)")
    return sorted({int(part) for part in parts})


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_sizes, help="item counts, e.g. 1000,100k,1m (default: 1k,100k,1m)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1k and 10k items, 2 s per scenario")
    parser.add_argument("--duration", type=int, help="seconds of load per scenario (default 10; quick 2)")
    parser.add_argument(
        "--max-duration", type=int, help="longest load for a slow scenario, in seconds (default 60; quick 10)"
    )
    parser.add_argument("--warmup", type=int, help="seconds of unmeasured load before each (default 2; quick 1)")
    parser.add_argument(
        "--slices",
        type=int,
        default=5,
        help="an admin scenario and its floor twins alternate in this many slices (default 5; quick 1)",
    )
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections (default 8)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="wrk threads (default: 1 per core)")
    parser.add_argument("--gzip", action="store_true", help="send Accept-Encoding: gzip like a browser")
    parser.add_argument("--postgres", action="store_true", help="also run on a fresh PostgreSQL database")
    parser.add_argument("--postgres-dsn", default=PG_ADMIN_DSN, help=f"where to create it (default {PG_ADMIN_DSN})")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite (with --postgres)")
    parser.add_argument("--no-floor", action="store_true", help="skip both floors (no floor ratios)")
    parser.add_argument(
        "--browse",
        action="store_true",
        help="serve the admin as `make browse` does (webapp.browse: the schema reflected, no model code)",
    )
    parser.add_argument(
        "--scenarios",
        type=lambda text: frozenset(k.strip() for k in text.split(",") if k.strip()),
        default=frozenset(),
        help="only these scenarios, e.g. list,update (keys: " + ", ".join(s.key for s in admin_scenarios(BIG)) + ")",
    )
    parser.add_argument(
        "--against",
        metavar="REV",
        default="",
        help="also serve the admin at this commit and load each scenario in alternating slices with it",
    )
    parser.add_argument("--reseed", action="store_true", help="rebuild the cached SQLite files")
    parser.add_argument("--echo-sql", action="store_true", help="log the probes' SQL to bench/results/server-*.log")
    parser.add_argument(
        "--log-slow",
        type=float,
        default=0.0,
        metavar="MS",
        help="log every request slower than MS milliseconds, and where its time went, to bench/results/server-*.log",
    )
    parser.add_argument(
        "--workers",
        type=_counts,
        default=[1],
        help="uvicorn worker processes per server, e.g. 1,2: every scenario at each count (default 1)",
    )
    parser.add_argument(
        "--redis",
        nargs="?",
        const=BENCH_REDIS_URL,
        default="",
        metavar="URL",
        help=f"give the servers REDIS_URL (default {BENCH_REDIS_URL}): sessions and the counts' memory in Redis",
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "latest.md", help="where to write the table")
    options = parser.parse_args(argv)
    options.sizes = options.sizes or list(QUICK_SIZES if options.quick else DEFAULT_SIZES)
    options.duration = options.duration or (2 if options.quick else 10)
    options.max_duration = options.max_duration or (10 if options.quick else 60)
    options.warmup = options.warmup if options.warmup is not None else (1 if options.quick else 2)
    if min(options.duration, options.connections, options.threads, options.slices) < 1 or options.warmup < 0:
        parser.error("--duration, --slices, --connections and --threads must be at least 1, --warmup at least 0")
    if options.no_sqlite and not options.postgres:
        parser.error("--no-sqlite leaves nothing to run without --postgres")
    if options.redis and not options.no_floor:
        parser.error(
            "--redis keeps the admin's sessions in Redis, and the floor reads them from the database: add --no-floor"
        )
    if options.redis and urlsplit(options.redis).hostname not in ("127.0.0.1", "localhost"):
        parser.error(f"--redis: only a Redis on 127.0.0.1 is used; refusing {options.redis}")
    return options


def checkout(rev: str) -> Path:
    """The files of commit `rev` (git archive, no work tree or branch), kept in bench/.against/<sha>."""
    sha = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    if not sha:
        raise BenchError(f"--against {rev}: not a commit of this repository")
    folder = AGAINST_DIR / sha[:12]
    if not (folder / "webapp").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, capture_output=True, timeout=120, check=True)
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, capture_output=True, check=True)
    log(f"against {rev}: the admin at {sha[:12]}, served from {folder}")
    return folder


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through every finally: servers stopped, databases dropped


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    load = Load(
        wrk=ensure_wrk(),
        duration=options.duration,
        max_duration=max(options.duration, options.max_duration),
        warmup=options.warmup,
        connections=options.connections,
        threads=options.threads,
        gzip=options.gzip,
        echo_sql=options.echo_sql,
        slow_ms=options.log_slow,
        slices=options.slices if not options.quick else 1,
    )
    dbs = [db for db, on in (("sqlite", not options.no_sqlite), ("postgres", options.postgres)) if on]
    rows: list[Row] = []
    failed = False
    try:
        against = checkout(options.against) if options.against else None
        for db in dbs:
            for size in options.sizes:
                with database(db, size, options) as target:
                    rows += run_target(
                        target,
                        load,
                        floor=not options.no_floor,
                        only=options.scenarios,
                        against=against,
                        admin_factory=BROWSE_FACTORY if options.browse else ADMIN_FACTORY,
                        workers=options.workers,
                        redis_url=options.redis,
                    )
    except (BenchError, httpx.HTTPError, subprocess.SubprocessError, OSError) as exc:
        log(f"stopped: {type(exc).__name__}: {exc}")
        failed = True
        if not rows:
            return 1
    add_ratios(rows)
    text = report(
        rows,
        load,
        options.sizes,
        dbs,
        time.monotonic() - started,
        options.against,
        workers=options.workers,
        redis_url=options.redis,
    )
    print(text)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(text)
    raw = options.output.with_suffix(".json")
    raw.write_text(json.dumps([row_data(row) for row in rows], indent=1))
    log(f"wrote {options.output} (and each row's figures, slice by slice, in {raw.name})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
