"""A host mounts the admin in one line and keeps every guarantee; two admins share one app; the host's own
settings are left as they were, and a setup the admin cannot work with is refused at start with what to change."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from advanced_alchemy.extensions.litestar import EngineConfig, SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar, get
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import ImproperlyConfiguredException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig
from litestar.testing import AsyncTestClient
from sqlalchemy import MetaData, String, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tests.conftest import PASSWORD, SECRET, add_account, count_statements
from webapp.admin import AdminPlugin, ModelAdmin
from webapp.admin.models import AdminAccount

pytestmark = pytest.mark.anyio


class Base(DeclarativeBase):
    metadata = MetaData()


class Book(Base):
    __tablename__ = "host_book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80), unique=True)


class Shelf(Base):
    __tablename__ = "host_shelf"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(30))


class BookAdmin(ModelAdmin, model=Book):
    list_display = ("title",)


@get("/hello")
async def hello() -> str:
    return "the host app's own route"


async def _schema(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
        await conn.run_sync(AdminAccount.metadata.create_all)
    await add_account(async_sessionmaker(engine), "host-admin", superuser=True)
    await engine.dispose()


async def _drop(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
    await engine.dispose()


def _host(url: str, *admins: AdminPlugin, **options: Any) -> Litestar:
    """The host's whole wiring: its own config (not the admin's tuned one) and the plugins."""
    db = SQLAlchemyAsyncConfig(connection_string=url, metadata=Base.metadata)

    async def dispose() -> None:
        await db.get_engine().dispose()

    return Litestar(
        route_handlers=[hello, *options.pop("route_handlers", [])],
        plugins=[SQLAlchemyPlugin(config=db), *admins],
        on_shutdown=[dispose],
        **options,
    )


def _client(app: Litestar) -> AsyncTestClient[Litestar]:
    client = AsyncTestClient(app=app)
    client.follow_redirects = False
    return client


class Person:
    """A browser on a host with possibly several admins: each admin's cookies are its own (by path)."""

    def __init__(self, client: AsyncTestClient[Litestar], path: str) -> None:
        self.client, self.path = client, path

    def token(self) -> str:
        return self.client.cookies.get("csrftoken", path=self.path)

    async def sign_in(self, username: str = "host-admin") -> Any:
        await self.client.get(f"{self.path}/login")
        return await self.post(f"{self.path}/login", {"username": username, "password": PASSWORD})

    async def post(self, url: str, data: dict[str, str], **headers: str) -> Any:
        body = urlencode({**data, "_csrf_token": self.token()})
        return await self.client.post(
            url, content=body, headers={"content-type": "application/x-www-form-urlencoded", **headers}
        )


@pytest.fixture
async def one_line(database_url: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    await _schema(database_url)
    app = _host(database_url, AdminPlugin([BookAdmin, Shelf], secret=SECRET))
    async with _client(app=app) as client:
        yield client
    await _drop(database_url)


async def test_one_line_gives_sign_in_csrf_and_crud(one_line, database_url):
    person = Person(one_line, "/admin")
    assert (await one_line.get("/hello")).text == "the host app's own route"
    assert (await one_line.get("/admin/book/")).status_code == 303, "sign-in first"
    signed_in = await person.sign_in()
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/admin/"
    # Without the token, a form post is refused and writes nothing.
    forged = await one_line.post("/admin/book/", data={"title": "Forged"})
    assert forged.status_code == 403
    created = await person.post("/admin/book/", {"title": "Dune"})
    assert created.status_code == 303 and created.headers["location"] == "/admin/book/"
    page = await one_line.get("/admin/book/")
    assert "Dune" in page.text and "/admin/static/vendor/htmx.min.js" in page.text
    duplicate = await person.post("/admin/book/", {"title": "Dune"})
    assert duplicate.status_code == 422 and "already exists" in duplicate.text
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        assert (await conn.execute(select(Book.title))).scalars().all() == ["Dune"]
    await engine.dispose()


async def test_the_plugin_keeps_what_the_host_has_at_startup_out_of_the_collectors_way(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/host.sqlite3"
    await _schema(url)
    gc.unfreeze()  # as in a fresh process: an earlier app of the suite froze what was alive then
    app = _host(url, AdminPlugin([BookAdmin, Shelf], secret=SECRET))
    assert gc.get_freeze_count() == 0
    async with _client(app=app) as one_line:
        assert gc.get_freeze_count() > 10_000, "modules, mappers, routes: out of the full collections' traversal"
        assert (await Person(one_line, "/admin").sign_in()).status_code == 303


async def test_the_host_engine_gets_the_admins_sqlite_rules(tmp_path):
    """The host brought a plain config; the admin's writes still take SQLite's write lock up front, and
    foreign keys are enforced on its connections."""
    url = f"sqlite+aiosqlite:///{tmp_path}/host.sqlite3"
    await _schema(url)
    async with _client(app=_host(url, AdminPlugin([BookAdmin, Shelf], secret=SECRET))) as one_line:
        await _write_under_the_rules(one_line)


async def _write_under_the_rules(one_line: AsyncTestClient[Litestar]) -> None:
    person = Person(one_line, "/admin")
    await person.sign_in()
    engine = one_line.app.plugins.get(AdminPlugin).site.db_config.get_engine()
    with count_statements() as statements:
        assert (await person.post("/admin/shelf/", {"label": "top"})).status_code == 303
    begins = [statement for statement in statements if statement.startswith("BEGIN")]
    assert begins and set(begins) == {"BEGIN IMMEDIATE"}, "every write transaction takes the lock up front"
    async with engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1


async def test_a_csrf_token_survives_a_restart_with_the_same_secret(database_url):
    await _schema(database_url)
    try:
        async with _client(app=_host(database_url, AdminPlugin([BookAdmin], secret=SECRET))) as first:
            person = Person(first, "/admin")
            await person.sign_in()
            token, cookies = person.token(), dict(first.cookies)
        async with _client(app=_host(database_url, AdminPlugin([BookAdmin], secret=SECRET))) as second:
            for name, value in cookies.items():
                second.cookies.set(name, value, path="/admin")
            body = urlencode({"title": "After restart", "_csrf_token": token})
            saved = await second.post(
                "/admin/book/", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
            )
            assert saved.status_code == 303, "the other process takes the token and the session"
    finally:
        await _drop(database_url)


def test_without_a_secret_one_is_generated_and_said_so(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="webapp.admin.plugin"):
        _host(f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3", AdminPlugin([BookAdmin]))
    assert "was given no secret" in caplog.text and "Pass AdminPlugin(secret=...)" in caplog.text


async def test_two_admins_side_by_side(database_url):
    await _schema(database_url)
    books = AdminPlugin([BookAdmin], path="/admin", title="Library", secret=SECRET)
    shelves = AdminPlugin([Shelf], path="/ops", title="Operations", secret=SECRET)
    try:
        async with _client(app=_host(database_url, books, shelves)) as client:
            library, ops = Person(client, "/admin"), Person(client, "/ops")
            assert (await library.sign_in()).headers["location"] == "/admin/"
            assert (await client.get("/ops/")).status_code == 303, "signing in to one is not signing in to both"
            assert (await ops.sign_in()).headers["location"] == "/ops/"
            library_home, ops_home = (await client.get("/admin/")).text, (await client.get("/ops/")).text
            assert '<a class="brand" href="/admin/">Library</a>' in library_home
            assert '<a href="/admin/book/">Books</a>' in library_home and "/admin/shelf/" not in library_home
            assert '<a href="/ops/shelf/">Shelfs</a>' in ops_home and "/ops/book/" not in ops_home
            assert '<a class="brand" href="/ops/">Operations</a>' in ops_home and "Library" not in ops_home
            assert (await client.get("/ops/book/")).status_code == 404
            created = await ops.post("/ops/shelf/", {"label": "left"})
            assert created.status_code == 303 and created.headers["location"] == "/ops/shelf/"
            listed = await client.get("/ops/shelf/")
            assert "left" in listed.text and 'href="/ops/shelf/1"' in listed.text
            assert "/ops/static/admin.css" in listed.text
            unknown = await client.get("/ops/no/such/page/here")
            assert unknown.status_code == 404 and "Operations" in unknown.text
            assert (await client.get("/elsewhere")).headers["content-type"].startswith("application/json")
    finally:
        await _drop(database_url)


async def test_the_hosts_templates_are_left_as_the_host_set_them(database_url, tmp_path):
    """The admin draws with its own environment: the host's whitespace and reloading stay, and the host's
    template folder still overrides an admin template by name."""
    await _schema(database_url)
    (tmp_path / "page.html").write_text("{% if true %}\n  kept {{ who }}\n{% endif %}\n")
    (tmp_path / "admin").mkdir()
    (tmp_path / "admin" / "error.html").write_text("host's own error page: {{ title }}")

    @get("/page")
    async def page() -> Template:
        return Template("page.html", context={"who": "whitespace"})

    seen: list[Any] = []
    config = TemplateConfig(directory=tmp_path, engine=JinjaTemplateEngine, engine_callback=seen.append)
    app = _host(
        database_url,
        AdminPlugin([BookAdmin], secret=SECRET),
        route_handlers=[page],
        template_config=config,
    )
    try:
        async with _client(app=app) as client:
            environment = seen[0].engine
            assert environment.trim_blocks is False and environment.lstrip_blocks is False
            assert environment.auto_reload is True
            assert "admin_site" not in environment.globals
            assert (await client.get("/page")).text == "\n  kept whitespace\n"
            missing = await client.get("/admin/no/such/page")
            assert missing.status_code == 404 and missing.text == "host's own error page: Not found"
    finally:
        await _drop(database_url)


def test_an_app_without_an_async_sqlalchemy_config_is_refused():
    with pytest.raises(ImproperlyConfiguredException, match="SQLAlchemyPlugin with an async config"):
        Litestar(plugins=[AdminPlugin([BookAdmin], secret=SECRET)])


def test_a_host_csrf_exclusion_over_the_admin_is_refused(tmp_path):
    csrf = CSRFConfig(secret="host-secret", exclude=["/admin"])
    with pytest.raises(ImproperlyConfiguredException, match="leaves /admin unprotected"):
        _host(f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3", AdminPlugin([BookAdmin]), csrf_config=csrf)


def test_a_host_csrf_reading_another_header_is_refused(tmp_path):
    csrf = CSRFConfig(secret="host-secret", header_name="x-token")
    with pytest.raises(ImproperlyConfiguredException, match="header_name='x-csrftoken'"):
        _host(f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3", AdminPlugin([BookAdmin]), csrf_config=csrf)


def test_an_engine_in_autocommit_is_refused(tmp_path):
    db = SQLAlchemyAsyncConfig(
        connection_string=f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3",
        engine_config=EngineConfig(isolation_level="AUTOCOMMIT"),
    )
    with pytest.raises(ImproperlyConfiguredException, match="AUTOCOMMIT"):
        Litestar(plugins=[SQLAlchemyPlugin(config=db), AdminPlugin([BookAdmin], secret=SECRET)])


def test_two_configs_need_the_admin_to_be_told_which(tmp_path):
    one = SQLAlchemyAsyncConfig(connection_string=f"sqlite+aiosqlite:///{tmp_path}/one.sqlite3")
    two = SQLAlchemyAsyncConfig(
        connection_string=f"sqlite+aiosqlite:///{tmp_path}/two.sqlite3",
        bind_key="two",
        session_dependency_key="db_two",
        engine_dependency_key="engine_two",
        session_scope_key="_session_two",
    )
    with pytest.raises(ImproperlyConfiguredException, match=r"AdminPlugin\(db_config=\.\.\.\)"):
        Litestar(plugins=[SQLAlchemyPlugin(config=[one, two]), AdminPlugin([BookAdmin], secret=SECRET)])
    app = Litestar(
        plugins=[SQLAlchemyPlugin(config=[one, two]), AdminPlugin([BookAdmin], secret=SECRET, db_config=two)]
    )
    assert app.plugins.get(AdminPlugin).site.db_config is two


def test_the_admins_folder_is_read_from_the_plugins_option(tmp_path: Path):
    (tmp_path / "admin").mkdir()
    (tmp_path / "admin" / "error.html").write_text("mine")
    plugin = AdminPlugin([BookAdmin], secret=SECRET, template_directories=[tmp_path])
    _host(f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3", plugin)
    assert plugin.site.templates.choose(None, "error.html").filename == str(tmp_path / "admin" / "error.html")


async def test_a_model_extends_the_admins_templates_by_blocks(tmp_path):
    """Per-model overrides extend the generic template and replace a named block (object tools, pagination)
    or add to one (extra head), the rest of the page as before; other models keep the generic pages."""
    url = f"sqlite+aiosqlite:///{tmp_path}/host.sqlite3"
    await _schema(url)
    book = tmp_path / "templates" / "admin" / "book"
    book.mkdir(parents=True)
    (book / "list.html").write_text(
        '{% extends "admin/list.html" %}'
        '{% block object_tools %}<a class="button" href="/reports">Book report</a>{{ super() }}{% endblock %}'
    )
    (book / "base.html").write_text(
        '{% extends "admin/base.html" %}{% block extra_head %}<meta name="shelf" content="books">{% endblock %}'
    )
    (book / "_results.html").write_text(
        '{% extends "admin/_results.html" %}{% block pagination %}<p>no pages here</p>{% endblock %}'
    )
    plugin = AdminPlugin([BookAdmin, Shelf], secret=SECRET, template_directories=[tmp_path / "templates"])
    async with _client(app=_host(url, plugin)) as client:
        await Person(client, "/admin").sign_in()
        books = (await client.get("/admin/book/")).text
        assert '<a class="button" href="/reports">Book report</a>' in books and "Add book" in books
        assert '<meta name="shelf" content="books">' in books and '<input id="q" type="search"' in books
        assert "<p>no pages here</p>" in books and 'class="per-page"' not in books
        fragment = (await client.get("/admin/book/", headers={"HX-Request": "true"})).text
        assert "<p>no pages here</p>" in fragment
        shelves = (await client.get("/admin/shelf/")).text
        assert "Book report" not in shelves and 'name="shelf"' not in shelves and 'class="per-page"' in shelves


def test_a_config_the_app_was_not_given_is_refused(tmp_path):
    given = SQLAlchemyAsyncConfig(connection_string=f"sqlite+aiosqlite:///{tmp_path}/one.sqlite3")
    other = SQLAlchemyAsyncConfig(connection_string=f"sqlite+aiosqlite:///{tmp_path}/two.sqlite3")
    with pytest.raises(ImproperlyConfiguredException, match="no SQLAlchemyPlugin of this app was given"):
        Litestar(plugins=[SQLAlchemyPlugin(config=given), AdminPlugin([BookAdmin], secret=SECRET, db_config=other)])


def test_a_store_the_host_registered_under_the_admins_name_is_kept(tmp_path):
    from litestar.stores.memory import MemoryStore

    mine = MemoryStore()
    app = _host(
        f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3",
        AdminPlugin([BookAdmin], secret=SECRET),
        stores={"admin_sessions": mine},
    )
    assert app.stores.get("admin_sessions") is mine
    assert app.stores.get("admin_throttle") is not mine, "the admin's other store is its own"


def test_a_sync_config_is_refused(tmp_path):
    from advanced_alchemy.extensions.litestar import SQLAlchemySyncConfig

    sync = SQLAlchemySyncConfig(connection_string=f"sqlite:///{tmp_path}/sync.sqlite3")
    with pytest.raises(ImproperlyConfiguredException, match="needs an async config"):
        Litestar(plugins=[SQLAlchemyPlugin(config=sync), AdminPlugin([BookAdmin], secret=SECRET, db_config=sync)])
