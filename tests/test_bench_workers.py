"""`python -m bench.run --workers 1,2` (bench/README.md): the admin served by two uvicorn workers answers, both
workers' CPU time is counted as the server's, and a scenario's rows at each worker count pair into the ratio."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench import run, seed


def test_two_workers_serve_and_their_cpu_is_the_servers(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bench.sqlite3'}"
    seed.migrate(url)
    target = run.Target("sqlite", 0, url)
    with run.server("admin", run.ADMIN_FACTORY, target, workers=2) as running:
        workers = running.worker_pids()
        assert len(workers) == 2 and running.process.pid not in workers
        assert set(workers) <= set(running.processes())
        with run.CpuMeter(run.Watched(running)) as meter:

            def get(_: int) -> int:
                with httpx.Client(base_url=running.base_url) as client:
                    return client.get(run.LOGIN_PATH).status_code

            with ThreadPoolExecutor(max_workers=8) as pool:
                assert set(pool.map(get, range(40))) == {200}
        usage = meter.usage
        assert sorted(usage.per_worker) == sorted(workers)
        # the server's time is its supervisor's and its workers', not the supervisor's alone
        assert usage.seconds["server"] >= sum(usage.per_worker.values()) > 0
        assert run.peak_memory_mb(workers)


def test_rows_at_each_worker_count_pair_slice_by_slice() -> None:
    options = run.parse_args(["--workers", "2,1,2", "--postgres", "--no-sqlite"])
    assert options.workers == [1, 2]
    scenario = run.admin_scenarios(1_000)[0]
    target = run.Target("postgres", 1_000, "postgresql+asyncpg://")
    one, two = (
        run.Row("admin", scenario, target, workers=n, rps=rps, cpu_ms=cpu, together=7, slice_rps=slices)
        for n, rps, cpu, slices in ((1, 100.0, 10.0, [100.0, 90.0, 110.0]), (2, 150.0, 12.5, [160.0, 135.0, 110.0]))
    )
    run.add_ratios([one, two])
    assert run.SCALING not in one.vs
    ratio = two.vs[run.SCALING]
    assert ratio.slices == [1.6, 1.5, 1.0] and ratio.value == 1.5 and ratio.whole == 1.5 and ratio.cpu == 0.8
    assert "| 2 |" in run.table([one, two]) and "vs 1 worker" in run.table([one, two])
