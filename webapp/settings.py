"""Settings read from the environment, with defaults that make `make run` work on a fresh clone."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///demo.sqlite3"


def secret_from_env() -> bytes:
    # Cookie sessions need a 32-byte key; without SECRET_KEY one per process is fine for a dev server.
    value = os.environ.get("SECRET_KEY")
    if not value:
        return secrets.token_bytes(32)
    return value.encode().ljust(32, b"\0")[:32]


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    secret_key: bytes = field(default_factory=secret_from_env)
    debug: bool = field(default_factory=lambda: os.environ.get("DEBUG", "") in {"1", "true", "yes"})
    redis_url: str | None = field(default_factory=lambda: os.environ.get("REDIS_URL") or None)
    create_all: bool = False
