"""The demo's database config: the admin's tuned config, with the demo's own migration chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advanced_alchemy.extensions.litestar import AlembicAsyncConfig, SQLAlchemyAsyncConfig
from litestar.middleware import DefineMiddleware

from webapp.admin.db import TransactionMiddleware, WriteIntentMiddleware, database_config

# The shared peer harness (../shared/peers/apps/ours_app.py) still wires these by hand, app-wide; AdminPlugin
# mounts its own on its router, so a host needs neither.
__all__ = ["WriteIntentMiddleware", "make_db_config", "transaction_middleware"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def make_db_config(database_url: str, *, create_all: bool = False, metadata: Any = None) -> SQLAlchemyAsyncConfig:
    return database_config(
        database_url,
        alembic_config=AlembicAsyncConfig(
            script_location=str(MIGRATIONS_DIR),
            script_config=str(MIGRATIONS_DIR / "alembic.ini"),
            version_table_name="alembic_versions",
        ),
        create_all=create_all,
        metadata=metadata,
    )


def transaction_middleware(config: SQLAlchemyAsyncConfig) -> DefineMiddleware:
    return DefineMiddleware(TransactionMiddleware, session_scope_key=config.session_scope_key)
