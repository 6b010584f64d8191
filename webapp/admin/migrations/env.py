"""Alembic's environment for a host that has no migrations of its own: `litestar database upgrade` then
applies the admin's branch alone (see AdminPlugin). Hosts with their own chain list the admin's versions in
their alembic.ini instead (README, "Embedding")."""

import asyncio

from advanced_alchemy.base import metadata_registry
from alembic import context
from sqlalchemy import Connection


def _run(connection: Connection) -> None:
    config = context.config
    context.configure(
        connection=connection,
        target_metadata=metadata_registry.get(getattr(config, "bind_key", None)),
        version_table=getattr(config, "version_table_name", "alembic_versions"),
        version_table_schema=getattr(config, "version_table_schema", None),
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _online() -> None:
    engine = context.config.engine  # advanced-alchemy's command config carries the app's engine
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("The admin's migrations run online only: `litestar database upgrade`.")
asyncio.run(_online())
