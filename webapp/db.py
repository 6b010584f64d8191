"""The demo's database config: the admin's tuned config, with the demo's own migration chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advanced_alchemy.extensions.litestar import AlembicAsyncConfig, SQLAlchemyAsyncConfig

from webapp.admin.db import database_config

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
