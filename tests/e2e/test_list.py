"""Search as you type, sorting and paging swap only the results, and keep the URL bookmarkable."""

from __future__ import annotations

import re
from decimal import Decimal

from .support import assert_no_page_load, column_texts, expect, mark, result_count, settled


def first_cells(page) -> list[str]:
    return column_texts(page, "Name")


def prices(page) -> list[Decimal]:
    return [Decimal(text.replace(",", "")) for text in column_texts(page, "Price")]


def test_search_as_you_type_then_back(page):
    page.goto("/admin/item/")
    mark(page)
    total = result_count(page)
    first_page = first_cells(page)
    assert len(first_page) == 50

    page.locator("#q").press_sequentially("bicycle 99", delay=30)

    expect(page).to_have_url(re.compile(r"/admin/item/\?(.*&)?q=bicycle(\+|%20)99(&|$)"))
    expect(page.locator(".result-summary")).to_contain_text("matching “bicycle 99”")
    names = first_cells(page)
    assert names, "no rows for a search that matches seeded items"
    assert all("bicycle 99" in name.lower() for name in names), names
    assert result_count(page) == len(names) < total
    assert_no_page_load(page)

    page.go_back()
    expect(page).to_have_url(re.compile(r"/admin/item/$"))
    expect(page.locator("#result-count")).to_have_text(f"{total:,}")
    expect(page.locator("#rows > tr")).to_have_count(50)
    assert first_cells(page) == first_page
    expect(page.locator("#q")).to_have_value("")
    assert_no_page_load(page)

    page.go_forward()
    expect(page).to_have_url(re.compile(r"q=bicycle(\+|%20)99"))
    expect(page.locator("#rows > tr")).to_have_count(len(names))


def test_sort_by_clicking_a_header(page):
    page.goto("/admin/item/")
    mark(page)
    header = page.locator("thead th", has_text="Price")
    expect(header).to_have_attribute("aria-sort", "none")

    header.get_by_role("link", name="Price").click()
    settled(page)
    expect(page).to_have_url(re.compile(r"[?&]sort=price(&|$)"))
    expect(header).to_have_attribute("aria-sort", "ascending")
    ascending = prices(page)
    assert ascending == sorted(ascending)
    assert len(ascending) == 50

    header.get_by_role("link", name="Price").click()
    settled(page)
    expect(page).to_have_url(re.compile(r"[?&]sort=-price(&|$)"))
    expect(header).to_have_attribute("aria-sort", "descending")
    descending = prices(page)
    assert descending == sorted(descending, reverse=True)
    assert descending[0] > ascending[-1]
    expect(page.locator("thead th", has_text="Name")).to_have_attribute("aria-sort", "none")
    assert_no_page_load(page)


def test_paging_through_the_pagination_links(page):
    page.goto("/admin/item/?sort=name")
    mark(page)
    first_page = first_cells(page)
    pages = page.get_by_role("navigation", name="Pages")
    expect(pages.locator("[aria-current=page]")).to_have_text("1")

    pages.get_by_role("link", name="2", exact=True).click()
    settled(page)
    expect(page).to_have_url(re.compile(r"[?&]page=2(&|$)"))
    expect(pages.locator("[aria-current=page]")).to_have_text("2")
    expect(page.locator(".result-summary")).to_contain_text("showing 51\u2013100")
    second_page = first_cells(page)
    assert len(second_page) == 50
    assert not set(second_page) & set(first_page)
    assert first_page[-1] <= second_page[0]

    # Next and Previous may page by key (after=/before= a cursor) rather than by number.
    pages.locator("a[rel=next]").click()
    settled(page)
    expect(page).to_have_url(re.compile(r"[?&]page=3(&|$)"))
    expect(page).to_have_url(re.compile(r"[?&]sort=name(&|$)"))
    expect(pages.locator("[aria-current=page]")).to_have_text(re.compile(r"^(Page )?3$"))
    third_page = first_cells(page)
    assert len(third_page) == 50
    assert second_page[-1] <= third_page[0]
    assert not set(third_page) & set(second_page)

    pages.locator("a[rel=prev]").click()
    settled(page)
    expect(page).to_have_url(re.compile(r"[?&]page=2(&|$)"))
    expect(pages.locator("[aria-current=page]")).to_have_text(re.compile(r"^(Page )?2$"))
    assert first_cells(page) == second_page
    assert_no_page_load(page)
