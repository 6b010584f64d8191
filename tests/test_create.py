"""Creating records: the whole-page form without JavaScript, and the inline row with htmx."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tests.conftest import field_error, input_value, snapshot
from webapp.demo.models import Item, Status, User

pytestmark = pytest.mark.anyio


async def test_create_form_has_a_widget_per_field_kind(browser, demo):
    page = await browser.open("/admin/item/new")
    html = page.text
    assert page.status_code == 200
    assert '<input type="text" id="field-name" name="name" value="" maxlength="200"' in html
    assert '<textarea id="field-description" name="description"' in html
    assert re.search(r'<input type="number" id="field-price" name="price" value="" step="0.01" min="0"', html)
    assert re.search(r'<input type="number" id="field-quantity" name="quantity" value="0" step="1" min="0"', html)
    assert '<option value="draft" selected>draft</option>' in html
    assert '<input type="date" id="field-available_from" name="available_from" value=""' in html
    assert f'<option value="{demo.ada.id}">ada</option>' in html
    assert re.search(r'<select id="field-tags" name="tags" multiple', html)
    assert 'name="id"' not in html and 'name="created_at"' not in html
    user_form = (await browser.open("/admin/user/new")).text
    assert '<input type="email" id="field-email" name="email"' in user_form
    assert (
        '<input type="hidden" name="is_active" value="false"><input type="checkbox" id="field-is_active"' in user_form
    )


async def test_plain_create_redirects_with_a_message(browser, demo, db):
    response = await browser.submit(
        "/admin/item/",
        {
            "name": "Kettle",
            "description": "Boils water",
            "price": "19.9",
            "quantity": "4",
            "status": "active",
            "available_from": "2026-03-01",
            "owner_id": str(demo.ada.id),
            "tags": ["", str(demo.red.id), str(demo.blue.id)],
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/item/"
    page = await browser.open("/admin/item/")
    assert "The item “Kettle” was added." in page.text
    async with db() as session:
        kettle = await session.scalar(select(Item).where(Item.name == "Kettle").options(selectinload(Item.tags)))
    assert kettle.price == Decimal("19.90") and kettle.quantity == 4 and kettle.status is Status.ACTIVE
    assert str(kettle.available_from) == "2026-03-01" and kettle.owner_id == demo.ada.id
    assert sorted(t.name for t in kettle.tags) == ["blue", "red"]
    # The message was shown once.
    assert "was added" not in (await browser.open("/admin/item/")).text


async def test_plain_create_uses_defaults_for_fields_not_posted(browser, demo, db):
    response = await browser.submit("/admin/item/", {"name": "Bare", "price": "1", "owner_id": str(demo.alan.id)})
    assert response.status_code == 303
    async with db() as session:
        bare = await session.scalar(select(Item).where(Item.name == "Bare"))
    assert bare.quantity == 0 and bare.status is Status.DRAFT and bare.description is None


async def test_save_and_add_another_and_continue(browser, demo, db):
    another = await browser.submit("/admin/tag/", {"name": "green", "_addanother": "1"})
    assert another.headers["location"] == "/admin/tag/new"
    again = await browser.submit("/admin/tag/", {"name": "teal", "_continue": "1"})
    async with db() as session:
        from webapp.demo.models import Tag

        teal = await session.scalar(select(Tag).where(Tag.name == "teal"))
    assert again.headers["location"] == f"/admin/tag/{teal.id}/edit"


async def test_extra_posted_fields_are_ignored(browser, demo, db):
    response = await browser.submit(
        "/admin/user/",
        {
            "username": "grace",
            "email": "grace@example.com",
            "is_active": "true",
            "id": "999",
            "created_at": "2000-01-01T00:00:00",
            "sa_orm_sentinel": "1",
            "password": "x",
        },
    )
    assert response.status_code == 303
    async with db() as session:
        grace = await session.scalar(select(User).where(User.username == "grace"))
    assert grace.id != 999 and grace.created_at.year >= 2026


async def test_htmx_create_returns_the_new_row_with_count_and_message(htmx, demo, db):
    form = await htmx.open("/admin/item/new")
    assert form.text.lstrip().startswith('<tr id="new-item" class="row-form"')
    assert "autofocus" in form.text
    response = await htmx.submit(
        "/admin/item/",
        {
            "name": "Teapot",
            "price": "7.25",
            "quantity": "1",
            "status": "draft",
            "available_from": "",
            "owner_id": str(demo.alan.id),
            "tags": ["", str(demo.blue.id)],
        },
    )
    assert response.status_code == 201
    async with db() as session:
        teapot = await session.scalar(select(Item).where(Item.name == "Teapot"))
    assert teapot is not None
    html = response.text
    assert "<html" not in html
    assert html.lstrip().startswith(f'<tr id="item-{teapot.id}">')
    assert '<span id="result-count" hx-swap-oob="true">3</span>' in html
    assert 'hx-swap-oob="innerHTML"' in html and "The item “Teapot” was added." in html


BAD_ITEMS = [
    ({"name": ""}, "name", "This field is required."),
    ({"name": "x" * 201}, "name", "Ensure this value has at most 200 characters (it has 201)."),
    ({"price": "abc"}, "price", "Enter a number."),
    ({"price": "-1"}, "price", "Ensure this value is greater than or equal to 0."),
    ({"price": "1.234"}, "price", "Ensure that there are no more than 2 decimal places."),
    (
        {"price": "123456789"},
        "price",
        "Ensure that there are no more than 8 digits before the decimal point.",
    ),
    ({"quantity": "abc"}, "quantity", "Enter a whole number."),
    ({"quantity": "1.5"}, "quantity", "Enter a whole number."),
    ({"quantity": "-2"}, "quantity", "Ensure this value is greater than or equal to 0."),
    ({"quantity": "99999999999"}, "quantity", "Ensure this value is between -2147483648 and 2147483647."),
    # A fuzzer's 5,000 Arabic-Indic digits: past Python's int() limit, a message and not a 500.
    ({"quantity": "٩" * 5000}, "quantity", "Ensure this value is between -2147483648 and 2147483647."),
    ({"quantity": "0" * 5000 + "7" * 11}, "quantity", "Ensure this value is between -2147483648 and 2147483647."),
    ({"price": "٩" * 5000}, "price", "Ensure that there are no more than 8 digits before the decimal point."),
    ({"available_from": "2026-02-30"}, "available_from", "Enter a valid date (YYYY-MM-DD)."),
    ({"status": "sold"}, "status", "Select a valid choice. sold is not one of the available choices."),
    (
        {"owner_id": "999999"},
        "owner_id",
        "Select a valid choice. 999999 is not one of the available choices.",
    ),
    ({"owner_id": "abc"}, "owner_id", "Select a valid choice. abc is not one of the available choices."),
    ({"owner_id": ""}, "owner_id", "This field is required."),
    ({"tags": ["", "424242"]}, "tags", "Select a valid choice. 424242 is not one of the available choices."),
]


@pytest.mark.parametrize(
    ("change", "field", "message"), BAD_ITEMS, ids=[b[1] + ":" + str(b[0])[:30] for b in BAD_ITEMS]
)
async def test_bad_item_input_is_refused_next_to_its_field(browser, htmx, demo, db, change, field, message):
    good = {
        "name": "Clock",
        "price": "3.50",
        "quantity": "2",
        "status": "draft",
        "owner_id": str(demo.ada.id),
    }
    before = await snapshot(db)
    posted = {**good, **change}
    page = await browser.submit("/admin/item/", posted)
    assert page.status_code == 422
    assert "<!doctype html>" in page.text
    assert field_error(page.text, f"field-{field}") == message
    # What was typed is kept.
    if field in {"name", "price", "quantity", "available_from"} and isinstance(change[field], str):
        assert input_value(page.text, f"field-{field}") == change[field]
    row = await htmx.submit("/admin/item/", posted)
    assert row.status_code == 422
    assert row.text.lstrip().startswith('<tr id="new-item"')
    assert field_error(row.text, f"new-item-{field}") == message
    assert await snapshot(db) == before


async def test_missing_required_fields_are_each_reported(browser, demo, db):
    before = await snapshot(db)
    page = await browser.submit("/admin/item/", {})
    assert page.status_code == 422
    for name in ("name", "price", "owner_id"):
        assert field_error(page.text, f"field-{name}") == "This field is required."
    assert field_error(page.text, "field-quantity") is None
    assert await snapshot(db) == before


async def test_bad_email_and_duplicate_unique_values_on_create(browser, htmx, demo, db):
    before = await snapshot(db)
    bad_email = await browser.submit("/admin/user/", {"username": "new", "email": "not-an-email", "is_active": "true"})
    assert bad_email.status_code == 422
    assert field_error(bad_email.text, "field-email") == "Enter a valid email address."
    duplicate = await browser.submit("/admin/user/", {"username": "ada", "email": "other@example.com"})
    assert duplicate.status_code == 422
    assert field_error(duplicate.text, "field-username") == "A user with this username already exists."
    assert input_value(duplicate.text, "field-email") == "other@example.com"
    duplicate_email = await htmx.submit("/admin/user/", {"username": "newbie", "email": "ada@example.com"})
    assert duplicate_email.status_code == 422
    assert field_error(duplicate_email.text, "new-user-email") == "A user with this email already exists."
    assert await snapshot(db) == before


async def test_script_in_a_name_is_escaped_everywhere(browser, htmx, demo, db):
    payload = "<script>alert(1)</script>"
    response = await browser.submit("/admin/item/", {"name": payload, "price": "1", "owner_id": str(demo.ada.id)})
    assert response.status_code == 303
    async with db() as session:
        item = await session.scalar(select(Item).where(Item.name == payload))
    pages = [
        await browser.open("/admin/item/"),
        await browser.open(f"/admin/item/{item.id}"),
        await browser.open(f"/admin/item/{item.id}/edit"),
        await browser.open(f"/admin/item/{item.id}/delete"),
        await htmx.open(f"/admin/item/{item.id}/edit"),
        await htmx.open(f"/admin/item/{item.id}"),
    ]
    for page in pages:
        assert payload not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
