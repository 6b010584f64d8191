"""`make browse`: the admin over any existing database, with no model code. Every table and view of
DATABASE_URL is reflected at startup (webapp.admin.reflection); the admin's own tables (accounts, history,
sessions) live in a state database, ADMIN_STATE_URL (a SQLite file in the working folder unless set), so the
browsed database's schema is never changed. ADMIN_STATE_URL set to the same URL as DATABASE_URL keeps them in
the browsed database instead.

A database that cannot be browsed (a bad URL, a missing or synchronous driver, a server that does not answer,
no tables) stops the app before it starts with one line saying why, and exit status 1.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar, get
from litestar.logging.config import LoggingConfig
from litestar.response import Redirect
from sqlalchemy import make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, InvalidRequestError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from webapp.admin import AdminPlugin
from webapp.admin.db import database_config, keep_engine_rules
from webapp.admin.limits import MAX_FORM_BYTES, MAX_FORM_FIELDS
from webapp.admin.models import (
    AdminAccount,
    AdminLogEntry,
    AdminPermission,
    AdminStoreEntry,
    admin_account_permission,
)
from webapp.admin.options import ModelAdmin
from webapp.admin.reflection import reflect_views
from webapp.settings import DEFAULT_DATABASE_URL, positive_int_from_env, secret_from_env

DEFAULT_STATE_URL = "sqlite+aiosqlite:///admin_state.sqlite3"
# The admin's own tables, never browsed (they are there when the state lives in the browsed database).
ADMIN_TABLES = frozenset(
    table.name
    for table in (
        AdminAccount.__table__,
        AdminPermission.__table__,
        admin_account_permission,
        AdminLogEntry.__table__,
        AdminStoreEntry.__table__,
    )
)


@dataclass(frozen=True)
class BrowseSettings:
    database_url: str = field(default_factory=lambda: os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    state_url: str = field(default_factory=lambda: os.environ.get("ADMIN_STATE_URL") or DEFAULT_STATE_URL)
    secret_key: bytes = field(default_factory=secret_from_env)
    redis_url: str | None = field(default_factory=lambda: os.environ.get("REDIS_URL") or None)
    debug: bool = field(default_factory=lambda: os.environ.get("DEBUG", "") in {"1", "true", "yes"})
    max_form_bytes: int = field(default_factory=lambda: positive_int_from_env("MAX_FORM_BYTES", MAX_FORM_BYTES))
    max_form_fields: int = field(default_factory=lambda: positive_int_from_env("MAX_FORM_FIELDS", MAX_FORM_FIELDS))


class CannotBrowse(SystemExit):
    """The database cannot be browsed. A SystemExit: Python prints its message alone and exits with status 1."""

    def __init__(self, message: str) -> None:
        super().__init__(f"make browse: {message}")
        self.message = message


@get("/", include_in_schema=False)
async def home() -> Redirect:
    return Redirect(path="/admin/")


def create_app(settings: BrowseSettings | None = None) -> Litestar:
    settings = settings or BrowseSettings()
    views = _in_a_fresh_loop(_reflect(settings.database_url))
    if settings.state_url == settings.database_url:
        config = database_config(settings.database_url)
        browsed: AsyncEngine | None = None
    else:
        browsed = _engine(settings.database_url)
        keep_engine_rules(browsed)
        # Every reflected table (link tables too, which no class maps) and class reads from the browsed database.
        tables = views[0].model.__table__.metadata.tables.values()
        binds: dict[Any, AsyncEngine] = {**{table: browsed for table in tables}, **{v.model: browsed for v in views}}
        config = database_config(settings.state_url, binds=binds)

    async def dispose_engines() -> None:
        await config.get_engine().dispose()
        if browsed is not None:
            await browsed.dispose()

    browsed_url = make_url(settings.database_url)
    title = f"{Path(browsed_url.database or browsed_url.host or '').name} ({browsed_url.get_backend_name()})"
    admin = AdminPlugin(
        views,
        title=title,
        secret=settings.secret_key,
        redis_url=settings.redis_url,
        max_form_bytes=settings.max_form_bytes,
        max_form_fields=settings.max_form_fields,
    )
    return Litestar(
        route_handlers=[home],
        plugins=[SQLAlchemyPlugin(config=config), admin],
        openapi_config=None,
        on_shutdown=[dispose_engines],
        logging_config=LoggingConfig(
            root={"level": "INFO", "handlers": ["queue_listener"]},
            loggers={"webapp": {"level": "INFO"}},
            log_exceptions="debug",
        ),
        debug=settings.debug,
    )


def _shown(url: str) -> str:
    """The URL without its password, for titles and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "the given URL"


def _url(database_url: str) -> URL:
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise CannotBrowse(
            f"DATABASE_URL is not a database URL: {database_url!r} "
            "(e.g. postgresql+asyncpg://user@host/db, mariadb+asyncmy://root@host/db, sqlite+aiosqlite:///file)"
        ) from None
    on_disk = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if on_disk and not Path(str(url.database)).is_file():
        raise CannotBrowse(f"there is no SQLite database at {url.database!r}")
    return url


def _engine(database_url: str) -> AsyncEngine:
    url = _url(database_url)
    try:
        return create_async_engine(url, pool_pre_ping=url.get_backend_name() != "sqlite")
    except NoSuchModuleError:
        raise CannotBrowse(f"SQLAlchemy has no database dialect {url.drivername!r} ({_shown(database_url)})") from None
    except ModuleNotFoundError as exc:
        raise CannotBrowse(f"the driver for {url.drivername!r} is not installed ({exc.name})") from None
    except InvalidRequestError as exc:
        raise CannotBrowse(f"{url.drivername!r} is not an asyncio driver: {exc}") from None


async def _reflect(database_url: str) -> list[type[ModelAdmin]]:
    engine = _engine(database_url)
    try:
        views = await asyncio.wait_for(reflect_views(engine, exclude=ADMIN_TABLES), timeout=60)
    except (OSError, TimeoutError, DBAPIError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise CannotBrowse(f"cannot reach the database at {_shown(database_url)}: {reason}") from None
    except SQLAlchemyError as exc:
        raise CannotBrowse(f"cannot read the schema of {_shown(database_url)}: {exc}") from None
    finally:
        await engine.dispose()
    if not views:
        raise CannotBrowse(f"the database at {_shown(database_url)} has no tables or views to browse")
    return views


def _in_a_fresh_loop(work: Any) -> Any:
    """Run a coroutine to its end from synchronous code, whether or not an event loop is running here (the
    Litestar CLI builds the app outside one, a server inside one)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()
