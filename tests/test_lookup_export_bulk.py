"""The autocomplete lookup, exports of the current view, and bulk actions in one transaction."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.conftest import Admin, add_account, snapshot
from webapp.admin.models import AdminLogEntry
from webapp.demo.models import Item, Status, User, item_tag

pytestmark = pytest.mark.anyio


async def test_lookup_answers_fragments_and_json_paged(browser, demo, db):
    async with db() as session:
        session.add_all(User(username=f"ann{n:02d}", email=f"ann{n}@example.com") for n in range(25))
        await session.commit()
    fragment = await browser.open("/admin/user/lookup?q=ANN", HX_Request="true")
    assert fragment.status_code == 200
    assert fragment.text.count("data-lookup-option") == 20
    assert 'data-label="ann00"' in fragment.text and "More…" in fragment.text
    second = await browser.open("/admin/user/lookup?q=ann&page=2", HX_Request="true")
    assert second.text.count("data-lookup-option") == 5 and "More…" not in second.text
    as_json = await browser.client.get("/admin/user/lookup?q=ad", headers={"Accept": "application/json"})
    assert as_json.json() == {"results": [{"id": demo.ada.id, "label": "ada"}], "page": 1, "has_more": False}
    none = await browser.open("/admin/user/lookup?q=zzz", HX_Request="true")
    assert "No users match “zzz”." in none.text


async def test_export_is_the_current_view_with_formulas_defused(browser, demo, db):
    async with db() as session:
        session.add(
            Item(name='=HYPERLINK("http://x")', price=Decimal("1.50"), owner_id=demo.ada.id, status=Status.ACTIVE)
        )
        session.add(Item(name="@SUM(A1)", price=Decimal(2), owner_id=demo.alan.id))
        await session.commit()
    response = await browser.client.get("/admin/item/export.csv?status=active&sort=name")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="item.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:3] == ["Id", "Name", "Description"]
    names = [row[1] for row in rows[1:]]
    assert names == ['\'=HYPERLINK("http://x")', "Lamp"], "only active items, sorted, the formula quoted"
    assert "ada" in rows[2] and "red" in rows[2]
    lines = (await browser.client.get("/admin/item/export.jsonl?q=sum")).text.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["name"] == "@SUM(A1)" and record["price"] == "2.00" and record["tags"] == []
    assert "password" not in (await browser.client.get("/admin/account/export.csv")).text.lower()


async def test_export_needs_the_export_permission(client, db, demo):
    await add_account(db, "looker", permissions=("item.view",))
    person = Admin(client)
    await person.sign_in("looker")
    assert (await client.get("/admin/item/export.csv")).status_code == 403
    assert "Export CSV" not in (await person.open("/admin/item/")).text


async def test_bulk_delete_confirms_with_cascades_then_deletes_in_one_go(browser, demo, db):
    page = (await browser.open("/admin/user/")).text
    assert 'form="bulk-form"' in page and "Delete selected users" in page
    ids = [str(demo.ada.id), str(demo.alan.id)]
    confirm = await browser.submit("/admin/user/bulk", {"action": "delete", "ids": ids})
    assert confirm.status_code == 200
    assert "Delete 2 users?" in confirm.text and "2 items" in confirm.text
    done = await browser.submit("/admin/user/bulk", {"action": "delete", "ids": ids, "confirm": "yes"})
    assert done.status_code == 303
    assert "Deleted 2 users." in (await browser.open("/admin/user/")).text
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0
        assert await session.scalar(select(func.count()).select_from(Item)) == 0
        entries = list(await session.scalars(select(AdminLogEntry).where(AdminLogEntry.action == "delete")))
        # Each user's entry, and an entry for each item that went with them, tied to its owner's.
        users = {e.id: e.object_label for e in entries if e.model == "user"}
        assert sorted(users.values()) == ["ada", "alan"]
        items = {e.object_label: users[e.part_of_id] for e in entries if e.model == "item"}
        assert items == {"Lamp": "ada", "Chair": "alan"}


async def test_select_all_matching_and_the_archive_action(browser, demo, db):
    async with db() as session:
        session.add_all(Item(name=f"Old {n}", price=Decimal(1), owner_id=demo.ada.id) for n in range(5))
        await session.commit()
    confirm = await browser.submit("/admin/item/bulk", {"action": "archive", "select_all": "1", "q": "old"})
    assert "Archive selected items: 5 items?" in confirm.text
    done = await browser.submit(
        "/admin/item/bulk", {"action": "archive", "select_all": "1", "q": "old", "confirm": "yes"}
    )
    assert done.status_code == 303
    assert "Archived 5 items." in (await browser.open("/admin/item/")).text
    async with db() as session:
        statuses = set(await session.scalars(select(Item.status).where(Item.name.like("Old %"))))
        assert statuses == {Status.ARCHIVED}
        assert (await session.get(Item, demo.lamp.id)).status is Status.ACTIVE
        logged = await session.scalar(
            select(func.count()).select_from(AdminLogEntry).where(AdminLogEntry.action == "action:archive")
        )
        assert logged == 5


async def test_bulk_refusals_write_nothing(browser, demo, db, client):
    before = await snapshot(db)
    nothing = await browser.submit("/admin/item/bulk", {"action": "delete"})
    assert nothing.status_code == 303
    unknown = await browser.submit("/admin/item/bulk", {"action": "explode", "ids": [str(demo.lamp.id)]})
    assert unknown.status_code == 303
    assert await snapshot(db) == before
    await add_account(db, "reader", permissions=("item.view",))
    reader = Admin(client)
    await reader.sign_in("reader")
    before = await snapshot(db)
    forbidden = await reader.submit(
        "/admin/item/bulk", {"action": "delete", "ids": [str(demo.lamp.id)], "confirm": "yes"}
    )
    assert forbidden.status_code == 403
    assert await snapshot(db) == before
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(item_tag)) == 1
