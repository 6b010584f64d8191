"""No lost updates: two people edit one record; the second save sees the first and chooses."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import input_value, snapshot
from webapp.demo.models import Item

pytestmark = pytest.mark.anyio


def _version(html: str) -> str:
    return re.search(r'name="_version" value="([^"]+)"', html).group(1)


async def _item(db, item_id):
    async with db() as session:
        return await session.scalar(select(Item).where(Item.id == item_id))


async def test_two_editors_plain_forms(browser, demo, db):
    lamp = demo.lamp.id
    # Both open the edit form of the same version.
    first_form = (await browser.open(f"/admin/item/{lamp}/edit")).text
    second_form = (await browser.open(f"/admin/item/{lamp}/edit")).text
    assert _version(first_form) == _version(second_form) == "1"
    common = {
        "description": "",
        "quantity": "3",
        "status": "active",
        "available_from": "",
        "owner_id": str(demo.ada.id),
        "tags": ["", str(demo.red.id)],
    }
    saved = await browser.submit(
        f"/admin/item/{lamp}", {**common, "name": "Lamp by Ann", "price": "12.50", "_version": _version(first_form)}
    )
    assert saved.status_code == 303
    before = await snapshot(db)
    stale = await browser.submit(
        f"/admin/item/{lamp}", {**common, "name": "Lamp by Bob", "price": "99.00", "_version": _version(second_form)}
    )
    assert stale.status_code == 409
    html = stale.text
    assert "Someone else changed this item after you opened it." in html
    assert input_value(html, "field-name") == "Lamp by Bob", "your values are kept"
    assert "Saved meanwhile: Lamp by Ann" in html, "their values are shown beside yours"
    assert "Saved meanwhile: 12.50" in html
    assert _version(html) == "2", "saving again applies yours on top of theirs"
    assert await snapshot(db) == before, "nothing was overwritten"
    again = await browser.submit(
        f"/admin/item/{lamp}", {**common, "name": "Lamp by Bob", "price": "99.00", "_version": _version(html)}
    )
    assert again.status_code == 303
    lamp_now = await _item(db, lamp)
    assert (lamp_now.name, str(lamp_now.price), lamp_now.version) == ("Lamp by Bob", "99.00", 3)


async def test_two_editors_inline(htmx, demo, db):
    chair = demo.chair.id
    first_row = (await htmx.open(f"/admin/item/{chair}/edit")).text
    second_row = (await htmx.open(f"/admin/item/{chair}/edit")).text
    ok = await htmx.submit(
        f"/admin/item/{chair}", {"name": "Armchair", "_version": _version(first_row)}, method="PATCH"
    )
    assert ok.status_code == 200
    stale = await htmx.submit(
        f"/admin/item/{chair}", {"name": "Stool", "_version": _version(second_row)}, method="PATCH"
    )
    assert stale.status_code == 409
    assert stale.headers["hx-retarget"] == f"#item-{chair}"
    assert stale.headers["hx-reswap"] == "outerHTML"
    assert stale.text.lstrip().startswith(f'<tr id="item-{chair}" class="row-form"')
    assert "Saved meanwhile: Armchair" in stale.text
    assert input_value(stale.text, f"item-{chair}-name") == "Stool"
    assert (await _item(db, chair)).name == "Armchair"


async def test_a_write_racing_between_read_and_save_is_caught_by_the_version_column(browser, demo, db):
    lamp = demo.lamp.id
    form = (await browser.open(f"/admin/item/{lamp}/edit")).text
    async with db() as session:  # someone saves after our form check would have passed
        item = await session.get(Item, lamp)
        item.name = "Changed underneath"
        await session.commit()
    response = await browser.submit(f"/admin/item/{lamp}", {"name": "Mine", "_version": _version(form)})
    assert response.status_code == 409
    assert (await _item(db, lamp)).name == "Changed underneath"


async def test_models_without_a_version_column_use_a_digest_of_their_values(browser, superuser, db):
    first = (await browser.open(f"/admin/account/{superuser}/edit")).text
    token = _version(first)
    assert len(token) == 32
    changed = await browser.submit(
        f"/admin/account/{superuser}",
        {"username": "root", "is_active": "true", "is_superuser": "true", "_version": token},
    )
    assert changed.status_code == 303
    other = await browser.submit(f"/admin/account/{superuser}", {"username": "renamed", "_version": "0" * 32})
    assert other.status_code == 409
