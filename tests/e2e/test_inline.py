"""Inline editing in the item list, with htmx: rows turn into inputs and back without a page load."""

from __future__ import annotations

from decimal import Decimal

from .support import assert_no_page_load, cell, expect, expect_count, mark, result_count, settled, unique


def open_list(page, query: str = "") -> None:
    page.goto(f"/admin/item/{query}")
    expect(page.locator("#rows")).to_be_visible()
    mark(page)


def test_edit_a_row_in_place_and_save_with_enter(page, database):
    name = unique("Inline lamp")
    pk = database.add_item(name, price="12.50")
    open_list(page)
    row = page.locator(f"#item-{pk}")

    row.get_by_role("link", name=f"Edit {name}").click()
    settled(page)
    expect(row).to_have_class("row-form")
    expect(page.locator(f"#item-{pk}-name")).to_be_focused()
    expect(page.locator(f"#item-{pk}-price")).to_have_value("12.50")

    new_name = unique("Renamed lamp")
    page.locator(f"#item-{pk}-name").fill(new_name)
    page.keyboard.press("Enter")
    settled(page)

    expect(row).not_to_have_class("row-form")
    expect(cell(row, "Name")).to_have_text(new_name)
    expect(row.get_by_role("link", name=f"Edit {new_name}")).to_be_visible()
    expect(page.locator("#messages")).to_contain_text(f"The item “{new_name}” was changed.")
    assert_no_page_load(page)

    assert database.item(pk).name == new_name
    page.reload()
    expect(cell(page.locator(f"#item-{pk}"), "Name")).to_have_text(new_name)


def test_escape_cancels_the_edit(page, database):
    name = unique("Escape kettle")
    pk = database.add_item(name)
    open_list(page)
    row = page.locator(f"#item-{pk}")

    row.get_by_role("link", name=f"Edit {name}").click()
    settled(page)
    expect(row).to_have_class("row-form")
    page.locator(f"#item-{pk}-name").fill("Something else entirely")
    page.keyboard.press("Escape")
    settled(page)

    expect(row).not_to_have_class("row-form")
    expect(cell(row, "Name")).to_have_text(name)
    expect(page.locator("#messages")).to_be_empty()
    assert_no_page_load(page)
    assert database.item(pk).name == name


def test_refused_value_shows_its_message_under_the_input(page, database):
    name = unique("Refused clock")
    pk = database.add_item(name, price="5.00")
    open_list(page)
    row = page.locator(f"#item-{pk}")

    row.get_by_role("link", name=f"Edit {name}").click()
    settled(page)
    price = page.locator(f"#item-{pk}-price")
    price.fill("-3")
    with page.expect_response(lambda r: r.request.method == "PATCH") as answer:
        row.locator("button.primary").click()
        settled(page)
    assert answer.value.status == 422

    error = row.locator(f"#item-{pk}-price-error")
    expect(error).to_have_text("Ensure this value is greater than or equal to 0.")
    expect(row).to_have_class("row-form")
    expect(price).to_have_value("-3")
    expect(price).to_have_attribute("aria-invalid", "true")
    expect(price).to_be_focused()
    assert_no_page_load(page)
    assert database.item(pk).price == Decimal("5.00")


def test_add_a_row_inline(page, database):
    open_list(page)
    before = result_count(page)

    page.get_by_role("link", name="Add item").click()
    settled(page)
    new_row = page.locator("#rows > tr").first
    expect(new_row).to_have_id("new-item")
    expect(page.locator("#new-item-name")).to_be_focused()

    name = unique("Inline teapot")
    page.locator("#new-item-name").fill(name)
    page.locator("#new-item-price").fill("19.95")
    page.locator("#new-item-owner_id").select_option(label="grace03")
    page.locator("#new-item button.primary").click()
    settled(page)

    expect(page.locator("#new-item")).to_have_count(0)
    created = page.locator("#rows > tr").first
    expect(cell(created, "Name")).to_have_text(name)
    expect(created).to_contain_text("19.95")
    expect(created).to_contain_text("grace03")
    expect_count(page, before + 1)
    expect(page.locator("#messages")).to_contain_text(f"The item “{name}” was added.")
    assert_no_page_load(page)

    pk = int((created.get_attribute("id") or "").removeprefix("item-"))
    item = database.item(pk)
    assert (item.name, item.price) == (name, Decimal("19.95"))


def test_escape_or_cancel_drops_the_new_row(page):
    open_list(page)
    add = page.get_by_role("link", name="Add item")
    add.click()
    settled(page)
    expect(page.locator("#new-item")).to_be_visible()
    page.keyboard.press("Escape")
    settled(page)
    expect(page.locator("#new-item")).to_have_count(0)

    add.click()
    settled(page)
    page.locator("#new-item").get_by_role("button", name="Cancel").click()
    settled(page)
    expect(page.locator("#new-item")).to_have_count(0)
    assert_no_page_load(page)


def test_delete_asks_in_the_row_then_removes_it(page, database):
    name = unique("Doomed chair")
    pk = database.add_item(name)
    keep = database.add_item(unique("Doomed chair"))
    open_list(page, "?q=Doomed+chair")
    before = result_count(page)
    row = page.locator(f"#item-{pk}")

    row.get_by_role("link", name=f"Delete {name}").click()
    settled(page)
    expect(row).to_have_class("row-confirm")
    expect(row).to_contain_text(f"Delete the item “{name}”? Undo puts it all back.")
    expect(row.get_by_role("button", name="Yes, delete")).to_be_focused()
    row.get_by_role("button", name="Yes, delete").click()
    settled(page)

    expect(row).to_have_count(0)
    expect(page.locator(f"#item-{keep}")).to_be_visible()
    expect_count(page, before - 1)
    expect(page.locator("#messages")).to_contain_text(f"The item “{name}” was deleted.")
    expect(page.locator("#messages").get_by_role("button", name="Undo")).to_be_focused()
    assert_no_page_load(page)
    assert database.item(pk) is None


def test_cancel_or_escape_on_the_delete_question_keeps_the_row(page, database):
    name = unique("Kept speaker")
    pk = database.add_item(name)
    open_list(page)
    before = result_count(page)
    row = page.locator(f"#item-{pk}")

    row.get_by_role("link", name=f"Delete {name}").click()
    settled(page)
    expect(row).to_have_class("row-confirm")
    row.get_by_role("button", name="Cancel").click()
    settled(page)
    expect(row).not_to_have_class("row-confirm")
    expect(cell(row, "Name")).to_have_text(name)

    row.get_by_role("link", name=f"Delete {name}").click()
    settled(page)
    expect(row).to_have_class("row-confirm")
    page.keyboard.press("Escape")
    settled(page)
    expect(row).not_to_have_class("row-confirm")
    expect(row.get_by_role("link", name=f"Edit {name}")).to_be_visible()

    expect_count(page, before)
    assert_no_page_load(page)
    assert database.item(pk) is not None


def test_edit_tags_inline(page, database):
    name = unique("Tagged lamp")
    pk = database.add_item(name, tags=("red",))
    open_list(page)
    row = page.locator(f"#item-{pk}")
    expect(cell(row, "Tags")).to_have_text("red")

    row.get_by_role("link", name=f"Edit {name}").click()
    settled(page)
    tags = page.locator(f"#item-{pk}-tags")
    expect(tags.locator("option:checked")).to_have_text(["red"])
    tags.select_option(label=["green", "sale"])
    row.get_by_role("button", name="Save").click()
    settled(page)

    expect(row).not_to_have_class("row-form")
    expect(cell(row, "Tags")).to_have_text("green, sale")
    expect(cell(row, "Tags").get_by_role("link")).to_have_text(["green", "sale"])
    assert_no_page_load(page)
    assert database.tag_names(pk) == ["green", "sale"]

    row.get_by_role("link", name=f"Edit {name}").click()
    settled(page)
    tags.select_option([])
    row.get_by_role("button", name="Save").click()
    settled(page)
    expect(cell(row, "Tags")).to_have_text("—")
    assert database.tag_names(pk) == []


def test_opening_a_row_keeps_the_page_where_it_is(page, database):
    name = unique("Steady lamp")
    pk = database.add_item(name)
    page.goto("/admin/item/")
    row = page.locator(f"#item-{pk}")
    before = page.evaluate("window.scrollY")
    row.get_by_role("link", name=f"Edit {name}").click()
    settled(page)
    expect(row).to_have_class("row-form")
    assert page.evaluate("window.scrollY") == before
    page.keyboard.press("Escape")
    settled(page)
    row.get_by_role("link", name=f"Delete {name}").click()
    settled(page)
    expect(row).to_have_class("row-confirm")
    assert page.evaluate("window.scrollY") == before


def test_focus_returns_to_the_edit_link_after_save_or_cancel(page, database):
    name = unique("Focused lamp")
    pk = database.add_item(name)
    page.goto("/admin/item/")
    row = page.locator(f"#item-{pk}")
    edit = row.get_by_role("link", name=f"Edit {name}")

    edit.click()
    settled(page)
    page.keyboard.press("Escape")
    settled(page)
    expect(row).not_to_have_class("row-form")
    expect(edit).to_be_focused(timeout=1000)

    edit.click()
    settled(page)
    new_name = unique("Refocused lamp")
    page.locator(f"#item-{pk}-name").fill(new_name)
    page.keyboard.press("Enter")
    settled(page)
    expect(page.locator("#messages")).to_contain_text(f"The item “{new_name}” was changed.")
    expect(row.get_by_role("link", name=f"Edit {new_name}")).to_be_focused(timeout=1000)
