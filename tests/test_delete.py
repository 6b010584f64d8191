"""Deleting records: a confirmation page and a POST without JavaScript, a confirmation row and DELETE with htmx."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import snapshot
from webapp.demo.models import Item, User, item_tag

pytestmark = pytest.mark.anyio


async def test_plain_delete_asks_then_deletes_and_redirects(browser, demo, db):
    confirm = await browser.open(f"/admin/item/{demo.lamp.id}/delete")
    assert confirm.status_code == 200
    assert "Delete the item “Lamp”?" in confirm.text
    assert f'action="/admin/item/{demo.lamp.id}/delete"' in confirm.text
    response = await browser.submit(f"/admin/item/{demo.lamp.id}/delete", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/item/"
    assert "The item “Lamp” was deleted." in (await browser.open("/admin/item/")).text
    async with db() as session:
        assert await session.get(Item, demo.lamp.id) is None
        assert await session.scalar(select(func.count()).select_from(item_tag)) == 0


async def test_deleting_a_user_deletes_their_items(browser, demo, db):
    response = await browser.submit(f"/admin/user/{demo.ada.id}/delete", {})
    assert response.status_code == 303
    async with db() as session:
        assert await session.get(User, demo.ada.id) is None
        assert await session.get(Item, demo.lamp.id) is None
        assert await session.get(Item, demo.chair.id) is not None


async def test_htmx_delete_confirms_in_the_row_then_removes_it(htmx, demo, db):
    confirm = await htmx.open(f"/admin/item/{demo.chair.id}/delete")
    assert confirm.text.lstrip().startswith(f'<tr id="item-{demo.chair.id}" class="row-confirm"')
    assert f'hx-delete="/admin/item/{demo.chair.id}"' in confirm.text
    response = await htmx.submit(f"/admin/item/{demo.chair.id}", {}, method="DELETE")
    assert response.status_code == 200
    assert "<tr" not in response.text
    assert '<span id="result-count" hx-swap-oob="true">1</span>' in response.text
    assert "The item “Chair” was deleted." in response.text
    async with db() as session:
        assert await session.get(Item, demo.chair.id) is None


async def test_deleting_a_missing_record_is_a_404_and_changes_nothing(browser, htmx, demo, db):
    before = await snapshot(db)
    assert (await browser.open("/admin/item/424242/delete")).status_code == 404
    assert (await browser.submit("/admin/item/424242/delete", {})).status_code == 404
    gone = await htmx.submit("/admin/item/424242", {}, method="DELETE")
    assert gone.status_code == 404
    assert "<html" not in gone.text
    assert "There is no item with the key “424242”." in gone.text
    assert await snapshot(db) == before


async def test_delete_without_csrf_token_is_refused(client, demo, db):
    before = await snapshot(db)
    await client.get("/admin/")
    response = await client.post(f"/admin/item/{demo.lamp.id}/delete", data={}, follow_redirects=False)
    assert response.status_code == 403
    wrong = await client.delete(f"/admin/item/{demo.lamp.id}", headers={"x-csrftoken": "forged"})
    assert wrong.status_code == 403
    assert await snapshot(db) == before
