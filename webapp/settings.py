"""Settings read from the environment, with defaults that make `make run` work on a fresh clone."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field

from webapp.admin.limits import MAX_FORM_BYTES, MAX_FORM_FIELDS

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///demo.sqlite3"


def secret_from_env() -> bytes:
    """32 bytes from SECRET_KEY, every character of it counting (a SHA-256 of it); without SECRET_KEY one per
    process, which is fine for a dev server."""
    value = os.environ.get("SECRET_KEY")
    if not value:
        return secrets.token_bytes(32)
    return hashlib.sha256(value.encode()).digest()


def positive_int_from_env(name: str, default: int) -> int:
    """A whole number from the environment, or `default` when unset; anything else stops the app saying so."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise SystemExit(f"{name} must be a positive whole number, not {value!r}")
    return int(value)


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    secret_key: bytes = field(default_factory=secret_from_env)
    debug: bool = field(default_factory=lambda: os.environ.get("DEBUG", "") in {"1", "true", "yes"})
    redis_url: str | None = field(default_factory=lambda: os.environ.get("REDIS_URL") or None)
    max_form_bytes: int = field(default_factory=lambda: positive_int_from_env("MAX_FORM_BYTES", MAX_FORM_BYTES))
    max_form_fields: int = field(default_factory=lambda: positive_int_from_env("MAX_FORM_FIELDS", MAX_FORM_FIELDS))
    create_all: bool = False
