"""The benchmark's floor (bench/floor.py) does by hand the work it is compared for: signed in, it reads the
admin's session and account and refuses what the admin refuses, and its update writes the admin's audit entry.
The bare floor does neither."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

from bench.floor import create_floor_app
from tests.conftest import SECRET, Admin, add_account, count_statements
from webapp.admin.models import AdminAccount, AdminLogEntry
from webapp.admin.sessions import SESSION_COOKIE
from webapp.demo.models import Item
from webapp.settings import Settings

pytestmark = pytest.mark.anyio


def _floor(database_url: str, *, signed_in: bool = True) -> Litestar:
    return create_floor_app(Settings(database_url=database_url, secret_key=SECRET), signed_in=signed_in)


@pytest.fixture
async def floor(database_url: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=_floor(database_url)) as client:
        yield client


def _carry_session(floor: AsyncTestClient[Litestar], person: Admin) -> None:
    floor.cookies.set(SESSION_COOKIE, person.client.cookies[SESSION_COOKIE])


async def _patch(floor: AsyncTestClient[Litestar], url: str, body: str) -> object:
    await floor.get("/floor/item/")  # the floor's CSRF cookie
    headers = {
        "x-csrftoken": floor.cookies["csrftoken"],
        "content-type": "application/x-www-form-urlencoded",
        "hx-request": "true",
    }
    return await floor.patch(url, content=body, headers=headers)


async def test_the_floor_answers_only_a_signed_in_admin_session(floor, browser, demo):
    assert (await floor.get("/floor/item/")).status_code == 401
    assert (await floor.get(f"/floor/item/{demo.lamp.id}/edit")).status_code == 401
    _carry_session(floor, browser)
    listed = await floor.get("/floor/item/")
    assert listed.status_code == 200 and demo.lamp.name in listed.text
    assert (await floor.get(f"/floor/item/{demo.lamp.id}/edit")).status_code == 200


def test_the_floor_sends_the_admins_own_session_and_account_statement(app, database_url):
    from bench.floor import SESSION_AND_ACCOUNT

    admin_store = app.stores.get("admin_sessions")
    dialect = create_async_engine(database_url).dialect
    assert str(SESSION_AND_ACCOUNT.compile(dialect=dialect)) == str(
        admin_store._read_along_statement.compile(dialect=dialect)
    )


async def test_the_floor_reads_the_session_and_account_in_one_statement_once_it_knows_the_account(floor, browser, demo):
    _carry_session(floor, browser)
    await floor.get("/floor/item/")  # the session's first request learns whose it is
    with count_statements() as statements:
        assert (await floor.get(f"/floor/item/{demo.lamp.id}/edit")).status_code == 200
    store_reads = [s for s in statements if "FROM admin_store" in s]
    assert len(store_reads) == 1 and "admin_account" in store_reads[0]
    assert not [s for s in statements if "FROM admin_account" in s and "admin_store" not in s]


async def test_the_floor_refuses_a_deactivated_account(floor, browser, db):
    _carry_session(floor, browser)
    assert (await floor.get("/floor/item/")).status_code == 200
    async with db() as session:
        await session.execute(update(AdminAccount).where(AdminAccount.username == "root").values(is_active=False))
        await session.commit()
    assert (await floor.get("/floor/item/")).status_code == 401


async def test_the_floor_refuses_a_missing_permission_and_a_signed_out_session(floor, client, db, demo):
    await add_account(db, "viewer", permissions=("item.view",))
    viewer = Admin(client)
    assert (await viewer.sign_in("viewer")).status_code == 303
    _carry_session(floor, viewer)
    assert (await floor.get("/floor/item/")).status_code == 200
    assert (await floor.get(f"/floor/item/{demo.lamp.id}/edit")).status_code == 403
    assert (await _patch(floor, f"/floor/item/{demo.lamp.id}", "name=Desk+lamp")).status_code == 403
    assert (await viewer.submit("/admin/logout", {})).status_code == 303
    assert (await floor.get("/floor/item/")).status_code == 401


async def test_the_floors_update_writes_the_row_and_the_admins_audit_entry(floor, browser, demo, db):
    _carry_session(floor, browser)
    saved = await _patch(floor, f"/floor/item/{demo.lamp.id}", "name=Desk+lamp&price=13.75")
    assert saved.status_code == 200 and "Desk lamp" in saved.text and ">ada</a>" in saved.text
    async with db() as session:
        item = await session.get(Item, demo.lamp.id)
        assert (item.name, item.price) == ("Desk lamp", Decimal("13.75"))
        entries = (await session.scalars(select(AdminLogEntry))).all()
    assert [(e.username, e.model, e.object_pk, e.action) for e in entries] == [
        ("root", "item", str(demo.lamp.id), "update")
    ]
    assert entries[0].changes["name"] == [demo.lamp.name, "Desk lamp"]
    assert entries[0].changes["price"] == [str(demo.lamp.price), "13.75"]


async def test_the_floors_update_that_changes_nothing_writes_no_entry(floor, browser, demo, db):
    _carry_session(floor, browser)
    saved = await _patch(floor, f"/floor/item/{demo.lamp.id}", f"name={demo.lamp.name.replace(' ', '+')}")
    assert saved.status_code == 200 and demo.lamp.name in saved.text
    async with db() as session:
        assert (await session.scalars(select(AdminLogEntry))).all() == []


async def test_the_bare_floor_neither_signs_in_nor_audits(database_url, demo, db):
    async with AsyncTestClient(app=_floor(database_url, signed_in=False)) as bare:
        assert (await bare.get("/floor/item/")).status_code == 200
        saved = await _patch(bare, f"/floor/item/{demo.lamp.id}", "name=Desk+lamp")
        assert saved.status_code == 200 and "Desk lamp" in saved.text
    async with db() as session:
        assert (await session.get(Item, demo.lamp.id)).name == "Desk lamp"
        assert (await session.scalars(select(AdminLogEntry))).all() == []
