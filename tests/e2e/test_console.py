"""No page type logs a JavaScript error or throws, with JavaScript on or off.

Chromium's own "Failed to load resource: … 404/409/422" lines are expected answers and ignored.
"""

from __future__ import annotations

import re

from .support import expect, settled, unique

# The item pages with JavaScript on are visited (and watched) by the accessibility checks too.
OTHER_PAGES = [
    "/admin/item/?q=lamp&sort=-price&page=2&per_page=25",
    "/admin/item/?q=nothing-matches-this",
    "/admin/user/",
    "/admin/tag/",
    "/admin/user/new",
    "/admin/tag/new",
    "/admin/user/1",
    "/admin/user/1/edit",
    "/admin/tag/1",
    "/admin/tag/1/edit",
    "/admin/no-such-model/",
]
ITEM_PAGES = [
    "/admin/",
    "/admin/item/",
    "/admin/item/{pk}",
    "/admin/item/{pk}/edit",
    "/admin/item/{pk}/delete",
    "/admin/item/{pk}/history",
    "/admin/item/99999999",
]


def visit(page, urls: list[str], pk: int) -> None:
    for url in urls:
        page.goto(url.format(pk=pk))
        expect(page.locator("main h1")).to_be_visible()


def submit_refused_form(page) -> None:
    """A form answered with 422: a whole page, with JavaScript on or off."""
    page.goto("/admin/item/new")
    page.locator("#field-name").fill("Console check")
    page.locator("#field-price").fill("123456789")
    page.locator("#field-owner_id").select_option(label="ada01")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#field-price-error")).to_be_visible()


def test_no_errors_on_any_page(page, js_errors, database):
    name = unique("Console lamp")
    pk = database.add_item(name, tags=("red", "blue"), description="Line one.\nLine two.")
    visit(page, OTHER_PAGES, pk)
    submit_refused_form(page)

    # And every fragment: inline edit with a refused value, cancel, add, delete question, search, sort, paging.
    page.goto("/admin/item/")
    row = page.locator(f"#item-{pk}")
    row.get_by_role("link", name=f"Edit {name}").click()
    settled(page)
    page.locator(f"#item-{pk}-price").fill("-3")
    page.keyboard.press("Enter")
    settled(page)
    expect(page.locator(f"#item-{pk}-price-error")).to_be_visible()
    page.keyboard.press("Escape")
    settled(page)
    expect(row).not_to_have_class("row-form")
    page.get_by_role("link", name="Add item").click()
    settled(page)
    page.locator("#new-item button.primary").click()
    settled(page)
    expect(page.locator("#new-item .field-error").first).to_be_visible()
    page.keyboard.press("Escape")
    settled(page)
    row.get_by_role("link", name=f"Delete {name}").click()
    settled(page)
    row.get_by_role("button", name="Cancel").click()
    settled(page)
    page.locator("#q").fill("lamp")
    expect(page).to_have_url(re.compile(r"q=lamp"))
    page.locator("thead").get_by_role("link", name="Price").click()
    settled(page)
    expect(page).to_have_url(re.compile(r"sort=price"))
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="2", exact=True).click()
    settled(page)
    expect(page).to_have_url(re.compile(r"page=2"))
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"page=2"))

    assert js_errors.found == []


def test_no_errors_without_javascript(nojs_page, js_errors, database):
    pk = database.add_item(unique("Console chair"))
    visit(nojs_page, ITEM_PAGES + OTHER_PAGES, pk)
    submit_refused_form(nojs_page)
    assert js_errors.found == []


def test_errors_would_be_caught(page, js_errors):
    """The watcher itself: a console error and an uncaught exception are both reported."""
    page.goto("/admin/")
    page.evaluate("console.error('something broke')")
    page.evaluate("setTimeout(() => { throw new Error('boom'); })")
    page.wait_for_timeout(100)
    assert any("something broke" in line for line in js_errors.found), js_errors.found
    assert any("boom" in line for line in js_errors.found), js_errors.found
    js_errors.found.clear()
