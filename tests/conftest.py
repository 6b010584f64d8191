"""Every database test runs three times: on a fresh SQLite file, and on a PostgreSQL and a MariaDB database
made for this run (and dropped after it).

Without PostgreSQL or MariaDB their runs skip with the reason; with CI set they fail instead.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest
import redis
from argon2 import PasswordHasher
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import String, event, insert, literal, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from webapp.admin import filters, list_page, listing
from webapp.admin.accounts import AccountAdmin, sync_permissions
from webapp.admin.models import ARGON2_PARAMETERS, AdminAccount, AdminPermission, admin_account_permission
from webapp.admin.site import AdminSite
from webapp.admin.sqlite_driver import OneTripConnection
from webapp.app import create_app
from webapp.browse import ADMIN_TABLES
from webapp.demo.admin import ADMIN_VIEWS
from webapp.demo.models import Item, Status, Tag, User, item_tag, orm_registry
from webapp.settings import Settings

PASSWORD = "correct horse battery"
# Hashed once per run: argon2 is slow on purpose, and each test signs in afresh.
PASSWORD_HASH = PasswordHasher(**ARGON2_PARAMETERS).hash(PASSWORD)
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/test")
MARIADB_ADMIN_URL = os.environ.get("TEST_MARIADB_ADMIN_DSN", "mariadb+asyncmy://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# tests/test_workers.py's servers keep their sessions in a Redis database of their own: each file flushes its
# database, and the suite runs files side by side (pytest-xdist), so one file's flush must not sign the other's
# browsers out.
WORKERS_REDIS_URL = os.environ.get("TEST_WORKERS_REDIS_URL", "redis://127.0.0.1:6379/13")
SECRET = b"0123456789abcdef0123456789abcdef"
ADMIN_SITE = AdminSite([*ADMIN_VIEWS, AccountAdmin])
METADATA = orm_registry.metadata


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def _unavailable(server: str, url: str, reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{server} is required when CI is set: {reason}", pytrace=False)
    pytest.skip(f"{server} not available at {url}: {reason}")


def require_redis() -> None:
    """Redis answers at REDIS_URL, or the test skips with the reason (with CI set: fails)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (OSError, redis.RedisError) as exc:
        _unavailable("Redis", REDIS_URL, str(exc) or type(exc).__name__)
    finally:
        client.close()


async def _postgres_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _mariadb_admin(sql: str) -> None:
    engine = create_async_engine(MARIADB_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """A PostgreSQL database made for the caller and dropped after it (skip or, with CI set, fail without one)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        _unavailable("PostgreSQL", PG_ADMIN_URL, str(exc) or type(exc).__name__)
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def scratch_mariadb(prefix: str) -> Iterator[str]:
    """A MariaDB database made for the caller and dropped after it (skip or, with CI set, fail without one)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_mariadb_admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except (OSError, DBAPIError, TimeoutError) as exc:
        _unavailable("MariaDB", MARIADB_ADMIN_URL, str(exc) or type(exc).__name__)
    base = MARIADB_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}?charset=utf8mb4"
    finally:
        asyncio.run(_mariadb_admin(f"DROP DATABASE IF EXISTS `{name}`"))


SCRATCH = {"postgresql": scratch_postgres, "mariadb": scratch_mariadb}


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own for this test run, with the models' tables, dropped at the end."""
    with scratch_postgres("admin_test") as url:
        asyncio.run(_create_schema(url))
        yield url


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    """A MariaDB database of its own for this test run, with the models' tables, dropped at the end."""
    with scratch_mariadb("admin_test") as url:
        asyncio.run(_create_schema(url))
        yield url


async def _create_schema(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    await engine.dispose()


async def empty_tables(url: str) -> None:
    """Every table of the models emptied, and their ids counting from 1 again: a page's size must not depend on
    which tests ran before it in this database (the ids come from named sequences, which TRUNCATE's RESTART
    IDENTITY leaves alone)."""
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            tables = ", ".join(f'"{t.name}"' for t in METADATA.sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            await conn.execute(
                text(
                    "SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) FROM pg_sequences "
                    "WHERE schemaname = current_schema()"
                )
            )
        else:
            # DELETE, not TRUNCATE: MariaDB's TRUNCATE makes each table anew.
            for table in reversed(METADATA.sorted_tables):
                await conn.execute(table.delete())
            sequences = await conn.scalars(
                text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() AND table_type = 'SEQUENCE'"
                )
            )
            for sequence in sequences.all():
                await conn.execute(text(f"ALTER SEQUENCE `{sequence}` RESTART"))
    await engine.dispose()


DATABASES = ["sqlite", "postgresql", "mariadb"]


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/test.sqlite3"
        return
    url = request.getfixturevalue(f"{'postgres' if request.param == 'postgresql' else 'mariadb'}_url")
    asyncio.run(empty_tables(url))
    yield url


@pytest.fixture
def app(database_url: str) -> Litestar:
    return create_app(
        Settings(database_url=database_url, secret_key=SECRET, create_all=database_url.startswith("sqlite"))
    )


@dataclass
class Admin:
    """A person at a browser: reads pages, posts forms with the CSRF token, or acts as htmx does."""

    client: AsyncTestClient[Litestar]
    htmx: bool = False
    last_url: str = "/admin/"

    async def open(self, url: str, **headers: str) -> Any:
        self.last_url = url
        return await self.client.get(url, headers=self._headers(headers))

    async def submit(
        self, url: str, data: dict[str, Any] | list[tuple[str, str]], method: str = "POST", **headers: str
    ) -> Any:
        token = self.client.cookies.get("csrftoken") or await self._token()
        if self.htmx:
            headers = {"x-csrftoken": token, **headers}
        else:
            data = [*(data.items() if isinstance(data, dict) else data), ("_csrf_token", token)]
        headers = {"content-type": "application/x-www-form-urlencoded", **headers}
        body = urlencode(_flatten(data))
        return await self.client.request(
            method, url, content=body, headers=self._headers(headers), follow_redirects=False
        )

    async def sign_in(self, username: str, password: str = PASSWORD) -> Any:
        await self.client.get("/admin/login")
        return await self.submit("/admin/login", {"username": username, "password": password})

    async def _token(self) -> str:
        await self.client.get(self.last_url)
        return self.client.cookies["csrftoken"]

    def _headers(self, extra: dict[str, str]) -> dict[str, str]:
        headers = (
            {"HX-Request": "true", "HX-Current-URL": f"http://testserver.local{self.last_url}"} if self.htmx else {}
        )
        return {**headers, **{k.replace("_", "-"): v for k, v in extra.items()}}


def _flatten(data: dict[str, Any] | list[tuple[str, str]]) -> list[tuple[str, str]]:
    pairs = data.items() if isinstance(data, dict) else data
    flat: list[tuple[str, str]] = []
    for key, value in pairs:
        for item in value if isinstance(value, list) else [value]:
            flat.append((key, str(item)))
    return flat


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def add_account(
    db: async_sessionmaker[AsyncSession],
    username: str,
    *,
    superuser: bool = False,
    permissions: tuple[str, ...] = (),
    active: bool = True,
) -> int:
    """An account with PASSWORD, inserted with the ready hash."""
    accounts = AdminAccount.__table__
    async with db() as session:
        account_id = await session.scalar(
            insert(accounts)
            # A typed literal keeps the PasswordHash column from hashing the hash again.
            .values(
                username=username, password=literal(PASSWORD_HASH, String()), is_active=active, is_superuser=superuser
            )
            .returning(accounts.c.id)
        )
        if permissions:
            await sync_permissions(session, list(ADMIN_SITE))
            rows = await session.execute(select(AdminPermission).where(AdminPermission.codename.in_(permissions)))
            found = list(rows.scalars())
            assert len(found) == len(permissions), permissions
            await session.execute(
                admin_account_permission.insert(), [{"account_id": account_id, "permission_id": p.id} for p in found]
            )
        await session.commit()
    return account_id


@pytest.fixture
async def superuser(db: async_sessionmaker[AsyncSession]) -> int:
    return await add_account(db, "root", superuser=True)


@pytest.fixture
def anonymous(client: AsyncTestClient[Litestar]) -> Admin:
    return Admin(client)


@pytest.fixture
async def browser(client: AsyncTestClient[Litestar], superuser: int) -> Admin:
    person = Admin(client)
    signed_in = await person.sign_in("root")
    assert signed_in.status_code == 303, signed_in.text
    return person


@pytest.fixture
def htmx(browser: Admin) -> Admin:
    return Admin(browser.client, htmx=True, last_url="/admin/item/")


@pytest.fixture
async def db(app: Litestar, database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory of the test's own, to arrange rows and to read what the app wrote."""
    engine = create_async_engine(database_url)
    if database_url.startswith("sqlite"):
        async with engine.begin() as conn:
            await conn.run_sync(METADATA.create_all)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@dataclass
class Demo:
    ada: User
    alan: User
    red: Tag
    blue: Tag
    lamp: Item
    chair: Item
    ids: dict[str, int] = field(default_factory=dict)


def lamp_form(demo: Demo, **changes: Any) -> dict[str, Any]:
    """The lamp's whole-page edit form as a person posts it unchanged, with `changes` typed over it."""
    form = {
        "name": "Lamp",
        "description": "",
        "price": "12.50",
        "quantity": "3",
        "status": "active",
        "available_from": "",
        "owner_id": str(demo.ada.id),
        "tags": ["", str(demo.red.id)],
    }
    return {**form, **changes}


@pytest.fixture
async def demo(db: async_sessionmaker[AsyncSession]) -> Demo:
    async with db() as session:
        ada = User(username="ada", email="ada@example.com", full_name="Ada Lovelace")
        alan = User(username="alan", email="alan@example.com")
        red, blue = Tag(name="red"), Tag(name="blue")
        lamp = Item(name="Lamp", price=Decimal("12.50"), quantity=3, status=Status.ACTIVE, owner=ada, tags=[red])
        chair = Item(name="Chair", price=Decimal("40.00"), owner=alan)
        session.add_all([ada, alan, red, blue, lamp, chair])
        await session.commit()
        return Demo(ada=ada, alan=alan, red=red, blue=blue, lamp=lamp, chair=chair)


LINKED = 3_000


@pytest.fixture
async def crowded(db: async_sessionmaker[AsyncSession], demo: Demo) -> Demo:
    """The lamp tagged 3,000 times (red, then "tag 0001" … "tag 2999"); the chair tagged blue."""
    async with db() as session:
        await session.execute(insert(Tag), [{"name": f"tag {n:04d}", "version": 1} for n in range(1, LINKED)])
        tag_ids = (await session.scalars(select(Tag.id).where(Tag.name.startswith("tag ")))).all()
        links = [{"item_id": demo.lamp.id, "tag_id": tag_id} for tag_id in tag_ids]
        await session.execute(insert(item_tag), [*links, {"item_id": demo.chair.id, "tag_id": demo.blue.id}])
        await session.commit()
    return demo


# Session bookkeeping changes on every request; it is not data a refused request could have written.
UNSNAPSHOTTED = {"admin_store"}


async def snapshot(db: async_sessionmaker[AsyncSession]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to assert that a refused request wrote nothing."""
    async with db() as session:
        return {
            table.name: [
                tuple(getattr(value, "hash_string", value) for value in row)
                for row in (await session.execute(table.select().order_by(*table.primary_key)))
            ]
            for table in METADATA.sorted_tables
            if table.name not in UNSNAPSHOTTED
        }


def cap_counts(monkeypatch: pytest.MonkeyPatch, cap: int) -> None:
    """Counts stop at `cap` rows instead of 10,000: a big table's behaviour on a few dozen rows."""
    for module in (filters, listing, list_page):
        monkeypatch.setattr(module, "COUNT_CAP", cap)


@pytest.fixture
async def browse_state(tmp_path: Any) -> AsyncIterator[tuple[str, async_sessionmaker[Any]]]:
    """`make browse`'s state database: the admin's own tables and a superuser "clerk", in a SQLite file of the
    test's own (the browsed database stays as it was)."""
    url = f"sqlite+aiosqlite:///{tmp_path}/state.sqlite3"
    engine = create_async_engine(url)
    tables = [table for name, table in AdminAccount.metadata.tables.items() if name in ADMIN_TABLES]
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: AdminAccount.metadata.create_all(sync, tables=tables))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    await add_account(sessions, "clerk", superuser=True)
    yield url, sessions
    await engine.dispose()


@contextmanager
def count_statements() -> Iterator[list[str]]:
    """Every statement sent to a database, in order. A SQLite transaction's BEGIN is not a statement of
    SQLAlchemy's there: it rides to SQLite with the transaction's first statement
    (`OneTripConnection.begin_with_next_statement`), so it is listed when it is handed over, just before it."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    hand_over = OneTripConnection.begin_with_next_statement

    def record_begin(connection: OneTripConnection, begin: str) -> None:
        statements.append(begin)
        hand_over(connection, begin)

    event.listen(Engine, "before_cursor_execute", record)
    OneTripConnection.begin_with_next_statement = record_begin  # type: ignore[method-assign]
    try:
        yield statements
    finally:
        OneTripConnection.begin_with_next_statement = hand_over  # type: ignore[method-assign]
        event.remove(Engine, "before_cursor_execute", record)


def field_error(html: str, field_id: str) -> str | None:
    """The message shown under the input with this id, if any."""
    found = re.search(rf'<span class="field-error" id="{re.escape(field_id)}-error">(.*?)</span>', html, re.S)
    return found.group(1) if found else None


def input_value(html: str, field_id: str) -> str | None:
    found = re.search(rf'<input[^>]*\bid="{re.escape(field_id)}"[^>]*\bvalue="([^"]*)"', html)
    return found.group(1) if found else None


def related_section(page: str, name: str) -> str:
    """The detail page's section of the relation `name` (its records, its page links), or "" without one."""
    found = re.search(rf'<section class="related" id="related-{re.escape(name)}".*?</section>', page, re.S)
    return found.group(0) if found else ""


def section_names(section: str) -> list[str]:
    """The records a related section names, in its order."""
    return [html.unescape(text) for text in re.findall(r"<li>(?:<a [^>]*>)?([^<]*)(?:</a>)?</li>", section)]


def page_link(section: str, rel: str, *, fragment: bool = False) -> str | None:
    """Where a section's "next" or "prev" link leads: the whole page, as a browser follows it, or (`fragment`)
    the section alone, as htmx asks for it; None when the section has no such link."""
    found = re.search(rf'<a href="([^"]*)" hx-get="([^"]*)" hx-push-url="[^"]*" rel="{rel}">', section)
    return html.unescape(found.group(2 if fragment else 1)) if found else None


class _FormReader(HTMLParser):
    """Reads what a browser posts from the first <form> whose class names `css_class`: its named inputs as drawn
    (checkboxes and radios only when checked, a select's selected options, a textarea's text), not its buttons,
    and not the inputs that join another form through a `form` attribute."""

    def __init__(self, css_class: str) -> None:
        super().__init__(convert_charrefs=True)
        self.css_class = css_class
        self.inside = False
        self.done = False
        self.pairs: list[tuple[str, str]] = []
        self._select: tuple[str, bool] | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.done and self.css_class in a.get("class", "").split():
            self.inside = True
        if not self.inside or "form" in a:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type", "text") not in {"submit", "button", "image", "reset"}:
            if a.get("type") not in {"checkbox", "radio"} or "checked" in a:
                self.pairs.append((name, a.get("value", "on" if a.get("type") == "checkbox" else "")))
        elif tag == "select" and name:
            self._select, self._select_first, self._select_chosen = (name, "multiple" in a), None, False
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._select_first = value if self._select_first is None else self._select_first
            if "selected" in a:
                self.pairs.append((self._select[0], value))
                self._select_chosen = True
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside, self.done = False, True
        elif tag == "select" and self._select is not None:
            name, multiple = self._select
            if not multiple and not self._select_chosen and self._select_first is not None:
                self.pairs.append((name, self._select_first))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.pairs.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None


def form_as_drawn(html: str, css_class: str = "record-form") -> list[tuple[str, str]]:
    """The fields a browser would post from the page's record form, left as the page drew them."""
    reader = _FormReader(css_class)
    reader.feed(html)
    reader.close()
    return reader.pairs
