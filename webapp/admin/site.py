"""The registry: which models the admin shows, under which slug, with which options."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from sqlalchemy import inspect

from webapp.admin.fields import humanize
from webapp.admin.keys import url_segment
from webapp.admin.listing import BuiltStatements
from webapp.admin.options import ModelAdmin, default_slug
from webapp.admin.sizes import SizeMemory, TableSizes

# Path segments the admin's own routes use right after its prefix.
RESERVED_SLUGS = frozenset({"static", "login", "logout", "health"})

# The key of the site in its router's `opt`: every handler, guard and error page of an admin reaches its own
# site through the route it serves, so several admins live in one app without a global deciding which.
SITE_OPT = "admin_site"


def site_of(connection: ASGIConnection[Any, Any, Any, Any]) -> AdminSite:
    """The admin this request is for: read from the route rather than injected, since Litestar resolves a
    handler's independent dependencies together in an anyio task group (guarded by
    tests/test_request_costs.py, which refuses task groups on every kind of page)."""
    return connection.scope["route_handler"].opt[SITE_OPT]


class AdminSite:
    """The registered models, keyed by slug; looked up by every generic view."""

    def __init__(self, views: Iterable[type[ModelAdmin] | type], *, title: str = "Admin", path: str = "/admin") -> None:
        self.title = title
        self.path = path.rstrip("/")
        self.index_url = f"{self.path}/"
        self.login_url = f"{self.path}/login"
        self.logout_url = f"{self.path}/logout"
        # Page links are built from these prefixes: url_for searches the route table on every call.
        self.static_url = f"{self.path}/static/"
        # Names this site's stores, so that two admins in one app keep theirs apart.
        self.name = self.path.strip("/").replace("/", "_") or "admin"
        self.session_store = f"{self.name}_sessions"
        self.throttle_store = f"{self.name}_throttle"
        # The site's own template environment (webapp.admin.templating), made when the plugin mounts.
        self.templates: Any = None
        # The advanced-alchemy config whose sessions the admin uses; set when the plugin mounts.
        self.db_config: Any = None
        # The signed cookie that carries a message to the next whole page (webapp.admin.messages); set on mount.
        self.messages: Any = None
        # Tables lately found big: their relation widgets are autocompletes, their list counts are capped.
        self.table_sizes = TableSizes()
        # List views (and their filter choices) lately counted over the cap; forgotten whenever the admin writes
        # (in every process when they share Redis: the plugin's `redis_url`).
        self.view_sizes = SizeMemory()
        # How each model's list columns are drawn (webapp.admin.display), worked out on first use.
        self.row_plans: dict[str, Any] = {}
        self.list_statements = BuiltStatements()
        self._by_slug: dict[str, ModelAdmin] = {}
        self._by_model: dict[type, ModelAdmin] = {}
        self._shadows: dict[type, ModelAdmin] = {}
        for view in views:
            self.register(view)

    def __deepcopy__(self, memo: dict[int, Any]) -> AdminSite:
        # Litestar copies a router (and its `opt`) when it is registered; the site is shared, not a value.
        return self

    def register(self, view: type[ModelAdmin] | type) -> ModelAdmin:
        """Register a ModelAdmin subclass, or a bare model class with default options."""
        if not (isinstance(view, type) and issubclass(view, ModelAdmin)):
            view = type(f"{view.__name__}Admin", (ModelAdmin,), {}, model=view)
        admin = view()
        if admin.slug in RESERVED_SLUGS or admin.slug in self._by_slug:
            raise ValueError(f"admin slug {admin.slug!r} is reserved or already registered")
        # Lists live at a trailing-slash URL (/admin/item/), which url_for would normalise away.
        admin.site = self
        admin.list_url = self.url(admin.slug)
        self._by_slug[admin.slug] = admin
        self._by_model[admin.model] = admin
        return admin

    def __iter__(self) -> Any:
        return iter(self._by_slug.values())

    def get(self, slug: str) -> ModelAdmin:
        try:
            return self._by_slug[slug]
        except KeyError:
            raise NotFoundException(f"There is no model called “{slug}” in this admin.") from None

    def admin_for(self, model: type) -> ModelAdmin | None:
        return self._by_model.get(model)

    def shadow_admin(self, model: type) -> ModelAdmin:
        """Default options for a model this site does not show (no pages, no permissions): its rows still get
        their history when a delete takes them along, and come back with its Undo (webapp.admin.cascade)."""
        admin = self._by_model.get(model) or self._shadows.get(model)
        if admin is None:
            view = type(f"{model.__name__}Admin", (ModelAdmin,), {}, model=model)
            admin = self._shadows[model] = view()
            admin.site = self
            admin.list_url = self.url(admin.slug)
        return admin

    def admin_named(self, slug: str, near: type) -> ModelAdmin | None:
        """The admin, shown or shadow, of the model called `slug` in the same registry as `near` (for an
        audit entry written by a cascade)."""
        if slug in self._by_slug:
            return self._by_slug[slug]
        for mapper in inspect(near).registry.mappers:
            if default_slug(mapper.class_) == slug:
                return self.shadow_admin(mapper.class_)
        return None

    def scope(self, account: Any) -> Callable[[type, Any], Any]:
        """`(model, statement) -> statement` limited to the rows `account` may reach of a model (its admin's
        `list_query`); a model this site does not show is not limited."""

        def scoped(model: type, statement: Any) -> Any:
            admin = self._by_model.get(model)
            return admin.scoped(statement, account) if admin is not None else statement

        return scoped

    def related_label_column(self, field: Any) -> Any:
        """The column naming the records a foreign key points to (None when that model is not registered)."""
        related = self._by_model.get(field.related_model)
        return related.label_column if related is not None else None

    def label(self, obj: Any) -> str:
        """A record's name, through its own admin's options when it has one."""
        admin = self._by_model.get(type(obj))
        if admin is not None:
            return admin.label(obj)
        if type(obj).__str__ is not object.__str__:
            return str(obj)
        return humanize(type(obj).__name__)

    def url(self, slug: str, key: str | None = None, action: str = "") -> str:
        """The one way to build an admin URL: a model's list (no key), one of its pages ("new", "lookup",
        "bulk", "export.csv"), or a record's page by its key's text (detail, or "edit", "delete", "history", ...).
        String building rather than url_for, which searches the route table on every call (a list page makes
        hundreds)."""
        base = f"{self.path}/{slug}/"
        if key is None:
            return f"{base}{action}"
        segment = url_segment(key)
        return f"{base}{segment}/{action}" if action else f"{base}{segment}"
