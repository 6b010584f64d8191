"""AdminPlugin: the whole admin on any Litestar app that has advanced-alchemy's SQLAlchemyPlugin, in one line.

    app = Litestar(plugins=[SQLAlchemyPlugin(config=db), AdminPlugin([ItemAdmin, Tag], secret=SECRET)])

The plugin owns a router under its path and scopes to it everything the admin's promises rest on: server-side
sessions (the database, or Redis with `redis_url`), CSRF on every unsafe route, the transaction rules of
`webapp.admin.db` (write intent, reads without a transaction, SQLite's BEGIN IMMEDIATE, the commit before the
session store writes, a failed commit turned into an error page), the list counts' memory forgotten after each
write commits (`webapp.admin.sizes`, in every worker with `redis_url`), error pages, static files, its own template
environment and the `admin` CLI group. None of them can be lost by leaving something out of the host's setup;
where the host's setup would break one, the app refuses to start and says what to change.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from click import Group
from litestar import Router
from litestar.config.app import AppConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, ImproperlyConfiguredException
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.plugins import CLIPluginProtocol, InitPluginProtocol
from litestar.plugins.htmx import HTMXRequest
from litestar.static_files import create_static_files_router
from litestar.stores.registry import StoreRegistry
from litestar.template.config import TemplateConfig
from litestar.types import Scope
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.admin.accounts import AccountAdmin, admin_group, sync_permissions_on_startup
from webapp.admin.auth import AUTH_HANDLERS, PUBLIC, require_account
from webapp.admin.bulk import BulkController
from webapp.admin.db import TransactionMiddleware, WriteIntentMiddleware, keep_transaction_rules
from webapp.admin.errors import EXCEPTION_HANDLERS, routing_errors
from webapp.admin.freeze import freeze_startup_objects
from webapp.admin.health import health
from webapp.admin.history import HistoryController
from webapp.admin.limits import MAX_FORM_BYTES, MAX_FORM_FIELDS, FormLimits
from webapp.admin.messages import MessageCookie
from webapp.admin.options import ModelAdmin
from webapp.admin.resources import MIGRATIONS_DIR, STATIC_DIR
from webapp.admin.sessions import SecureCookiesOverHttps, session_setup
from webapp.admin.site import SITE_OPT, AdminSite
from webapp.admin.sizes import ForgetSizesAfterWrites, RedisForgetting, SizeMemory
from webapp.admin.templating import AdminTemplates
from webapp.admin.views import AdminController

log = logging.getLogger(__name__)

CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "x-csrftoken"


def _alchemy_config(app_config: AppConfig, wanted: SQLAlchemyAsyncConfig | None) -> SQLAlchemyAsyncConfig:
    configs = [
        config
        for plugin in app_config.plugins
        if isinstance(plugin, SQLAlchemyPlugin)
        for config in (plugin.config if isinstance(plugin.config, list | tuple) else [plugin.config])
    ]
    if wanted is not None:
        if not isinstance(wanted, SQLAlchemyAsyncConfig):
            raise ImproperlyConfiguredException(
                "AdminPlugin(db_config=...) needs an async config (SQLAlchemyAsyncConfig)."
            )
        if not any(config is wanted for config in configs):
            raise ImproperlyConfiguredException(
                "AdminPlugin(db_config=...) names a config that no SQLAlchemyPlugin of this app was given."
            )
        return wanted
    usable = [config for config in configs if isinstance(config, SQLAlchemyAsyncConfig)]
    if not usable:
        raise ImproperlyConfiguredException(
            "The admin needs advanced-alchemy's SQLAlchemyPlugin with an async config (SQLAlchemyAsyncConfig): "
            "plugins=[SQLAlchemyPlugin(config=SQLAlchemyAsyncConfig(connection_string=...)), AdminPlugin(...)]."
        )
    if len(usable) > 1:
        raise ImproperlyConfiguredException(
            "This app has several async SQLAlchemy configs: tell the admin which to use, AdminPlugin(db_config=...)."
        )
    return usable[0]


def _session_provider(config: SQLAlchemyAsyncConfig) -> Callable[[State, Scope], AsyncSession]:
    # A plain function, not the bound method: Litestar deep-copies a router's dependencies when registering it.
    def provide_db_session(state: State, scope: Scope) -> AsyncSession:
        return config.provide_session(state, scope)

    return provide_db_session


def _migrations_for_a_host_without_any(config: SQLAlchemyAsyncConfig) -> None:
    """A host with no migrations folder of its own gets the admin's: `litestar database upgrade` then makes the
    admin's tables. A host with its own chain lists the admin's versions in its alembic.ini (README)."""
    alembic = config.alembic_config
    if not Path(alembic.script_location).is_dir():
        log.debug("no migrations at %s: the admin's own branch is the app's", alembic.script_location)
        alembic.script_location = str(MIGRATIONS_DIR)
        alembic.script_config = str(MIGRATIONS_DIR / "alembic.ini")


def _host_template_directories(app_config: AppConfig) -> list[Path]:
    """The host's template folders, read (never changed): templates there override the admin's by name."""
    config = app_config.template_config
    if not isinstance(config, TemplateConfig) or config.directory is None:
        return []
    directories = config.directory if isinstance(config.directory, list) else [config.directory]
    return [Path(directory) for directory in directories]


def _covers(exclude: str | list[str] | None, path: str) -> bool:
    patterns = [exclude] if isinstance(exclude, str) else list(exclude or [])
    return any(re.search(pattern, f"{path}/") for pattern in patterns)


class AdminPlugin(InitPluginProtocol, CLIPluginProtocol):
    """The admin for `views` (ModelAdmin subclasses, or bare models with default options) under `path`.

    - `secret`: signs CSRF tokens. Give it from the host's settings so tokens survive restarts and several
      workers agree; without one (and without the host's own `csrf_config`) a random one is made and logged.
    - `redis_url`: keep sessions and the sign-in throttle in Redis instead of the database, and share through it
      when the list counts' memory is forgotten: a write through any worker forgets it in every worker.
    - `db_config`: which async SQLAlchemy config to use, when the app has several.
    - `template_directories`: folders whose templates override the admin's by name (`admin/list.html`, or per
      model `admin/<slug>/list.html`); the host's TemplateConfig folders are searched too.
    - `max_form_bytes`, `max_form_fields`: the largest request body and the most fields a form posted to the
      admin may have; anything over is refused with a 413 before it is read whole (webapp.admin.limits).

    `<path>/health` answers a load balancer's probe without sign-in (webapp.admin.health).
    """

    def __init__(
        self,
        views: Iterable[type[ModelAdmin] | type],
        *,
        path: str = "/admin",
        title: str = "Admin",
        secret: str | bytes | None = None,
        redis_url: str | None = None,
        db_config: SQLAlchemyAsyncConfig | None = None,
        template_directories: Sequence[Path | str] = (),
        max_form_bytes: int = MAX_FORM_BYTES,
        max_form_fields: int = MAX_FORM_FIELDS,
    ) -> None:
        if max_form_bytes < 1 or max_form_fields < 1:
            raise ImproperlyConfiguredException(
                "AdminPlugin(max_form_bytes=..., max_form_fields=...) must be positive."
            )
        self.path = "/" + path.strip("/")
        self.site = AdminSite([*views, AccountAdmin], title=title, path=self.path)
        self.secret = secret.hex() if isinstance(secret, bytes) else secret
        self.redis_url = redis_url
        self.db_config = db_config
        self.template_directories = list(template_directories)
        self.max_form_bytes = max_form_bytes
        self.max_form_fields = max_form_fields

    def on_cli_init(self, cli: Group) -> None:
        cli.add_command(admin_group)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        site = self.site
        config = site.db_config = _alchemy_config(app_config, self.db_config)
        keep_transaction_rules(config)
        _migrations_for_a_host_without_any(config)
        site.templates = AdminTemplates(site, [*self.template_directories, *_host_template_directories(app_config)])
        sessions = session_setup(config, self.redis_url, name=site.name, cookie_path=self.path)
        site.messages = MessageCookie(site.name, self.path, self._secret(app_config))
        self._register_stores(app_config, sessions.stores)
        if self.redis_url:
            site.view_sizes = SizeMemory(RedisForgetting(self.redis_url, key=f"{site.name}_sizes:generation"))

        async def close_size_memory() -> None:
            await site.view_sizes.close()

        app_config.on_shutdown.append(close_size_memory)
        app_config.route_handlers.append(
            Router(
                path=self.path,
                route_handlers=[
                    AdminController,
                    BulkController,
                    HistoryController,
                    *AUTH_HANDLERS,
                    create_static_files_router(
                        path="/static", directories=[STATIC_DIR], name=f"{site.name}:static", opt={PUBLIC: True}
                    ),
                ],
                # Outermost first: the transaction ends before the session store (inside-out) writes its row. The
                # form is read within the limits before the CSRF check reads it. Cookies set inside are Secure
                # over HTTPS.
                middleware=[
                    WriteIntentMiddleware,
                    SecureCookiesOverHttps,
                    DefineMiddleware(FormLimits, max_bytes=self.max_form_bytes, max_fields=self.max_form_fields),
                    *self._csrf_middleware(app_config),
                    *sessions.middleware,
                    # Just outside the transaction: a write's commit, then the list counts' memory forgotten.
                    DefineMiddleware(ForgetSizesAfterWrites, site=site),
                    DefineMiddleware(TransactionMiddleware, session_scope_key=config.session_scope_key),
                ],
                # The admin's handlers take `db_session` whatever key the host's config injects its sessions under.
                dependencies={"db_session": Provide(_session_provider(config), sync_to_thread=False)},
                request_class=HTMXRequest,
                exception_handlers=EXCEPTION_HANDLERS,
                guards=[require_account],
                request_max_body_size=self.max_form_bytes,
                opt={SITE_OPT: site},
            )
        )
        # The probe stays out of the admin's middleware (no session, cookie, sign-in or transaction): a router
        # of its own under the same path. The host's app-wide CSRF check, if any, and a session middleware of the
        # host's under Litestar's default opt key are told to let it be.
        csrf_key = app_config.csrf_config.exclude_from_csrf_key if app_config.csrf_config else "exclude_from_csrf"
        app_config.route_handlers.append(
            Router(
                path=self.path,
                route_handlers=[health],
                include_in_schema=False,
                opt={SITE_OPT: site, PUBLIC: True, csrf_key: True, "skip_session": True},
            )
        )

        host_errors = app_config.exception_handlers.get(HTTPException)
        app_config.exception_handlers[HTTPException] = routing_errors(site, host_errors)

        async def sync_permissions() -> None:
            await sync_permissions_on_startup(site)

        app_config.on_startup.extend([sync_permissions, freeze_startup_objects])
        return app_config

    def _secret(self, app_config: AppConfig) -> str:
        """What signs CSRF tokens and the message cookie: the host's CSRF secret when its CSRF check covers the
        admin, else the one given, else one generated for this process (and the log says so)."""
        if app_config.csrf_config is not None:
            return app_config.csrf_config.secret
        if self.secret is None:
            self.secret = secrets.token_hex(32)
            log.warning(
                "AdminPlugin at %s was given no secret: generated one for this process. CSRF tokens will not "
                "survive a restart, and several workers will refuse each other's forms. Pass AdminPlugin(secret=...) "
                "from your settings.",
                self.path,
            )
        return self.secret

    def _csrf_middleware(self, app_config: AppConfig) -> list[DefineMiddleware]:
        """The admin's own CSRF check on its router, unless the host's (app-wide) one covers the admin already."""
        host = app_config.csrf_config
        if host is not None:
            if _covers(host.exclude, self.path):
                raise ImproperlyConfiguredException(
                    f"The host's CSRFConfig(exclude=...) leaves {self.path} unprotected; the admin's forms need CSRF "
                    "checks. Narrow the exclusion so it does not match the admin's path."
                )
            if host.header_name != CSRF_HEADER:
                raise ImproperlyConfiguredException(
                    f"The admin's htmx requests send their CSRF token in {CSRF_HEADER!r}; the host's CSRFConfig reads "
                    f"{host.header_name!r}. Use header_name={CSRF_HEADER!r}, or leave csrf_config to the admin."
                )
            return []
        csrf = CSRFConfig(
            secret=self._secret(app_config),
            cookie_name=CSRF_COOKIE,
            cookie_path=self.path,
            header_name=CSRF_HEADER,
            cookie_samesite="lax",
        )
        return [DefineMiddleware(CSRFMiddleware, config=csrf)]

    def _register_stores(self, app_config: AppConfig, stores: dict[str, Any]) -> None:
        # A store the host registered under the admin's name (wiring by hand) is the host's choice: kept.
        if isinstance(app_config.stores, StoreRegistry):
            for name, store in stores.items():
                with contextlib.suppress(ValueError):  # "already exists"
                    app_config.stores.register(name, store)
            return
        app_config.stores = {**stores, **dict(app_config.stores or {})}
