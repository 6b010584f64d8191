"""Changing records: the whole-page edit form without JavaScript, and the inline edit row with htmx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from tests.conftest import field_error, input_value, snapshot
from webapp.demo.models import Item, Status, User

pytestmark = pytest.mark.anyio


async def _item(db, item_id):
    async with db() as session:
        return await session.scalar(select(Item).where(Item.id == item_id).options(selectinload(Item.tags)))


async def test_edit_form_shows_current_values_and_read_only_fields(browser, demo):
    page = await browser.open(f"/admin/item/{demo.lamp.id}/edit")
    assert page.status_code == 200
    assert input_value(page.text, "field-name") == "Lamp"
    assert input_value(page.text, "field-price") == "12.50"
    assert f'<option value="{demo.ada.id}" selected>ada</option>' in page.text
    assert f'<option value="{demo.red.id}" selected>red</option>' in page.text
    assert '<option value="active" selected>active</option>' in page.text
    assert "<dt>Created at</dt>" in page.text
    assert 'name="created_at"' not in page.text


async def test_plain_update_saves_and_redirects_with_a_message(browser, demo, db):
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)  # MariaDB keeps whole seconds: room to see the change
    async with db() as session:
        await session.execute(
            update(Item).where(Item.id == demo.lamp.id).values(created_at=an_hour_ago, updated_at=an_hour_ago)
        )
        await session.commit()
    response = await browser.submit(
        f"/admin/item/{demo.lamp.id}",
        {
            "name": "Desk lamp",
            "description": "",
            "price": "15",
            "quantity": "0",
            "status": "archived",
            "available_from": "2026-05-04",
            "owner_id": str(demo.alan.id),
            "tags": [""],
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/item/"
    assert "The item “Desk lamp” was changed." in (await browser.open("/admin/item/")).text
    lamp = await _item(db, demo.lamp.id)
    assert (lamp.name, lamp.price, lamp.quantity, lamp.status) == ("Desk lamp", Decimal("15.00"), 0, Status.ARCHIVED)
    assert lamp.owner_id == demo.alan.id
    assert lamp.tags == []
    assert lamp.updated_at > lamp.created_at


async def test_save_and_continue_editing_returns_to_the_form(browser, demo):
    response = await browser.submit(f"/admin/tag/{demo.red.id}", {"name": "crimson", "_continue": "1"})
    assert response.headers["location"] == f"/admin/tag/{demo.red.id}/edit"


async def test_unchecking_a_checkbox_is_saved(browser, demo, db):
    # A browser posts the hidden "false" and nothing for the unchecked box.
    response = await browser.submit(
        f"/admin/user/{demo.ada.id}",
        {"username": "ada", "email": "ada@example.com", "full_name": "", "is_active": "false"},
    )
    assert response.status_code == 303
    async with db() as session:
        ada = await session.get(User, demo.ada.id)
    assert ada.is_active is False
    assert ada.full_name is None


async def test_htmx_edit_row_then_save_returns_the_display_row(htmx, demo, db):
    row = await htmx.open(f"/admin/item/{demo.lamp.id}/edit")
    assert row.status_code == 200
    html = row.text
    assert html.lstrip().startswith(f'<tr id="item-{demo.lamp.id}" class="row-form"')
    assert "<html" not in html
    assert input_value(html, f"item-{demo.lamp.id}-name") == "Lamp"
    assert 'aria-label="Name"' in html
    assert f'hx-patch="/admin/item/{demo.lamp.id}"' in html
    assert "Escape" in html

    saved = await htmx.submit(
        f"/admin/item/{demo.lamp.id}",
        {"name": "Floor lamp", "price": "99.99", "tags": ["", str(demo.blue.id)]},
        method="PATCH",
    )
    assert saved.status_code == 200
    assert saved.text.lstrip().startswith(f'<tr id="item-{demo.lamp.id}">')
    assert "Floor lamp" in saved.text
    assert "The item “Floor lamp” was changed." in saved.text
    lamp = await _item(db, demo.lamp.id)
    # PATCH changes only what was sent.
    assert (lamp.name, lamp.price, lamp.quantity, lamp.status) == ("Floor lamp", Decimal("99.99"), 3, Status.ACTIVE)
    assert [t.name for t in lamp.tags] == ["blue"]


async def test_put_is_accepted_like_post(htmx, demo, db):
    response = await htmx.submit(f"/admin/tag/{demo.blue.id}", {"name": "navy"}, method="PUT")
    assert response.status_code == 200
    assert "navy" in response.text


async def test_htmx_rejected_value_shows_under_its_input_in_the_row(htmx, demo, db):
    before = await snapshot(db)
    response = await htmx.submit(
        f"/admin/item/{demo.lamp.id}", {"name": "Lamp", "price": "-5", "quantity": "x"}, method="PATCH"
    )
    assert response.status_code == 422
    html = response.text
    assert html.lstrip().startswith(f'<tr id="item-{demo.lamp.id}" class="row-form"')
    assert field_error(html, f"item-{demo.lamp.id}-price") == "Ensure this value is greater than or equal to 0."
    assert field_error(html, f"item-{demo.lamp.id}-quantity") == "Enter a whole number."
    assert input_value(html, f"item-{demo.lamp.id}-price") == "-5"
    assert await snapshot(db) == before


async def test_duplicate_unique_value_on_edit(browser, htmx, demo, db):
    before = await snapshot(db)
    page = await browser.submit(
        f"/admin/user/{demo.alan.id}", {"username": "ada", "email": "alan@example.com", "is_active": "true"}
    )
    assert page.status_code == 422
    assert field_error(page.text, "field-username") == "A user with this username already exists."
    assert input_value(page.text, "field-username") == "ada"
    row = await htmx.submit(f"/admin/user/{demo.alan.id}", {"email": "ada@example.com"}, method="PATCH")
    assert row.status_code == 422
    assert field_error(row.text, f"user-{demo.alan.id}-email") == "A user with this email already exists."
    tag = await htmx.submit(f"/admin/tag/{demo.blue.id}", {"name": "red"}, method="PATCH")
    assert field_error(tag.text, f"tag-{demo.blue.id}-name") == "A tag with this name already exists."
    assert await snapshot(db) == before


async def test_posted_fields_that_are_not_in_the_form_are_ignored_on_edit(browser, demo, db):
    response = await browser.submit(
        f"/admin/item/{demo.chair.id}", {"id": "12345", "created_at": "1999-01-01T00:00:00", "name": "Stool"}
    )
    assert response.status_code == 303
    chair = await _item(db, demo.chair.id)
    assert chair.name == "Stool"
    assert chair.created_at.year >= 2026
    assert await _item(db, 12345) is None


async def test_editing_a_missing_record_is_a_404(browser, htmx, demo, db):
    before = await snapshot(db)
    assert (await browser.open("/admin/item/999999/edit")).status_code == 404
    assert (await browser.submit("/admin/item/999999", {"name": "x"})).status_code == 404
    assert (await htmx.submit("/admin/item/999999", {"name": "x"}, method="PATCH")).status_code == 404
    assert (await browser.open("/admin/item/not-a-number/edit")).status_code == 404
    assert await snapshot(db) == before
