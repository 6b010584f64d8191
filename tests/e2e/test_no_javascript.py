"""With JavaScript off, the same links open whole pages that post plain forms and redirect (303) with a message."""

from __future__ import annotations

import re
from contextlib import contextmanager
from decimal import Decimal

from .support import cell, expect, unique


@contextmanager
def posting(page, status: int):
    """The form post the block makes answers `status` (a 303 is followed to a whole page)."""
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        yield
    assert answer.value.status == status, f"POST {answer.value.url} answered {answer.value.status}, not {status}"
    page.wait_for_load_state()


def search(page, text: str) -> None:
    """The search form is a plain GET form without JavaScript."""
    page.locator("#q").fill(text)
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"\?q="))


def test_create_on_a_whole_page(nojs_page, database):
    page = nojs_page
    page.goto("/admin/item/")
    assert page.evaluate("typeof window.htmx") == "undefined"
    page.get_by_role("link", name="Add item").click()
    expect(page).to_have_url(re.compile(r"/admin/item/new$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Add item")

    name = unique("Plain lamp")
    page.locator("#field-name").fill(name)
    page.locator("#field-price").fill("7.25")
    page.locator("#field-owner_id").select_option(label="alan02")
    page.locator("#field-tags").select_option(label=["blue", "gift"])
    with posting(page, 303):
        page.get_by_role("button", name="Save", exact=True).click()

    expect(page).to_have_url(re.compile(r"/admin/item/$"))
    expect(page.locator("#messages")).to_contain_text(f"The item “{name}” was added.")
    row = page.locator("#rows > tr").first
    expect(cell(row, "Name")).to_have_text(name)
    expect(cell(row, "Tags")).to_have_text("blue, gift")
    pk = int((row.get_attribute("id") or "").removeprefix("item-"))
    item = database.item(pk)
    assert (item.name, item.price, item.owner_id) == (name, Decimal("7.25"), 2)


def test_save_and_add_another_then_continue_editing(nojs_page, database):
    page = nojs_page
    page.goto("/admin/item/new")
    first = unique("Another kettle")
    page.locator("#field-name").fill(first)
    page.locator("#field-price").fill("1")
    page.locator("#field-owner_id").select_option(label="ada01")
    with posting(page, 303):
        page.get_by_role("button", name="Save and add another").click()
    expect(page).to_have_url(re.compile(r"/admin/item/new$"))
    expect(page.locator("#messages")).to_contain_text(f"The item “{first}” was added.")
    expect(page.locator("#field-name")).to_have_value("")

    second = unique("Continued kettle")
    page.locator("#field-name").fill(second)
    page.locator("#field-price").fill("2")
    page.locator("#field-owner_id").select_option(label="ada01")
    with posting(page, 303):
        page.get_by_role("button", name="Save and continue editing").click()
    expect(page).to_have_url(re.compile(r"/admin/item/\d+/edit$"))
    expect(page.locator("#messages")).to_contain_text(f"The item “{second}” was added.")
    expect(page.locator("#field-name")).to_have_value(second)


def test_refused_value_shows_its_message_next_to_the_field(nojs_page, database):
    page = nojs_page
    page.goto("/admin/item/new")
    name = unique("Too dear")
    page.locator("#field-name").fill(name)
    # The browser accepts it (no max on the input); Numeric(10, 2) allows 8 digits before the point.
    page.locator("#field-price").fill("123456789")
    page.locator("#field-owner_id").select_option(label="ada01")
    with posting(page, 422):
        page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".form-errors")).to_have_text("Please correct the error below.")
    error = page.locator("#field-price-error")
    expect(error).to_have_text("Ensure that there are no more than 8 digits before the decimal point.")
    expect(page.locator(".field.has-error")).to_contain_text("Price")
    expect(page.locator("#field-price")).to_have_attribute("aria-describedby", "field-price-error")
    expect(page.locator("#field-price")).to_have_value("123456789")
    expect(page.locator("#field-name")).to_have_value(name)

    page.goto("/admin/item/")
    search(page, name)
    expect(page.locator("#result-count")).to_have_text("0")


def test_duplicate_tag_name_is_refused_on_its_field(nojs_page):
    page = nojs_page
    page.goto("/admin/tag/new")
    page.locator("#field-name").fill("red")
    with posting(page, 422):
        page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#field-name-error")).to_be_visible()
    expect(page.locator("#field-name-error")).not_to_be_empty()
    expect(page.locator("#field-name")).to_have_value("red")


def test_edit_on_a_whole_page(nojs_page, database):
    page = nojs_page
    name = unique("Plain chair")
    pk = database.add_item(name, price="3.00")
    page.goto("/admin/item/")
    search(page, name)
    page.get_by_role("link", name=f"Edit {name}").click()
    expect(page).to_have_url(re.compile(rf"/admin/item/{pk}/edit$"))
    expect(page.locator("#field-name")).to_have_value(name)

    new_name = unique("Plain armchair")
    page.locator("#field-name").fill(new_name)
    page.locator("#field-price").fill("4.50")
    with posting(page, 303):
        page.get_by_role("button", name="Save", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/item/$"))
    expect(page.locator("#messages")).to_contain_text(f"The item “{new_name}” was changed.")
    item = database.item(pk)
    assert (item.name, item.price) == (new_name, Decimal("4.50"))

    page.goto(f"/admin/item/{pk}/edit")
    page.locator("#field-price").fill("-1")  # min=0 on the input, so the browser refuses it first
    page.get_by_role("button", name="Save", exact=True).click()
    assert page.evaluate("document.querySelector('#field-price').validity.rangeUnderflow")
    expect(page).to_have_url(re.compile(rf"/admin/item/{pk}/edit$"))


def test_delete_on_a_whole_page(nojs_page, database):
    page = nojs_page
    name = unique("Plain teapot")
    pk = database.add_item(name)
    page.goto(f"/admin/item/{pk}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Item “{name}”")
    page.get_by_role("link", name="Delete").click()
    expect(page).to_have_url(re.compile(rf"/admin/item/{pk}/delete$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Delete the item “{name}”?")

    page.get_by_role("link", name="No, take me back").click()
    expect(page).to_have_url(re.compile(rf"/admin/item/{pk}$"))
    assert database.item(pk) is not None

    page.get_by_role("link", name="Delete").click()
    with posting(page, 303):
        page.get_by_role("button", name="Yes, delete").click()
    expect(page).to_have_url(re.compile(r"/admin/item/$"))
    expect(page.locator("#messages")).to_contain_text(f"The item “{name}” was deleted.")
    assert database.item(pk) is None


def test_a_related_section_pages_by_whole_pages(nojs_page):
    page = nojs_page
    page.goto("/admin/user/1")
    section = page.locator("#related-items")
    section.locator('a[rel="next"]').click()
    expect(page).to_have_url(re.compile(r"/admin/user/1\?items_page=2&items_after="))
    expect(section.locator('[aria-current="page"]')).to_have_text(re.compile(r"^Page 2 of \d+$"))
    section.locator('a[rel="prev"]').click()
    expect(page).to_have_url(re.compile(r"/admin/user/1$"))
    expect(section.locator('[aria-current="page"]')).to_have_text(re.compile(r"^Page 1 of"))
