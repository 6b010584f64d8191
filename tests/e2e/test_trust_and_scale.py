"""Undo, filters with back and forward, a related section paged in place, the owner autocomplete, bulk delete,
and two people editing one row."""

from __future__ import annotations

import re

from .support import VIEWPORT, assert_no_page_load, expect, expect_count, mark, result_count, settled, sign_in, unique


def test_undo_puts_a_deleted_row_back(page, database):
    name = unique("Regretted lamp")
    pk = database.add_item(name, tags=("red",))
    page.goto("/admin/item/?q=Regretted")
    mark(page)
    row = page.locator(f"#item-{pk}")
    row.get_by_role("link", name=f"Delete {name}").click()
    settled(page)
    row.get_by_role("button", name="Yes, delete").click()
    settled(page)
    expect(row).to_have_count(0)
    page.locator("#messages").get_by_role("button", name="Undo").click()
    settled(page)
    expect(page.locator(f"#item-{pk}")).to_be_visible()
    expect(page.locator("#messages")).to_contain_text(f"The item “{name}” was restored.")
    assert_no_page_load(page)
    assert database.tag_names(pk) == ["red"]


def test_filter_sort_and_page_then_back_and_forward(page):
    page.goto("/admin/item/")
    mark(page)
    states = [page.url]
    page.locator("aside.filters").get_by_role("link", name="active", exact=True).click()
    expect(page).to_have_url(re.compile(r"status=active"))
    active_count = result_count(page)
    states.append(page.url)
    page.locator("thead").get_by_role("link", name="Price").click()
    expect(page).to_have_url(re.compile(r"sort=price"))
    states.append(page.url)
    page.locator('nav.pagination a[rel="next"]').click()
    expect(page).to_have_url(re.compile(r"after="))
    states.append(page.url)
    assert_no_page_load(page)
    for url in reversed(states[:-1]):
        page.go_back()
        expect(page).to_have_url(url)
    expect(page.locator("#rows > tr")).to_have_count(50)
    for url in states[1:]:
        page.go_forward()
        expect(page).to_have_url(url)
    expect_count(page, active_count)


def test_a_related_section_pages_in_place_then_back_and_forward(page):
    """ada01 owns a couple of dozen seeded items (and whatever other tests add): two pages or more."""
    page.goto("/admin/user/1")
    mark(page)
    section = page.locator("#related-items")
    current = section.locator('[aria-current="page"]')
    expect(current).to_have_text(re.compile(r"^Page 1 of \d+$"))
    first = section.get_by_role("listitem").all_inner_texts()
    section.locator('a[rel="next"]').click()
    settled(page)
    expect(current).to_have_text(re.compile(r"^Page 2 of \d+$"))
    expect(page).to_have_url(re.compile(r"/admin/user/1\?items_page=2&items_after="))
    assert_no_page_load(page)
    second = section.get_by_role("listitem").all_inner_texts()
    assert second and not set(first) & set(second), "the next page's items, none of the first's"
    page.go_back()
    expect(current).to_have_text(re.compile(r"^Page 1 of"))
    assert section.get_by_role("listitem").all_inner_texts() == first
    page.go_forward()
    expect(current).to_have_text(re.compile(r"^Page 2 of"))


def test_pick_an_owner_through_the_autocomplete(page):
    page.goto("/admin/item/")
    mark(page)
    search = page.locator("#filter-owner_id-form-search")
    search.press_sequentially("ada0", delay=30)
    option = page.locator("#filter-owner_id-form-search-results [data-lookup-option]").first
    expect(option).to_be_visible()
    label = option.get_attribute("data-label")
    option.click()
    expect(page).to_have_url(re.compile(r"owner_id=\d+"))
    settled(page)
    owners = {text.strip() for text in page.locator("#rows > tr td:nth-child(7)").all_inner_texts()}
    assert owners == {label}, owners
    assert_no_page_load(page)


def test_bulk_delete_with_a_confirmation_page(page, database):
    names = [unique("Bulk stool") for _ in range(3)]
    keys = [database.add_item(name) for name in names]
    page.goto("/admin/item/?q=Bulk+stool")
    for key in keys[:2]:
        page.locator(f'input[name="ids"][value="{key}"]').check()
    page.select_option("#bulk-action", "delete")
    page.locator("#bulk-form").get_by_role("button", name="Go").click()
    expect(page.locator("h1")).to_have_text("Delete 2 items?")
    page.get_by_role("button", name="Yes, delete").click()
    expect(page.locator("#messages")).to_contain_text("Deleted 2 items.")
    assert database.item(keys[0]) is None and database.item(keys[1]) is None
    assert database.item(keys[2]) is not None


def test_a_stale_inline_edit_ends_in_the_conflict_view(context, chromium, server, database):
    name = unique("Contested kettle")
    pk = database.add_item(name)
    # Two browser contexts, each signed in with a session of its own.
    other = chromium.new_context(base_url=server.url, viewport=VIEWPORT)
    first, second = context.new_page(), other.new_page()
    second.goto("/admin/login")
    sign_in(second)
    for page in (first, second):
        page.goto("/admin/item/?q=Contested")
        page.locator(f"#item-{pk}").get_by_role("link", name=f"Edit {name}").click()
        settled(page)
    first.locator(f"#item-{pk}-name").fill("Kettle by Ann")
    first.locator(f"#item-{pk}-name").press("Enter")
    settled(first)
    expect(first.locator("#messages")).to_contain_text("was changed")
    second.locator(f"#item-{pk}-name").fill("Kettle by Bob")
    second.locator(f"#item-{pk}-name").press("Enter")
    settled(second)
    row = second.locator(f"#item-{pk}")
    expect(row).to_have_class("row-form")
    expect(row).to_contain_text("Someone else changed this item after you opened it.")
    expect(row).to_contain_text("Saved meanwhile: Kettle by Ann")
    expect(second.locator(f"#item-{pk}-name")).to_have_value("Kettle by Bob")
    assert database.item(pk).name == "Kettle by Ann"
    second.locator(f"#item-{pk}-name").press("Enter")
    settled(second)
    expect(second.locator(f"#item-{pk}")).not_to_have_class("row-form")
    assert database.item(pk).name == "Kettle by Bob"
    other.close()
