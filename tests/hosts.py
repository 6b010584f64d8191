"""A one-line host app over a test's own models, and the person signed in to it, for tests that bring their
own tables (hooks, scoping, column types)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from tests.conftest import PASSWORD, SECRET
from webapp.admin import AdminPlugin
from webapp.admin.models import AdminAccount

HTMX = {"HX-Request": "true"}


class Person:
    """A browser without JavaScript: plain GETs and form posts carrying the CSRF token."""

    def __init__(self, client: AsyncTestClient[Litestar]) -> None:
        self.client = client

    async def get(self, url: str, **headers: str) -> Any:
        return await self.client.get(url, headers=headers)

    async def post(self, url: str, data: dict[str, Any] | list[tuple[str, str]], **headers: str) -> Any:
        pairs = list(data.items()) if isinstance(data, dict) else data
        body = urlencode([*pairs, ("_csrf_token", self.client.cookies.get("csrftoken", path="/admin"))])
        return await self.client.post(
            url, content=body, headers={"content-type": "application/x-www-form-urlencoded", **headers}
        )

    async def sign_in(self, username: str) -> None:
        await self.client.get("/admin/login")
        signed_in = await self.post("/admin/login", {"username": username, "password": PASSWORD})
        assert signed_in.status_code == 303, signed_in.text


@asynccontextmanager
async def own_tables(database_url: str, metadata: MetaData) -> AsyncIterator[async_sessionmaker[Any]]:
    """The test's tables and the admin's, made afresh, and dropped after."""
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
        await conn.run_sync(AdminAccount.metadata.create_all)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
        await engine.dispose()


def host(database_url: str, metadata: MetaData, admins: Sequence[Any]) -> Litestar:
    """The README's one line. One app per person: two test clients would start one app's lifespan twice."""
    config = SQLAlchemyAsyncConfig(connection_string=database_url, metadata=metadata)

    async def dispose() -> None:
        await config.get_engine().dispose()

    return Litestar(
        plugins=[SQLAlchemyPlugin(config=config), AdminPlugin(list(admins), secret=SECRET)], on_shutdown=[dispose]
    )


@asynccontextmanager
async def signed_in(
    database_url: str,
    metadata: MetaData,
    admins: Sequence[Any],
    username: str,
    started: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[Person]:
    """`username` signed in to the host; `started` runs once the app has started (its permission rows exist)."""
    async with AsyncTestClient(app=host(database_url, metadata, admins)) as client:
        client.follow_redirects = False
        if started is not None:
            await started()
        person = Person(client)
        await person.sign_in(username)
        yield person
