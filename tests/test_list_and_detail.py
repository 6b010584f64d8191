"""Reading: the dashboard, list pages (search, sort, pages) and detail pages, as whole pages and as fragments."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.conftest import count_statements, page_link, related_section
from webapp.demo.models import Item, Status, Tag

pytestmark = pytest.mark.anyio


async def test_dashboard_lists_each_model_with_its_count(browser, demo):
    page = await browser.open("/admin/")
    assert page.status_code == 200
    html = page.text
    for slug, name, count in (("user", "Users", 2), ("item", "Items", 2), ("tag", "Tags", 2)):
        assert re.search(rf'<a href="/admin/{slug}/">{name}</a></th>\s*<td>{count}</td>', html)


async def test_list_page_shows_rows_with_related_labels(browser, demo):
    page = await browser.open("/admin/item/")
    assert page.status_code == 200
    assert page.text.startswith("<!doctype html>")
    assert page.headers["vary"].lower().startswith("hx-request") or "HX-Request" in page.headers["vary"]
    row = re.search(rf'<tr id="item-{demo.lamp.id}">.*?</tr>', page.text, re.S).group(0)
    assert ">Lamp</a>" in row
    assert f'<a href="/admin/user/{demo.ada.id}">ada</a>' in row
    assert f'<a href="/admin/tag/{demo.red.id}">red</a>' in row
    assert "12.50" in row and "active" in row
    assert '<span id="result-count">2</span>' in page.text


async def test_list_fragment_for_htmx_is_not_a_whole_page(htmx, demo):
    page = await htmx.open("/admin/item/?q=lam")
    assert page.status_code == 200
    assert "<html" not in page.text and "<body" not in page.text
    assert "Lamp" in page.text and "Chair" not in page.text
    assert "HX-Request" in page.headers["vary"]


async def test_history_restore_gets_the_whole_page(htmx, demo):
    page = await htmx.open("/admin/item/", HX_History_Restore_Request="true")
    assert page.text.startswith("<!doctype html>")


async def test_search_is_case_insensitive_and_literal(browser, demo, db):
    async with db() as session:
        session.add(Item(name="100% cotton_shirt", price=Decimal(1), owner_id=demo.ada.id))
        await session.commit()
    assert "Lamp" in (await browser.open("/admin/item/?q=LAMP")).text
    percent = (await browser.open("/admin/item/?q=%25")).text
    assert "100% cotton_shirt" in percent and "Lamp" not in percent
    underscore = (await browser.open("/admin/item/?q=n_s")).text
    assert "cotton_shirt" in underscore and "Lamp" not in underscore
    tags = await browser.open("/admin/tag/?q=RE")
    assert tags.status_code == 200
    assert ">red</a>" in tags.text and ">blue</a>" not in tags.text
    none = await browser.open("/admin/item/?q=zzz")
    assert "No items match “zzz”." in none.text


async def test_the_search_box_sends_its_term_to_the_models_list(browser, demo):
    page = (await browser.open("/admin/item/?status=active")).text
    form = re.search(r'<form class="search"[^>]*>', page)
    assert form is not None
    assert 'action="/admin/item/"' in form.group(0) and 'hx-get="/admin/item/"' in form.group(0)


async def test_sort_ascending_descending_and_unknown_key(browser, demo):
    ascending = (await browser.open("/admin/item/?sort=name")).text
    assert ascending.index(">Chair<") < ascending.index(">Lamp<")
    assert 'aria-sort="ascending"' in ascending
    descending = (await browser.open("/admin/item/?sort=-name")).text
    assert descending.index(">Lamp<") < descending.index(">Chair<")
    bad = await browser.open("/admin/item/?sort=password;drop")
    assert bad.status_code == 400
    assert "Cannot sort by" in bad.text and "<!doctype html>" in bad.text


async def test_pages_and_malformed_page_parameters(browser, demo, db):
    async with db() as session:
        session.add_all(
            Item(name=f"Bulk {n:03d}", price=Decimal(1), owner_id=demo.ada.id, status=Status.DRAFT) for n in range(30)
        )
        await session.commit()
    first = (await browser.open("/admin/item/?per_page=25&sort=name")).text
    second = (await browser.open("/admin/item/?per_page=25&sort=name&page=2")).text
    first_ids = set(re.findall(r'<tr id="item-(\d+)">', first))
    second_ids = set(re.findall(r'<tr id="item-(\d+)">', second))
    assert len(first_ids) == 25 and len(second_ids) == 7 and not first_ids & second_ids
    beyond = await browser.open("/admin/item/?per_page=25&page=99")
    assert beyond.status_code == 200 and 'aria-current="page">2<' in beyond.text
    for bad in ("page=abc", "per_page=-3", "page=1e9"):
        response = await browser.open(f"/admin/item/?{bad}")
        assert response.status_code == 400, bad
        assert "must be a whole number" in response.text


async def test_links_leave_out_page_one_and_the_default_page_size_and_keep_a_chosen_one(browser, demo, db):
    async with db() as session:
        session.add_all(Item(name=f"Bulk {n:03d}", price=Decimal(1), owner_id=demo.ada.id) for n in range(60))
        await session.commit()
    default = (await browser.open("/admin/item/?sort=name&page=2")).text
    hrefs = re.findall(r'href="(/admin/item/\?[^"]*)"', default)
    assert '/admin/item/?sort=name">1</a>' in default, "page 1 is the view without a page"
    assert hrefs and not [h for h in hrefs if "per_page" in h or "page=1&" in h or h.endswith("page=1")], hrefs
    assert 'name="per_page" value=' not in default
    asked_for_default = (await browser.open("/admin/item/?sort=name&per_page=50&page=2")).text
    assert "per_page" not in "".join(re.findall(r'href="(/admin/item/\?[^"]*)"', asked_for_default))
    chosen = (await browser.open("/admin/item/?sort=name&per_page=25&page=2")).text
    assert '/admin/item/?sort=name&amp;per_page=25">1</a>' in chosen
    assert 'href="/admin/item/?sort=name&amp;per_page=25&amp;page=3"' in chosen
    assert '<input type="hidden" name="per_page" value="25">' in chosen
    assert (
        len(re.findall(r'<tr id="item-', (await browser.open("/admin/item/?sort=name&per_page=25&page=3")).text)) == 12
    )


async def test_detail_page_and_row_fragment(browser, htmx, demo):
    page = await browser.open(f"/admin/item/{demo.lamp.id}")
    assert page.status_code == 200
    assert "Lamp" in page.text and "<dt>Owner</dt>" in page.text and "Created at" in page.text
    row = await htmx.open(f"/admin/item/{demo.lamp.id}")
    assert row.text.lstrip().startswith(f'<tr id="item-{demo.lamp.id}">')


async def test_list_runs_the_same_number_of_statements_for_any_number_of_rows(browser, demo, db):
    await browser.open("/admin/item/")  # the first page of a session also writes the session back
    with count_statements() as few:
        assert (await browser.open("/admin/item/")).status_code == 200
    async with db() as session:
        tags = [await session.get(Tag, demo.red.id), await session.get(Tag, demo.blue.id)]
        session.add_all(
            Item(
                name=f"Item {n}",
                price=Decimal(2),
                owner_id=(demo.ada.id, demo.alan.id)[n % 2],
                tags=[tags[n % 2]],
            )
            for n in range(48)
        )
        await session.commit()
    with count_statements() as many:
        page = await browser.open("/admin/item/")
    assert page.text.count('<tr id="item-') == 50
    assert len(many) == len(few), many


async def test_dashboard_draws_records_created_per_day_as_svg(browser, demo):
    page = (await browser.open("/admin/?chart=item")).text
    assert 'role="img" aria-labelledby="chart-title chart-summary"' in page
    assert page.count("<rect ") == 30
    assert "2 items created in the last 30 days; the busiest day was" in page
    tags = (await browser.open("/admin/?chart=tag")).text
    assert "Tags created per day" in tags and '<option value="tag" selected>' in tags
    unknown = await browser.open("/admin/?chart=nope")
    assert unknown.status_code == 200


async def test_a_record_with_many_related_records_names_a_few_and_counts_the_rest(browser, demo, db):
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    async with db() as session:
        many = [Tag(name=f"tag {n:02d}") for n in range(60)]
        session.add_all(many)
        lamp = await session.scalar(select(Item).where(Item.id == demo.lamp.id).options(selectinload(Item.tags)))
        lamp.tags = many
        await session.commit()
    listing = (await browser.open("/admin/item/")).text
    row = re.search(rf'<tr id="item-{demo.lamp.id}">.*?</tr>', listing, re.S).group(0)
    tag_links = re.compile(r'href="/admin/tag/\d+"')
    assert len(tag_links.findall(row)) == 3 and " and 57 more</td>" in row
    detail = related_section((await browser.open(f"/admin/item/{demo.lamp.id}")).text, "tags")
    assert len(tag_links.findall(detail)) == 20 and "Tags <small>(60)</small>" in detail, "a page of them"
    assert page_link(detail, "next") is not None
    fragment = (await browser.open(f"/admin/item/{demo.lamp.id}", HX_Request="true")).text
    assert len(tag_links.findall(fragment)) == 3, "the row fragment draws the list's cell"
