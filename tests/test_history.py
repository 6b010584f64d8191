"""History: every change is logged with who, when and what; deletes can be undone and restored, changes undone."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import add_account, lamp_form, snapshot
from tests.html_check import html_problems
from webapp.admin.models import AdminLogEntry
from webapp.demo.models import Item, Tag, User

pytestmark = pytest.mark.anyio


async def _entries(db, model=None):
    async with db() as session:
        query = select(AdminLogEntry).order_by(AdminLogEntry.id)
        if model:
            query = query.where(AdminLogEntry.model == model)
        return list(await session.scalars(query))


async def test_create_update_delete_are_logged_with_who_and_what(browser, htmx, demo, db):
    created = await browser.submit("/admin/tag/", {"name": "green"})
    assert created.status_code == 303
    async with db() as session:
        green = await session.scalar(select(Tag).where(Tag.name == "green"))
    await htmx.submit(f"/admin/tag/{green.id}", {"name": "lime"}, method="PATCH")
    await htmx.submit(f"/admin/tag/{green.id}", {}, method="DELETE")
    entries = await _entries(db, "tag")
    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert {e.username for e in entries} == {"root"}
    assert entries[0].changes["name"] == [None, "green"]
    assert entries[1].changes == {"name": ["green", "lime"]}
    assert entries[2].snapshot["name"] == "lime" and entries[2].snapshot["id"] == green.id
    history = await browser.open(f"/admin/tag/{green.id}/history")
    assert history.status_code == 200
    assert "Update" in history.text and "green" in history.text and "lime" in history.text
    dashboard = await browser.open("/admin/")
    assert "Recent actions" in dashboard.text and "lime" in dashboard.text


async def test_a_refused_change_logs_nothing(browser, demo, db):
    await browser.submit("/admin/tag/", {"name": "red"})
    await browser.submit(f"/admin/item/{demo.lamp.id}", {"price": "-1"})
    assert await _entries(db) == []


async def test_undo_after_an_inline_delete_puts_the_row_back_with_its_links(htmx, demo, db):
    lamp = demo.lamp.id
    deleted = await htmx.submit(f"/admin/item/{lamp}", {}, method="DELETE")
    assert "was deleted." in deleted.text
    undo_url = re.search(r'hx-post="([^"]+/restore)"', deleted.text).group(1)
    entry = re.search(r'name="entry" value="(\d+)"', deleted.text).group(1)
    assert undo_url == f"/admin/item/{lamp}/restore"
    restored = await htmx.submit(undo_url, {"entry": entry})
    assert restored.status_code == 200
    assert restored.text.lstrip().startswith(f'<tr id="item-{lamp}">')
    assert "was restored." in restored.text
    async with db() as session:
        item = await session.get(Item, lamp)
        await session.refresh(item, ["tags"])
        assert item.name == "Lamp" and [t.name for t in item.tags] == ["red"]
    again = await htmx.submit(undo_url, {"entry": entry})
    assert again.status_code == 409
    assert "restored already" in again.text


async def test_plain_delete_message_offers_undo_and_history_offers_restore(browser, demo, db):
    await browser.submit(f"/admin/tag/{demo.blue.id}/delete", {})
    page = await browser.open("/admin/tag/")
    assert "The tag “blue” was deleted." in page.text and ">Undo</button>" in page.text
    history = await browser.open(f"/admin/tag/{demo.blue.id}/history")
    assert ">Restore</button>" in history.text
    entry = re.search(r'name="entry" value="(\d+)"', history.text).group(1)
    restored = await browser.submit(f"/admin/tag/{demo.blue.id}/restore", {"entry": entry})
    assert restored.status_code == 303
    assert restored.headers["location"] == f"/admin/tag/{demo.blue.id}"
    assert "The tag “blue” was restored." in (await browser.open(f"/admin/tag/{demo.blue.id}")).text


async def test_restore_is_refused_when_the_key_is_reused_or_a_related_row_is_gone(browser, demo, db):
    await browser.submit(f"/admin/item/{demo.chair.id}/delete", {})
    await browser.submit(f"/admin/user/{demo.alan.id}/delete", {})
    entries = {e.model: e for e in await _entries(db) if e.action == "delete"}
    before = await snapshot(db)
    gone_owner = await browser.submit(f"/admin/item/{demo.chair.id}/restore", {"entry": str(entries["item"].id)})
    assert gone_owner.status_code == 409
    assert "the owner it belonged to no longer exists" in gone_owner.text
    assert await snapshot(db) == before
    async with db() as session:
        session.add(User(id=demo.alan.id, username="squatter", email="s@example.com"))
        await session.commit()
    before = await snapshot(db)
    reused = await browser.submit(f"/admin/user/{demo.alan.id}/restore", {"entry": str(entries["user"].id)})
    assert reused.status_code == 409
    assert f"another user now has the key {demo.alan.id}" in reused.text
    assert await snapshot(db) == before


@pytest.mark.parametrize("entry", ["999", "", "abc", "1" * 5000, "\u0661\u0662", "-1", "1e3"])
@pytest.mark.parametrize("action", ["restore", "undo"])
async def test_restore_or_undo_of_an_entry_that_is_not_one_is_a_404(browser, demo, action, entry):
    response = await browser.submit(f"/admin/item/{demo.lamp.id}/{action}", {"entry": entry})
    assert response.status_code == 404


async def _lamp(db, demo):
    async with db() as session:
        lamp = await session.get(Item, demo.lamp.id)
        await session.refresh(lamp, ["tags"])
        return lamp


async def test_undo_of_a_change_puts_every_field_back_as_a_change_of_its_own(browser, demo, db):
    changed = lamp_form(demo, name="Desk lamp", price="14.00", owner_id=str(demo.alan.id), tags=["", str(demo.blue.id)])
    assert (await browser.submit(f"/admin/item/{demo.lamp.id}", {**changed, "_version": "1"})).status_code == 303
    (entry,) = await _entries(db, "item")
    assert entry.changes["tags"] == {"added": [demo.blue.id], "removed": [demo.red.id]}
    assert entry.changes["name"] == ["Lamp", "Desk lamp"]
    history = (await browser.open(f"/admin/item/{demo.lamp.id}/history")).text
    assert f"Added {demo.blue.id}; removed {demo.red.id}</td>" in history and html_problems(history) == []

    undone = await browser.submit(f"/admin/item/{demo.lamp.id}/undo", {"entry": str(entry.id)})
    assert undone.status_code == 303 and undone.headers["location"] == f"/admin/item/{demo.lamp.id}/history"
    lamp = await _lamp(db, demo)
    assert (lamp.name, str(lamp.price), lamp.owner_id) == ("Lamp", "12.50", demo.ada.id)
    assert [t.name for t in lamp.tags] == ["red"] and lamp.version == 3
    first, undo = await _entries(db, "item")
    assert first.restored and undo.action == "update" and undo.username == "root"
    assert undo.changes["name"] == ["Desk lamp", "Lamp"]
    assert undo.changes["tags"] == {"added": [demo.red.id], "removed": [demo.blue.id]}
    history = (await browser.open(undone.headers["location"])).text
    assert "The change to the item “Lamp” was undone." in history and "Undone since." in history


async def test_undo_is_refused_when_a_field_it_changed_has_changed_again(browser, demo, db):
    for name, version in (("Desk lamp", "1"), ("Floor lamp", "2")):
        saved = await browser.submit(f"/admin/item/{demo.lamp.id}", {"name": name, "_version": version})
        assert saved.status_code == 303
    first, _ = await _entries(db, "item")
    before = await snapshot(db)
    refused = await browser.submit(f"/admin/item/{demo.lamp.id}/undo", {"entry": str(first.id)})
    assert refused.status_code == 409
    assert "Cannot undo: the field “Name” has changed again since." in refused.text
    assert await snapshot(db) == before


async def test_undo_needs_the_change_permission_and_an_entry_of_the_record(browser, demo, db):
    saved = await browser.submit(f"/admin/item/{demo.lamp.id}", {"name": "Desk lamp", "_version": "1"})
    assert saved.status_code == 303
    (entry,) = await _entries(db, "item")
    assert (await browser.submit(f"/admin/item/{demo.chair.id}/undo", {"entry": str(entry.id)})).status_code == 404
    assert (await browser.submit(f"/admin/item/{demo.lamp.id}/undo", {"entry": "x"})).status_code == 404
    await add_account(db, "viewer", permissions=("item.view",))
    assert (await browser.sign_in("viewer")).status_code == 303, "the same browser, signed in as a viewer now"
    history = (await browser.open(f"/admin/item/{demo.lamp.id}/history")).text
    assert "Undo this change" not in history
    before = await snapshot(db)
    assert (await browser.submit(f"/admin/item/{demo.lamp.id}/undo", {"entry": str(entry.id)})).status_code == 403
    assert await snapshot(db) == before
