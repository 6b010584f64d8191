"""`make serve`: the demo app as it runs in production, in uvicorn with several worker processes.

No reload and no debug; access logs on; behind a reverse proxy, X-Forwarded-For and X-Forwarded-Proto are trusted
from FORWARDED_ALLOW_IPS only (so HTTPS at the proxy makes the request's scheme https, and the admin's cookies
Secure); SIGTERM lets requests in flight finish, for SHUTDOWN_TIMEOUT seconds at most. The app reads its own
settings (DATABASE_URL, SECRET_KEY, REDIS_URL, MAX_FORM_BYTES, ...) in each worker, from the same environment.

Every worker makes the app anew, so what a worker makes at random would differ between them: SECRET_KEY must be
set when there are several, or a form served by one worker fails its CSRF check in another. Without it this
refuses to start rather than serve forms that fail at random.

    python -m webapp.serve          # what `make serve` runs once the database is migrated and seeded
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

APP_FACTORY = "webapp.app:create_app"
# In-flight requests get this long after SIGTERM. Keep it under the process manager's own wait before it kills
# (README, "Serving in production").
DEFAULT_SHUTDOWN_TIMEOUT = 20
TRUTHY = {"1", "true", "yes"}


class CannotServe(SystemExit):
    """A setting that production cannot run with: Python prints the message alone and exits with status 1."""

    def __init__(self, message: str) -> None:
        super().__init__(f"make serve: {message}")


def core_count() -> int:
    """The cores this process may run on, as `nproc` counts them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _whole_number(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit()) or int(value) < minimum:
        raise CannotServe(f"{name} must be a whole number of at least {minimum}, not {value!r}")
    return int(value)


def command(env: Mapping[str, str]) -> list[str]:
    """The uvicorn command line for these settings; refuses settings that would not serve correctly."""
    workers = _whole_number(env, "WORKERS", core_count(), 1)
    if workers > 1 and not env.get("SECRET_KEY"):
        raise CannotServe(
            f"set SECRET_KEY: with WORKERS={workers} every worker must sign CSRF tokens with the same key, or a form "
            "served by one is refused by another. For example: "
            "export SECRET_KEY=\"$(python3 -c 'import secrets; print(secrets.token_hex(16))')\" (keep it secret "
            "and the same across restarts), or WORKERS=1."
        )
    if env.get("DEBUG", "").strip().lower() in TRUTHY:
        raise CannotServe("DEBUG is set: debug pages show stack traces to anyone. Unset it, or use `make run`.")
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        APP_FACTORY,
        "--host",
        env.get("HOST") or "127.0.0.1",
        "--port",
        str(_whole_number(env, "PORT", 8000, 0)),
        "--workers",
        str(workers),
        "--proxy-headers",
        "--forwarded-allow-ips",
        env.get("FORWARDED_ALLOW_IPS") or "127.0.0.1",
        "--timeout-graceful-shutdown",
        str(_whole_number(env, "SHUTDOWN_TIMEOUT", DEFAULT_SHUTDOWN_TIMEOUT, 0)),
        "--access-log",
        "--no-use-colors",
    ]


def main() -> None:
    argv = command(os.environ)
    print("make serve: uvicorn", " ".join(argv[3:]), file=sys.stderr, flush=True)
    os.execv(argv[0], argv)  # uvicorn takes this process over: signals reach it directly


if __name__ == "__main__":
    main()
