"""The demo application: the admin core mounted over the demo models. `create_app()` is the only wiring."""

from __future__ import annotations

import logging

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar, get
from litestar.config.compression import CompressionConfig
from litestar.logging.config import LoggingConfig
from litestar.response import Redirect

from webapp.admin import AdminPlugin
from webapp.db import make_db_config
from webapp.demo.admin import ADMIN_VIEWS
from webapp.demo.models import orm_registry
from webapp.settings import Settings


@get("/", include_in_schema=False)
async def home() -> Redirect:
    return Redirect(path="/admin/")


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    db_config = make_db_config(settings.database_url, create_all=settings.create_all, metadata=orm_registry.metadata)

    async def dispose_engine() -> None:
        # advanced-alchemy 1.12 skips disposal once its state keys are suffixed (a second app in one process).
        await db_config.get_engine().dispose()

    admin = AdminPlugin(
        ADMIN_VIEWS,
        title="Demo admin",
        secret=settings.secret_key,
        redis_url=settings.redis_url,
        max_form_bytes=settings.max_form_bytes,
        max_form_fields=settings.max_form_fields,
    )
    return Litestar(
        route_handlers=[home],
        plugins=[SQLAlchemyPlugin(config=db_config), admin],
        compression_config=CompressionConfig(backend="gzip", minimum_size=500),
        openapi_config=None,
        on_shutdown=[dispose_engine],
        logging_config=LoggingConfig(
            root={"level": "INFO", "handlers": ["queue_listener"]},
            loggers={"webapp": {"level": "INFO"}},
            log_exceptions="debug",
        ),
        debug=settings.debug,
    )


logging.getLogger("webapp").addHandler(logging.NullHandler())
