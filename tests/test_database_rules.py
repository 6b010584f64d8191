"""What the database itself refuses still lands on the right field, and SQLite is set up safely."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest
from sqlalchemy import event, text

from tests.conftest import field_error, input_value, snapshot
from webapp.admin import AdminPlugin, forms
from webapp.db import make_db_config

pytestmark = pytest.mark.anyio


async def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path):
    config = make_db_config(f"sqlite+aiosqlite:///{tmp_path}/pragmas.sqlite3")
    engine = config.get_engine()
    try:
        async with engine.connect() as conn:
            names = ("journal_mode", "busy_timeout", "foreign_keys")
            values = [(await conn.execute(text(f"PRAGMA {name}"))).scalar() for name in names]
    finally:
        await engine.dispose()
    assert values == ["wal", 15000, 1]


@pytest.fixture(params=["postgres_url", "mariadb_url"])
def server_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(request.param)


async def test_a_server_databases_pool_keeps_what_eight_requests_at_once_opened(server_url):
    # SQLAlchemy's default pool closed the connections beyond its size as they came back, and opened them again
    # for the next busy moment: a new PostgreSQL backend each time (bench/README.md, stop 24).
    engine = make_db_config(server_url).get_engine()
    opened: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda dbapi_connection, _record: opened.append(dbapi_connection))
    try:
        for _busy_moment in range(2):
            async with AsyncExitStack() as requests:
                for _ in range(8):
                    conn = await requests.enter_async_context(engine.connect())
                    assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()
    assert len(opened) == 8


async def test_a_foreign_key_the_database_refuses_lands_on_its_field(browser, htmx, demo, db, monkeypatch):
    # The form checks related rows first; here the row vanishes between that check and the write.
    async def skip_check(*_: object) -> None:
        return None

    monkeypatch.setattr(forms, "_resolve_relations", skip_check)
    before = await snapshot(db)
    page = await browser.submit("/admin/item/", {"name": "Orphan", "price": "1", "owner_id": "987654"})
    assert page.status_code == 422
    assert (
        field_error(page.text, "field-owner_id")
        == "Select a valid choice. That choice is not one of the available choices."
    )
    assert input_value(page.text, "field-name") == "Orphan"
    row = await htmx.submit(f"/admin/item/{demo.lamp.id}", {"owner_id": "987654"}, method="PATCH")
    assert row.status_code == 422
    assert field_error(row.text, f"item-{demo.lamp.id}-owner_id") is not None
    assert await snapshot(db) == before


async def test_a_check_constraint_the_database_refuses_lands_on_its_field(browser, demo, db, monkeypatch):
    # With the form's own minimum switched off, the table's CHECK (price >= 0) still refuses.
    admin = browser.client.app.plugins.get(AdminPlugin).site.get("item")
    price = admin.fields["price"]
    unchecked = type(price)(**{**price.__dict__, "min_value": None})
    monkeypatch.setitem(admin.fields, "price", unchecked)
    monkeypatch.setattr(
        admin, "editable_fields", [unchecked if f.name == "price" else f for f in admin.editable_fields]
    )
    before = await snapshot(db)
    page = await browser.submit("/admin/item/", {"name": "Negative", "price": "-1", "owner_id": str(demo.ada.id)})
    assert page.status_code == 422
    assert field_error(page.text, "field-price") == "This value is not allowed (it must satisfy price &gt;= 0)."
    assert await snapshot(db) == before
