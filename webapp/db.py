"""The SQLAlchemy config for the app: engine, session handling, SQLite pragmas, migrations."""

from __future__ import annotations

from typing import Any

from advanced_alchemy.extensions.litestar import (
    AlembicAsyncConfig,
    AsyncSessionConfig,
    EngineConfig,
    SQLAlchemyAsyncConfig,
)
from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

from webapp.paths import MIGRATIONS_DIR

SQLITE_PRAGMAS = ("journal_mode=WAL", "busy_timeout=5000", "foreign_keys=ON", "synchronous=NORMAL")


def _apply_sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def make_db_config(database_url: str, *, create_all: bool = False, metadata: Any = None) -> SQLAlchemyAsyncConfig:
    """Build the config; SQLite connections get WAL, a busy timeout and enforced foreign keys."""
    config = SQLAlchemyAsyncConfig(
        connection_string=database_url,
        # POST-redirect-GET must keep its write: commit on 2xx and 3xx, roll back on anything else.
        before_send_handler="autocommit_include_redirects",
        session_config=AsyncSessionConfig(expire_on_commit=False),
        engine_config=EngineConfig(pool_pre_ping=not database_url.startswith("sqlite")),
        alembic_config=AlembicAsyncConfig(
            script_location=str(MIGRATIONS_DIR),
            script_config=str(MIGRATIONS_DIR / "alembic.ini"),
            version_table_name="alembic_versions",
        ),
        create_all=create_all,
        metadata=metadata,
    )
    engine = config.get_engine()
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _apply_sqlite_pragmas)
    return config
