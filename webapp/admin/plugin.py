"""AdminPlugin: mounts the admin on any Litestar app that has advanced-alchemy's SQLAlchemyPlugin and sessions.

app = Litestar(plugins=[SQLAlchemyPlugin(config=db), AdminPlugin([UserAdmin, Item])], middleware=[sessions])
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from click import Group
from litestar import Request, Router
from litestar.config.app import AppConfig
from litestar.exceptions import ImproperlyConfiguredException
from litestar.middleware import DefineMiddleware
from litestar.middleware.session import SessionMiddleware
from litestar.plugins import CLIPluginProtocol, InitPluginProtocol
from litestar.plugins.htmx import HTMXRequest
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from webapp.admin.accounts import AccountAdmin, admin_group, sync_permissions_on_startup
from webapp.admin.auth import AUTH_HANDLERS, PUBLIC, require_account
from webapp.admin.bulk import BulkController
from webapp.admin.display import cell, display, row, row_cells, rows
from webapp.admin.errors import EXCEPTION_HANDLERS
from webapp.admin.fields import Kind
from webapp.admin.history import HistoryController
from webapp.admin.options import PER_PAGE_CHOICES, ModelAdmin
from webapp.admin.rendering import TemplateChooser
from webapp.admin.site import AdminSite
from webapp.admin.views import AdminController
from webapp.admin.widgets import field_input, lookup
from webapp.db import SAFE_METHODS
from webapp.paths import STATIC_DIR, TEMPLATES_DIR

HTMX_VERSION = "2.0.11"


def _configure_jinja(engine: JinjaTemplateEngine, site: AdminSite) -> None:
    env = engine.engine
    env.globals.update(
        admin_site=site,
        admin_display=display,
        admin_cell=cell,
        admin_row_cells=row_cells,
        admin_row=row,
        admin_rows=rows,
        admin_field_input=partial(field_input, site),
        admin_lookup=lookup,
        Kind=Kind,
        PER_PAGE_CHOICES=PER_PAGE_CHOICES,
        HTMX_VERSION=HTMX_VERSION,
    )
    env.globals["admin_template"] = TemplateChooser(env)
    env.trim_blocks = True
    env.lstrip_blocks = True
    # Templates are read once per process (`make run` restarts the server when one changes): with reloading
    # on, every include (one per list row) would stat its file.
    env.auto_reload = False


def _forget_counts_on_writes(site: AdminSite) -> Callable[[Request[Any, Any, Any]], Awaitable[None]]:
    """A before-request hook: any write may change what a list counts, so what was remembered of counts over the
    cap is dropped before it runs (other processes' writes wait for the memory to expire)."""

    async def forget(request: Request[Any, Any, Any]) -> None:
        if request.method not in SAFE_METHODS:
            site.view_sizes.forget()

    return forget


def _chain(first: Callable[[Any], None] | None, second: Callable[[Any], None]) -> Callable[[Any], None]:
    def both(engine: Any) -> None:
        if first is not None:
            first(engine)
        second(engine)

    return both


def _has_session_middleware(app_config: AppConfig) -> bool:
    for middleware in app_config.middleware:
        factory = middleware.middleware if isinstance(middleware, DefineMiddleware) else middleware
        if isinstance(factory, type) and issubclass(factory, SessionMiddleware):
            return True
    return False


def _alchemy_config(app_config: AppConfig) -> SQLAlchemyAsyncConfig:
    for plugin in app_config.plugins:
        if isinstance(plugin, SQLAlchemyPlugin):
            configs = plugin.config if isinstance(plugin.config, list | tuple) else [plugin.config]
            for config in configs:
                if isinstance(config, SQLAlchemyAsyncConfig):
                    return config
    raise ImproperlyConfiguredException("The admin needs advanced-alchemy's SQLAlchemyPlugin with an async config.")


class AdminPlugin(InitPluginProtocol, CLIPluginProtocol):
    """Registers the admin's routes, templates, static files, error pages, sign-in and CLI under `path`."""

    def __init__(self, views: Iterable[type[ModelAdmin] | type], *, path: str = "/admin", title: str = "Admin") -> None:
        self.path = path.rstrip("/") or "/"
        self.site = AdminSite([*views, AccountAdmin], title=title, path=self.path)

    def on_cli_init(self, cli: Group) -> None:
        cli.add_command(admin_group)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        if not _has_session_middleware(app_config):
            raise ImproperlyConfiguredException(
                "The admin keeps who is signed in in a session and needs a session middleware, "
                "e.g. webapp.admin.sessions.session_setup(db_config).middleware."
            )
        self.site.db_config = _alchemy_config(app_config)
        app_config.route_handlers.append(
            Router(
                path=self.path,
                route_handlers=[
                    AdminController,
                    BulkController,
                    HistoryController,
                    *AUTH_HANDLERS,
                    create_static_files_router(
                        path="/static", directories=[STATIC_DIR], name="admin:static", opt={PUBLIC: True}
                    ),
                ],
                request_class=HTMXRequest,
                exception_handlers=EXCEPTION_HANDLERS,
                guards=[require_account],
                before_request=_forget_counts_on_writes(self.site),
            )
        )
        app_config.state["admin_site"] = self.site
        app_config.on_startup.append(sync_permissions_on_startup)
        config = app_config.template_config
        configure = partial(_configure_jinja, site=self.site)
        if config is None:
            app_config.template_config = TemplateConfig(
                directory=TEMPLATES_DIR, engine=JinjaTemplateEngine, engine_callback=configure
            )
        elif isinstance(config, TemplateConfig) and config.directory is not None:
            directories = config.directory if isinstance(config.directory, list) else [config.directory]
            app_config.template_config = TemplateConfig(
                directory=[*directories, TEMPLATES_DIR],
                engine=config.engine,
                engine_callback=_chain(config.engine_callback, configure),
            )
        else:  # pragma: no cover - an engine instance cannot be given more directories from here
            raise ImproperlyConfiguredException("AdminPlugin needs a TemplateConfig built from directories")
        return app_config
