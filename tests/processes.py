"""Real server processes for tests: the app's CLI run to its end, and uvicorn workers started together on free
ports, awaited until they answer, and stopped (killed if need be) whatever happens."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = "webapp.app:create_app"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_python(args: list[str], env: dict[str, str], timeout: float = 120) -> None:
    """`python <args>` in the checkout, to its end; its output in the error when it fails."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"`python {' '.join(args)}` failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def wait_until_up(process: subprocess.Popen[bytes], url: str, log_path: Path, timeout: float = 30) -> None:
    # No proxy for 127.0.0.1, whatever the environment says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            with opener.open(url, timeout=2) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            exc.close()
            raise RuntimeError(f"GET {url} answered {exc.code}:\n{log_path.read_text(errors='replace')}") from None
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer {url} within {timeout} s:\n{log_path.read_text(errors='replace')}")


@contextmanager
def uvicorn_workers(
    env: dict[str, str], log_dir: Path, count: int = 1, ready_path: str = "/admin/login", timeout: float = 30
) -> Iterator[list[str]]:
    """`count` separate uvicorn processes of the app, each on its own free port, started together: their base
    URLs once each answers `ready_path`. Each writes its log to `log_dir/worker-<n>.log` (a file, not a pipe
    nobody reads, which would block it when full)."""
    processes: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    try:
        for number in range(count):
            port = free_port()
            log_path = log_dir / f"worker-{number}.log"
            command = [sys.executable, "-m", "uvicorn", "--factory", APP, "--host", "127.0.0.1", "--port", str(port)]
            with log_path.open("wb") as log:
                process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            processes.append((process, f"http://127.0.0.1:{port}", log_path))
        for process, url, log_path in processes:
            wait_until_up(process, url + ready_path, log_path, timeout)
        yield [url for _, url, _ in processes]
    finally:
        for process, _, _ in processes:
            process.terminate()
        for process, _, _ in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
