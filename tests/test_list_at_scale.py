"""Lists that stay cheap: filters in the URL, capped counts, keyset pages, related sort and search, and a
fixed number of SQL statements per page whatever the number of rows."""

from __future__ import annotations

import base64
import json
import re
from datetime import date
from decimal import Decimal
from urllib.parse import quote

import pytest
from markupsafe import escape
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import selectinload

from tests.conftest import cap_counts, count_statements
from webapp.admin import AdminPlugin, list_page, listing
from webapp.demo.models import Item, Status, Tag, User

pytestmark = pytest.mark.anyio


def _over(html: str, cap: int) -> bool:
    """Whether the list says it has more than `cap` rows: "N+", or the database's estimate when it has one."""
    return f"{cap}+</span> items" in html or re.search(r"about [\d,]+</span> items", html) is not None


def _ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="item-(\d+)">', html)]


def _counts(statements: list[str]) -> list[str]:
    """The statements that count a view's rows or its filter choices; not the one that counts each listed row's
    tags over a window (webapp.admin.samples)."""
    return [s for s in statements if "count(" in s.lower() and " OVER (" not in s]


ITEM_COLUMNS = ("select", "name", "price", "quantity", "status", "available_from", "owner_id", "tags", "actions")


def _column(html: str, name: str) -> list[str]:
    """One column's cell contents, row by row (the item list: a checkbox cell, then list_display)."""
    rows = re.findall(r'<tr id="item-\d+">(.*?)</tr>', html, re.S)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[ITEM_COLUMNS.index(name)] for row in rows]


@pytest.fixture
async def many(db, demo):
    """60 more items across owners, statuses, prices and dates."""
    async with db() as session:
        await session.execute(
            insert(Item),
            [
                {
                    "name": f"Widget {n:02d}",
                    "price": Decimal(n),
                    "quantity": n % 7,
                    "owner_id": (demo.ada.id, demo.alan.id)[n % 2],
                    "status": list(Status)[n % 3],
                    "available_from": date(2026, 1 + n % 12, 1 + n % 28),
                    "version": 1,
                }
                for n in range(60)
            ],
        )
        await session.commit()
    return demo


async def test_filters_by_kind_combine_with_search_and_sort(browser, many):
    active = (await browser.open("/admin/item/?status=active&per_page=200")).text
    assert "Widget 01" in active and "Widget 00" not in active
    cheap_active = (await browser.open("/admin/item/?status=active&price__gte=10&price__lte=20&sort=-price")).text
    prices = [Decimal(p.replace(",", "")) for p in _column(cheap_active, "price")]
    assert prices and prices == sorted(prices, reverse=True) and all(10 <= p <= 20 for p in prices)
    owned = (await browser.open(f"/admin/item/?owner_id={many.ada.id}&q=widget&per_page=200")).text
    assert "Widget 00" in owned and "Widget 01" not in owned
    dated = (
        await browser.open("/admin/item/?available_from__gte=2026-03-01&available_from__lte=2026-03-31&per_page=200")
    ).text
    assert _ids(dated) and "Widget 02" in dated and "Widget 03" not in dated
    users = (await browser.open("/admin/user/?is_active=false")).text
    assert "No users match these filters." in users


async def test_filter_sidebar_shows_counts_and_keeps_the_view(browser, many):
    page = (await browser.open("/admin/item/?q=widget&sort=name")).text
    assert re.search(r'status=active[^"]*"[^>]*>active</a>\s*<span class="count">20</span>', page)
    assert 'aria-current="true">Any</a>' in page
    assert "q=widget" in re.search(r'href="(/admin/item/\?[^"]*status=draft[^"]*)"', page).group(1)
    assert "Last 7 days" in page and "This year" in page


@pytest.mark.parametrize(
    "bad",
    [
        "status=sold",
        "owner_id=abc",
        "price__gte=cheap",
        "available_from__lte=31/01/2026",
        "status__gte=a",
        "nosuchfield__lte=1",
        "name__gte=x",
        "quantity__lte=1e999",
    ],
)
async def test_malformed_or_unknown_filters_are_a_clear_400(browser, many, bad):
    response = await browser.open(f"/admin/item/?{bad}")
    assert response.status_code == 400, bad
    assert "<!doctype html>" in response.text


async def test_every_date_and_number_column_takes_a_range_from_the_url_listed_or_not(browser, many, db):
    from datetime import UTC, datetime, timedelta

    cutoff = datetime.now(UTC) - timedelta(days=1)
    async with db() as session:
        old = await session.scalar(select(Item).where(Item.name == "Widget 07"))
        old.created_at = cutoff - timedelta(days=30)
        await session.commit()
    # created_at is not in the list, nor in its sidebar: its range still answers, as the URL contract says.
    page = await browser.open(f"/admin/item/?created_at__lte={quote(cutoff.strftime('%Y-%m-%dT%H:%M'))}")
    assert page.status_code == 200
    assert _ids(page.text) == [old.id]
    assert 'name="created_at__gte"' not in page.text, "the sidebar keeps to its listed filters"
    assert "clear filters" in page.text
    recent = await browser.open(f"/admin/item/?created_at__gte={quote(cutoff.strftime('%Y-%m-%dT%H:%M'))}&per_page=200")
    assert old.id not in _ids(recent.text) and len(_ids(recent.text)) == len(await _all_items(db)) - 1
    by_key = await browser.open(f"/admin/item/?id__gte={old.id}&id__lte={old.id}")
    assert _ids(by_key.text) == [old.id]
    assert (await browser.open("/admin/item/?created_at__lte=soon")).status_code == 400


async def _all_items(db):
    async with db() as session:
        return list(await session.scalars(select(Item.id)))


async def test_keyset_pages_walk_the_same_rows_as_numbered_pages(browser, many):
    numbered = []
    for number in (1, 2, 3):
        numbered += _ids((await browser.open(f"/admin/item/?per_page=25&page={number}")).text)
    assert len(numbered) == 62 and len(set(numbered)) == 62
    walked, url = [], "/admin/item/?per_page=25"
    while url:
        page = (await browser.open(url)).text
        walked += _ids(page)
        found = re.search(r'<a href="([^"]+)"[^>]*rel="next"', page)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert walked == numbered
    last = (await browser.open("/admin/item/?per_page=25&last=1")).text
    assert _ids(last) == numbered[-25:]
    back = re.search(r'<a href="([^"]+)"[^>]*rel="prev"', last).group(1).replace("&amp;", "&")
    assert _ids((await browser.open(back)).text) == numbered[-50:-25]
    damaged = await browser.open("/admin/item/?after=not-a-cursor")
    assert damaged.status_code == 400 and "out of date or damaged" in damaged.text


def _cursor(*values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


MOMENT = "2024-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    "values",
    [
        (MOMENT, "not a key"),
        (MOMENT, 2**70),
        (MOMENT, True),
        (MOMENT, 1.5),
        ("2024-01-01T00:00:00", 1),
        ("yesterday", 1),
        (MOMENT, None),
        (MOMENT,),
    ],
    ids=["text-key", "huge-key", "boolean-key", "fraction-key", "naive-time", "no-time", "null", "short"],
)
async def test_a_cursor_written_by_hand_is_a_400_before_it_reaches_the_database(browser, demo, db, values):
    """The default order is newest first (created_at, then id): a cursor holds one value of each."""
    damaged = await browser.open(f"/admin/item/?page=2&after={_cursor(*values)}")
    assert damaged.status_code == 400 and "out of date or damaged" in damaged.text
    before = await browser.open(f"/admin/item/?page=2&before={_cursor(*values)}")
    assert before.status_code == 400
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Item)) == 2, "nothing written meanwhile"


async def test_counts_are_capped_on_big_tables(browser, many, monkeypatch):
    cap_counts(monkeypatch, 50)
    page = (await browser.open("/admin/item/")).text
    assert ">50+</span> items" in page or "about" in page
    assert 'rel="next"' in page and "Last »" in page


async def test_a_table_over_the_cap_shows_the_databases_estimate_of_its_rows(
    browser, many, db, database_url, monkeypatch
):
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite keeps no estimate of a table's rows: the list says 50+")
    async with db() as session:
        await session.execute(text("ANALYZE item" if "postgresql" in database_url else "ANALYZE TABLE item"))
        await session.commit()
    cap_counts(monkeypatch, 50)
    page = (await browser.open("/admin/item/")).text
    # 62 rows; the statistics are an estimate, so the figure is only near it.
    found = re.search(r"about ([\d,]+)", page)
    assert found and 40 <= int(found.group(1).replace(",", "")) <= 90, page[:2000]


async def test_sort_by_related_label_and_search_related_fields(browser, many, db):
    by_owner = (await browser.open("/admin/item/?sort=owner_id&per_page=200")).text
    owners = [re.sub(r"<[^>]+>", "", cell) for cell in _column(by_owner, "owner_id")]
    assert owners == sorted(owners) and owners[0] == "ada" and owners[-1] == "alan"
    desc = (await browser.open("/admin/item/?sort=-owner_id&per_page=200")).text
    assert re.sub(r"<[^>]+>", "", _column(desc, "owner_id")[0]) == "alan"
    by_username = (await browser.open("/admin/item/?q=ALAN&per_page=200")).text
    assert "Chair" in by_username and "Lamp" not in by_username


async def test_search_uses_the_index_and_stays_literal(browser, many, db, database_url):
    async with db() as session:
        session.add(Item(name="50% off_sale", price=Decimal(1), owner_id=many.ada.id))
        await session.commit()
    with count_statements() as statements:
        found = (await browser.open("/admin/item/?q=idget 0")).text
    assert len(_ids(found)) == 10
    if database_url.startswith("sqlite"):
        assert any("item_fts" in s for s in statements), "SQLite search goes through the FTS5 trigram table"
    assert (
        _ids((await browser.open("/admin/item/?q=0% o")).text)
        and "Widget" not in (await browser.open("/admin/item/?q=0%25 o")).text
    )
    assert "50% off_sale" in (await browser.open("/admin/item/?q=f_s")).text
    assert "No items match" in (await browser.open("/admin/item/?q=f%25s")).text


@pytest.mark.parametrize(
    "url",
    [
        "/admin/item/",
        "/admin/item/?q=widget&status=active",
        "/admin/item/{lamp}",
        "/admin/item/{lamp}/edit",
        "/admin/user/lookup?q=a",
        "/admin/user/{ada}",
    ],
)
async def test_pages_run_a_fixed_number_of_statements(browser, demo, db, url):
    url = url.format(lamp=demo.lamp.id, ada=demo.ada.id)
    await browser.open(url)  # the first page of a session also writes the session back
    with count_statements() as few:
        assert (await browser.open(url)).status_code == 200
    async with db() as session:
        tags = [await session.get(Tag, demo.red.id), await session.get(Tag, demo.blue.id)]
        users = [User(username=f"u{n}", email=f"u{n}@example.com") for n in range(150)]
        session.add_all(users)
        await session.flush()
        session.add_all(
            Item(
                name=f"Widget {n}",
                price=Decimal(2),
                owner_id=users[n % 150].id if n % 3 else demo.ada.id,
                tags=tags[: n % 3],
            )
            for n in range(120)
        )
        await session.commit()
    with count_statements() as many_rows:
        assert (await browser.open(url)).status_code == 200
    assert len(many_rows) == len(few), [s.split("\n")[0] for s in many_rows]


async def test_detail_lists_related_rows_with_a_link_to_all(browser, many):
    page = (await browser.open(f"/admin/user/{many.ada.id}")).text
    assert "Items <small>(31)</small>" in page
    assert len(re.findall(r'<li><a href="/admin/item/\d+">', page)) == 20
    assert f'href="/admin/item/?owner_id={many.ada.id}">All 31 items' in page


async def test_relations_above_the_threshold_become_an_autocomplete(browser, demo, db):
    small = (await browser.open("/admin/item/new")).text
    assert '<select id="field-owner_id" name="owner_id"' in small
    async with db() as session:
        session.add_all(User(username=f"extra{n}", email=f"extra{n}@example.com") for n in range(101))
        await session.commit()
    big = (await browser.open(f"/admin/item/{demo.lamp.id}/edit")).text
    assert '<select id="field-owner_id"' not in big
    assert f'<input type="hidden" name="owner_id" value="{demo.ada.id}" id="field-owner_id-value">' in big
    assert 'hx-get="/admin/user/lookup"' in big and 'value="ada"' in big
    assert 'role="listbox" aria-label="Owner results"' in big, "the results list is named after its field"
    assert '<select id="field-tags"' in big, "tags stay a select: there are few"


def _choice_counts(html: str) -> dict[str, str]:
    return dict(re.findall(r'status=(\w+)[^"]*"[^>]*>\w+</a>\s*<span class="count">([\d,+]+)</span>', html))


async def test_choice_counts_are_the_same_counted_in_one_pass_or_one_by_one(browser, many):
    # No status filter in use and a small view: one pass over the matching rows.
    with count_statements() as one_pass:
        searched = (await browser.open("/admin/item/?q=widget")).text
    assert _choice_counts(searched) == {"draft": "20", "active": "20", "archived": "20"}
    assert any("CASE WHEN" in s for s in one_pass)
    # The status filter in use: its choices are counted one by one, without it, so the others stay visible.
    filtered = (await browser.open("/admin/item/?q=widget&status=active")).text
    assert _choice_counts(filtered) == {"draft": "20", "active": "20", "archived": "20"}
    narrowed = (await browser.open("/admin/item/?q=widget 0")).text  # Widget 00 … Widget 09
    assert _choice_counts(narrowed) == {"draft": "4", "active": "3", "archived": "3"}


async def test_choice_counts_over_the_cap_say_so(browser, many, monkeypatch):

    cap_counts(monkeypatch, 15)
    page = (await browser.open("/admin/item/?q=widget")).text
    assert _choice_counts(page) == {"draft": "15+", "active": "15+", "archived": "15+"}
    few = (await browser.open("/admin/item/?q=widget 0")).text
    assert _choice_counts(few) == {"draft": "4", "active": "3", "archived": "3"}


@pytest.mark.parametrize("sort", ["", "quantity", "-owner_id", "owner_id"])
async def test_numbered_pages_split_one_ordering_without_repeats_or_gaps(browser, many, sort):
    """Deep pages skip rows by key first, then read their rows: still the same order, ties and related labels
    included."""
    whole = _ids((await browser.open(f"/admin/item/?sort={sort}&per_page=200")).text)
    paged = []
    for number in (1, 2, 3, 4, 5, 6, 7):
        paged += _ids((await browser.open(f"/admin/item/?sort={sort}&per_page=10&page={number}")).text)
    assert len(whole) == 62 and paged == whole


@pytest.mark.parametrize("term", ['"quoted"', "star*", "col:on", "{brace}", "NEAR(x)", "OR AND"])
async def test_search_terms_with_full_text_syntax_are_matched_literally(browser, demo, db, term):
    """SQLite's full-text index reads its own query language; a typed term must stay a plain substring."""
    async with db() as session:
        session.add(Item(name=f"Odd {term} name", price=Decimal(1), owner_id=demo.ada.id))
        session.add(Item(name="Odd plain name", price=Decimal(1), owner_id=demo.ada.id))
        await session.commit()
    page = await browser.open(f"/admin/item/?q={quote(term)}")
    assert page.status_code == 200
    assert f"Odd {escape(term)} name" in page.text and "Odd plain name" not in page.text


async def test_a_list_counts_its_rows_and_choices_in_one_statement_exact_up_to_the_cap(browser, many, db, monkeypatch):
    from sqlalchemy import func, select

    async with db() as session:
        by_status = dict((await session.execute(select(Item.status, func.count()).group_by(Item.status))).all())
    expected = {status.value: str(by_status.get(status, 0)) for status in Status}
    sizes = browser.client.app.plugins.get(AdminPlugin).site.table_sizes
    with count_statements() as small:
        page = (await browser.open("/admin/item/")).text
    counting = _counts(small)
    assert len(counting) == 1 and "CASE WHEN" in counting[0], "the count and the choice counts, together"
    assert _choice_counts(page) == expected and f">{sum(by_status.values())}</span> items" in page

    cap_counts(monkeypatch, 15)
    with count_statements() as first_big:
        page = (await browser.open("/admin/item/")).text
    # Over the cap, the sums over the first rows say nothing of the table: each choice is counted again.
    assert _choice_counts(page) == {status: "15+" for status in expected}
    assert sizes.more_than(Item, 15) and not sizes.more_than(Item, 16)
    assert "CASE WHEN" in _counts(first_big)[0]
    # A search of the table known big, over the cap too: the one statement again, then the choices capped alone.
    with count_statements() as big_view:
        page = (await browser.open("/admin/item/?q=widget")).text
    assert _choice_counts(page) == {status: "15+" for status in expected} and _over(page, 15)
    assert len(_counts(big_view)) == 2
    # A search of the table known big that finds few rows: they are found and counted, choices too, once.
    with count_statements() as small_view:
        page = (await browser.open("/admin/item/?q=widget 0")).text
    counting = _counts(small_view)
    assert len(counting) == 1 and "CASE WHEN" in counting[0]
    assert _choice_counts(page) == {"draft": "4", "active": "3", "archived": "3"} and ">10</span> items" in page


async def test_counts_found_over_the_cap_are_remembered_until_the_admin_writes_or_the_memory_expires(
    browser, many, db, monkeypatch
):

    cap_counts(monkeypatch, 25)
    view_sizes = browser.client.app.plugins.get(AdminPlugin).site.view_sizes

    async def open_list() -> tuple[str, list[str]]:
        with count_statements() as statements:
            page = (await browser.open("/admin/item/?q=widget")).text
        return page, _counts(statements)

    page, first = await open_list()
    # 60 widgets, 20 per status: the list is over the cap of 25, each status under it.
    assert "25+</span> items" in page and _choice_counts(page) == {"draft": "20", "active": "20", "archived": "20"}
    assert first
    page, again = await open_list()
    assert "25+</span> items" in page and _choice_counts(page) == {"draft": "20", "active": "20", "archived": "20"}
    assert len(again) == len(first) - 1, "the list's own count is remembered, the choices under the cap are not"

    cap_counts(monkeypatch, 15)
    await view_sizes.forget()
    page, first = await open_list()
    assert _over(page, 15) and _choice_counts(page) == {s: "15+" for s in ("draft", "active", "archived")}
    page, again = await open_list()
    assert _over(page, 15) and _choice_counts(page) == {s: "15+" for s in ("draft", "active", "archived")}
    assert first and not again, "every count over the cap: nothing to count again"
    await browser.open("/admin/item/")
    with count_statements() as whole_table:
        page = (await browser.open("/admin/item/")).text
    assert _over(page, 15) and not _counts(whole_table)
    assert not [s for s in whole_table if "pg_class" in s or "information_schema" in s], "the estimate is remembered"

    # Rows deleted by another program are seen when the memory expires (or the admin writes) ...
    async with db() as session:
        widgets = (await session.scalars(select(Item.id).where(Item.name.startswith("Widget")).order_by(Item.id))).all()
        await session.execute(delete(Item).where(Item.id.in_(widgets[:50])))
        await session.commit()
    page, _ = await open_list()
    assert _over(page, 15), "remembered: still shown as over the cap"
    view_sizes.memory = 0
    page, expired = await open_list()
    assert expired and "10</span> items" in page
    left = [list(Status)[n % 3].value for n in range(50, 60)]  # the `many` fixture's statuses
    assert _choice_counts(page) == {status.value: str(left.count(status.value)) for status in Status}

    # ... and a write through the admin forgets at once whatever was remembered.
    view_sizes.memory = 60
    cap_counts(monkeypatch, 5)
    await open_list()
    page, remembered = await open_list()
    assert "5+</span> items" in page and not remembered
    assert (await browser.submit(f"/admin/item/{widgets[50]}/delete", {})).status_code == 303
    page, after_write = await open_list()
    assert after_write and "5+</span> items" in page


async def test_a_write_forgets_the_counts_once_it_has_committed_and_a_refused_one_forgets_nothing(
    browser, demo, db, database_url, monkeypatch
):
    """Forgetting before the commit would let another request count the rows as they were and remember that
    again, after the forgetting and before the change could be seen."""
    memory = browser.client.app.plugins.get(AdminPlugin).site.view_sizes
    forget, visible_when_forgotten = memory.forget, []

    async def forget_and_look() -> None:
        # Another connection, as another worker would read (an engine of its own: this runs on the app's loop).
        engine = create_async_engine(database_url)
        async with engine.connect() as conn:
            visible_when_forgotten.append(await conn.scalar(select(Tag.name).where(Tag.name == "green")))
        await engine.dispose()
        await forget()

    monkeypatch.setattr(memory, "forget", forget_and_look)
    assert (await browser.submit("/admin/tag/", {"name": "green"})).status_code == 303
    assert visible_when_forgotten == ["green"], "forgotten once, with the new tag committed"
    duplicate = await browser.submit("/admin/tag/", {"name": "green"})
    assert duplicate.status_code == 422 and "already exists" in duplicate.text
    assert visible_when_forgotten == ["green"], "a refused write was rolled back: nothing to forget"
    async with db() as session:
        assert (await session.scalars(select(Tag.name).where(Tag.name == "green"))).all() == ["green"]


async def test_a_views_statements_are_built_once_and_each_view_counts_its_own_rows(browser, many, monkeypatch):
    built = []
    original = list_page.ListPage.base

    def base(page, filters=None):
        built.append((page.query.q, page.query.filter_dict if filters is None else filters))
        return original(page, filters)

    monkeypatch.setattr(list_page.ListPage, "base", base)
    first = (await browser.open("/admin/item/?q=widget")).text
    again = (await browser.open("/admin/item/?q=widget")).text
    assert built == [("widget", {})], "built for the first request, reused by the second"
    assert _choice_counts(first) == _choice_counts(again) == {"draft": "20", "active": "20", "archived": "20"}
    other = (await browser.open("/admin/item/?q=widget 0")).text
    assert built[-1] == ("widget 0", {})
    assert _choice_counts(other) == {"draft": "4", "active": "3", "archived": "3"}
    assert ">10</span> items" in other


async def test_a_page_reads_its_rows_and_owners_in_one_statement_keys_first_and_its_tags_in_one_more(browser, many, db):
    async with db() as session:
        tagged = await session.scalars(select(Item).where(Item.name == "Widget 59").options(selectinload(Item.tags)))
        widget = tagged.one()
        widget.tags = [await session.get(Tag, many.red.id), await session.get(Tag, many.blue.id)]
        await session.commit()
    with count_statements() as statements:
        page = (await browser.open("/admin/item/?sort=-price&per_page=10")).text
    reads = [s for s in statements if re.search(r"\bFROM item\b", s) and "count(" not in s.lower()]
    assert len(reads) == 1, reads
    assert "user_account" in reads[0] and "item_tag" not in reads[0], "owners joined; tags read apart"
    assert re.search(r"WHERE item\.id IN \(", reads[0]), "the page's keys are picked first, then its rows read"
    # A row's tags are read up to the three its cell names, with their count: one statement for the page's rows.
    tag_reads = [s for s in statements if re.search(r"\bitem_tag\b", s)]
    assert len(tag_reads) == 1 and "row_number() OVER (PARTITION BY item_tag.item_id" in tag_reads[0], tag_reads
    ids = _ids(page)
    assert len(ids) == 10 and ids[0] == widget.id, "the 10 dearest, each once, whatever its number of tags"
    assert re.search(r">blue</a>, <a [^>]+>red</a>", _column(page, "tags")[0]), "in the relation's order"


def test_built_statements_keep_the_views_used_lately_and_build_each_once():
    built = listing.BuiltStatements(size=2)
    calls = []

    def build(name):
        return lambda: calls.append(name) or name

    assert built.get(("a",), build("a")) == "a" and built.get(("b",), build("b")) == "b"
    assert built.get(("a",), build("a again")) == "a", "kept, not rebuilt"
    built.get(("c",), build("c"))  # over the size: the least recently used view ("b") goes
    assert built.get(("b",), build("b again")) == "b again"
    assert calls == ["a", "b", "c", "b again"]


async def test_filter_and_sort_links_carry_a_search_term_with_url_characters_intact(browser, many):
    from urllib.parse import parse_qs, urlsplit

    from markupsafe import Markup

    term = "a&b=c d+é/%"
    page = (await browser.open(f"/admin/item/?q={quote(term)}&status=active")).text
    links = [Markup(href).unescape() for href in re.findall(r'href="(/admin/item/\?[^"]*)"', page)]
    assert links, "the page links to other views of the list"
    for link in links:
        params = parse_qs(urlsplit(link).query)
        assert params.get("q") == [term], link
    # The "Any" choice of the status filter drops only that filter; the search stays.
    assert any("status" not in parse_qs(urlsplit(link).query) for link in links)


async def test_a_numbered_page_searches_and_filters_its_view_once(browser, many):
    """The count of a searched view not known to be big also picks the page's keys: the search runs once."""
    with count_statements() as statements:
        page = (await browser.open("/admin/item/?q=widget&status=active&sort=-owner_id&page=2&per_page=5")).text
    searching = [s for s in statements if "like" in s.lower() or "match" in s.lower()]
    assert len(searching) == 1 and "count(" in searching[0].lower(), searching
    whole = _ids((await browser.open("/admin/item/?q=widget&status=active&sort=-owner_id&per_page=200")).text)
    assert len(whole) == 20 and _ids(page) == whole[5:10]


async def test_a_searched_page_past_the_end_empty_or_over_the_cap_still_shows_the_right_rows(
    browser, many, monkeypatch
):
    """The keys a search's count picks are only used for the page asked for, and only when the count is exact."""

    whole = _ids((await browser.open("/admin/item/?q=widget&status=active&per_page=200")).text)
    assert len(whole) == 20
    beyond = (await browser.open("/admin/item/?q=widget&status=active&per_page=5&page=99")).text
    assert _ids(beyond) == whole[15:20] and 'aria-current="page">4<' in beyond, "the last page instead"
    nothing = await browser.open("/admin/item/?q=no-such-widget&per_page=5&page=3")
    assert nothing.status_code == 200 and _ids(nothing.text) == [] and ">0</span> items" in nothing.text
    cap_counts(monkeypatch, 15)
    over = (await browser.open("/admin/item/?q=widget&status=active&per_page=5&page=2")).text
    assert "15+</span> items" in over and _ids(over) == whole[5:10], "over the cap: the ordering walked instead"
