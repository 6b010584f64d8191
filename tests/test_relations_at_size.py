"""Records linked to thousands of others: their list row, row fragment, detail page and edit form stay small,
and each reads a few of the related rows, not all of them; the detail page pages them, a section per relation,
with Next and Previous links that work without JavaScript and with htmx swap that section alone."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    MetaData,
    String,
    Table,
    and_,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tests.conftest import (
    LINKED,
    Admin,
    Demo,
    add_account,
    count_statements,
    field_error,
    page_link,
    related_section,
    section_names,
)
from tests.hosts import HTMX, Person, own_tables, signed_in
from tests.html_check import html_problems
from webapp.admin import ModelAdmin
from webapp.demo.models import Item, Tag, item_tag

pytestmark = pytest.mark.anyio

# A size budget, not a timing: the pages below name a few of 3,000 related records, never all of them.
PAGE_BUDGET = 40_000
TAG_LINK = re.compile(r'<a href="/admin/tag/\d+">([^<]+)</a>')
ITEM_LINK = re.compile(r'<li><a href="/admin/item/\d+">')


@contextmanager
def loaded(model: type) -> Iterator[list[Any]]:
    """The `model` records the ORM builds from rows read meanwhile: the related rows a page read."""
    built: list[Any] = []

    def record(target: Any, context: Any) -> None:
        built.append(target)

    event.listen(model, "load", record)
    try:
        yield built
    finally:
        event.remove(model, "load", record)


@pytest.fixture
async def prolific(db, demo) -> Demo:
    """Ada owns 3,000 items: the lamp and "Widget 0001" … "Widget 2999"."""
    async with db() as session:
        await session.execute(
            insert(Item),
            [
                {"name": f"Widget {n:04d}", "price": Decimal(1), "owner_id": demo.ada.id, "version": 1}
                for n in range(1, LINKED)
            ],
        )
        await session.commit()
    return demo


def _row(html: str, item_id: int) -> str:
    return re.search(rf'<tr id="item-{item_id}">.*?</tr>', html, re.S).group(0)


async def _links_of_lamp(db, demo: Demo) -> int:
    async with db() as session:
        return await session.scalar(
            select(func.count()).select_from(item_tag).where(item_tag.c.item_id == demo.lamp.id)
        )


async def test_a_list_row_names_three_of_its_3000_tags_and_the_page_reads_no_more(browser, crowded):
    with loaded(Tag) as tags, count_statements() as statements:
        page = (await browser.open("/admin/item/")).text
    lamp = _row(page, crowded.lamp.id)
    assert TAG_LINK.findall(lamp) == ["red", "tag 0001", "tag 0002"], "the first three in the relation's order"
    assert " and 2,997 more</td>" in lamp
    chair = _row(page, crowded.chair.id)
    assert TAG_LINK.findall(chair) == ["blue"] and " more</td>" not in chair, "each row counts its own tags"
    assert len(page) < PAGE_BUDGET and html_problems(page) == []
    assert len(tags) == 4, "three of the lamp's tags and the chair's one are read, not 3,001"
    reading_tags = [s for s in statements if re.search(r"\bFROM item_tag\b|\bJOIN item_tag\b", s)]
    assert len(reading_tags) == 1, "one statement for the page's tags, whatever its number of rows"


async def test_a_row_fragment_names_three_tags_after_a_read_and_after_an_inline_save(htmx, db, crowded):
    url = f"/admin/item/{crowded.lamp.id}"
    with loaded(Tag) as tags:
        fragment = (await htmx.open(url)).text
    assert TAG_LINK.findall(fragment) == ["red", "tag 0001", "tag 0002"] and " and 2,997 more</td>" in fragment
    assert len(tags) == 3 and html_problems(fragment, fragment=True) == []

    saved = await htmx.submit(url, {"name": "Desk lamp", "_version": "1"}, method="PUT")
    assert saved.status_code == 200 and "Desk lamp" in saved.text
    row = _row(saved.text, crowded.lamp.id)
    assert TAG_LINK.findall(row) == ["red", "tag 0001", "tag 0002"] and " and 2,997 more</td>" in row
    assert await _links_of_lamp(db, crowded) == LINKED, "a save that leaves the tags out keeps every link"


async def test_an_inline_save_that_changes_the_tags_shows_them_as_a_list_row_does(htmx, db, crowded):
    async with db() as session:
        third = await session.scalar(select(Tag.id).where(Tag.name == "tag 0003"))
    url = f"/admin/item/{crowded.lamp.id}"
    saved = await htmx.submit(url, {"tags": [str(third), str(crowded.red.id)], "_version": "1"}, method="PUT")
    assert saved.status_code == 200
    assert TAG_LINK.findall(_row(saved.text, crowded.lamp.id)) == ["red", "tag 0003"], "in the relation's order"
    assert TAG_LINK.findall(_row((await htmx.open(url)).text, crowded.lamp.id)) == ["red", "tag 0003"]
    assert await _links_of_lamp(db, crowded) == 2


async def test_a_refused_inline_save_shows_its_message_in_the_row_and_keeps_every_link(htmx, db, crowded):
    refused = await htmx.submit(f"/admin/item/{crowded.lamp.id}", {"price": "-1", "_version": "1"}, method="PUT")
    assert refused.status_code == 422
    message = field_error(refused.text, f"item-{crowded.lamp.id}-price")
    assert message == "Ensure this value is greater than or equal to 0."
    assert await _links_of_lamp(db, crowded) == LINKED
    async with db() as session:
        assert (await session.get(Item, crowded.lamp.id)).price == crowded.lamp.price


ALL_TAGS = ["red", *(f"tag {n:04d}" for n in range(1, LINKED))]  # the lamp's, in the relation's order (by name)


async def test_a_detail_page_shows_the_first_page_of_3000_tags_read_in_one_statement(browser, crowded):
    with loaded(Tag) as tags, count_statements() as statements:
        page = (await browser.open(f"/admin/item/{crowded.lamp.id}")).text
    section = related_section(page, "tags")
    assert "Tags <small>(3,000)</small>" in section and "Page 1 of 150" in section
    assert section_names(section) == ALL_TAGS[:20] and TAG_LINK.findall(section) == ALL_TAGS[:20], "linked"
    assert page_link(section, "prev") is None and page_link(section, "next") is not None
    assert "<dt>Tags</dt>" not in page, "the tags are listed in their section, not among the values"
    assert len(page) < PAGE_BUDGET and html_problems(page) == []
    assert len(tags) <= 21, "a page of them and one more (is there a next page?), not 3,000"
    reading_tags = [s for s in statements if re.search(r"\bitem_tag\b", s)]
    assert len(reading_tags) == 1, "the page of tags and their count in one statement"


async def test_next_links_walk_all_3000_tags_once_in_order_and_the_last_page_has_no_next(browser, crowded):
    url: str | None = f"/admin/item/{crowded.lamp.id}"
    seen: list[str] = []
    pages = []
    while url is not None:
        page = await browser.open(url)
        assert page.status_code == 200, url
        section = related_section(page.text, "tags")
        assert len(section_names(section)) == 20, url
        seen += section_names(section)
        pages.append(section)
        url = page_link(section, "next")
    assert len(pages) == 150 and seen == ALL_TAGS, "every tag once, in the relation's order"
    assert "Page 2 of 150" in pages[1] and "Page 150 of 150" in pages[-1]
    assert page_link(pages[-1], "prev") is not None and len(pages[-1]) < PAGE_BUDGET


async def test_previous_links_lead_back_to_the_same_pages(browser, crowded):
    first_url = f"/admin/item/{crowded.lamp.id}"
    second = related_section((await browser.open(first_url)).text, "tags")
    second = related_section((await browser.open(page_link(second, "next"))).text, "tags")
    third = related_section((await browser.open(page_link(second, "next"))).text, "tags")
    assert section_names(third) == ALL_TAGS[40:60]
    back = related_section((await browser.open(page_link(third, "prev"))).text, "tags")
    assert "Page 2 of 150" in back and section_names(back) == section_names(second) == ALL_TAGS[20:40]
    assert page_link(back, "prev") == first_url, "back to the first page: the record's own address"


async def test_a_page_number_past_the_last_shows_the_last_page(browser, crowded):
    page = await browser.open(f"/admin/item/{crowded.lamp.id}?tags_page=9999")
    section = related_section(page.text, "tags")
    assert page.status_code == 200 and "Page 150 of 150" in section and page_link(section, "next") is None
    assert section_names(section) == ALL_TAGS[-20:]


def _cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("tags_page=two", "“tags_page” must be a whole number of at least 1."),
        ("tags_page=-3", "“tags_page” must be a whole number of at least 1."),
        ("tags_page=2&tags_after=not-a-cursor", "This link to a page of tags is out of date or damaged"),
        (f"tags_page=2&tags_after={_cursor('tag 0019', 'twenty-one')}", "is out of date or damaged"),
        (f"tags_page=2&tags_after={_cursor('tag 0019', 2**70)}", "is out of date or damaged"),
        (f"tags_page=2&tags_before={_cursor(19, 21)}", "is out of date or damaged"),
        (f"tags_page=2&tags_after={_cursor('tag 0019')}", "is out of date or damaged"),
        (f"tags_after={_cursor('a', 1)}&tags_before={_cursor('b', 2)}", "not both"),
    ],
)
async def test_a_damaged_page_link_is_a_400_that_says_so(browser, htmx, crowded, query, says):
    page = await browser.open(f"/admin/item/{crowded.lamp.id}?{query}")
    assert page.status_code == 400 and says in html.unescape(page.text)
    assert html_problems(page.text) == []
    fragment = await htmx.open(f"/admin/item/{crowded.lamp.id}/related/tags?{query}")
    assert fragment.status_code == 400 and says in html.unescape(fragment.text)


async def test_with_htmx_a_next_link_swaps_in_the_tags_section_alone(browser, htmx, crowded):
    first = related_section((await browser.open(f"/admin/item/{crowded.lamp.id}")).text, "tags")
    with count_statements() as statements:
        fragment = await htmx.open(page_link(first, "next", fragment=True))
    assert fragment.status_code == 200 and html_problems(fragment.text, fragment=True) == []
    assert fragment.text.startswith('<section class="related" id="related-tags"')
    assert section_names(fragment.text) == ALL_TAGS[20:40] and "Page 2 of 150" in fragment.text
    assert page_link(fragment.text, "next").startswith(f"/admin/item/{crowded.lamp.id}?tags_page=3&tags_after=")
    assert 'hx-push-url="/admin/item/' in fragment.text, "the address bar names the whole page"
    assert len([s for s in statements if re.search(r"\bitem_tag\b", s)]) == 1, "the section's one statement"
    plain = await browser.client.get(page_link(first, "next", fragment=True), follow_redirects=False)
    assert plain.status_code == 303, "without htmx: the whole page at that page of the tags"
    assert plain.headers["location"] == page_link(first, "next")


async def test_an_account_that_may_not_view_tags_sees_no_tags_section(client, db, crowded):
    await add_account(db, "viewer", permissions=("item.view",))
    viewer = Admin(client)
    assert (await viewer.sign_in("viewer")).status_code == 303
    page = await viewer.open(f"/admin/item/{crowded.lamp.id}")
    assert page.status_code == 200 and related_section(page.text, "tags") == "" and "tag 0001" not in page.text
    refused = await viewer.open(f"/admin/item/{crowded.lamp.id}/related/tags", HX_Request="true")
    assert refused.status_code == 403
    missing = await viewer.open(f"/admin/item/{crowded.lamp.id}/related/nothing", HX_Request="true")
    assert missing.status_code == 404


async def test_a_detail_page_pages_3000_related_items_and_links_to_all_of_them(browser, prolific):
    with loaded(Item) as items:
        page = (await browser.open(f"/admin/user/{prolific.ada.id}")).text
    section = related_section(page, "items")
    assert "Items <small>(3,000)</small>" in section and "Page 1 of 150" in section
    assert len(ITEM_LINK.findall(section)) == 20 and len(items) <= 21, "the first page of them, and one more"
    everything = f'href="/admin/item/?owner_id={prolific.ada.id}">All 3,000 items'
    assert everything in section and len(page) < PAGE_BUDGET and html_problems(page) == []
    following = related_section((await browser.open(page_link(section, "next"))).text, "items")
    assert "Page 2 of 150" in following and not set(section_names(following)) & set(section_names(section))
    listed = (await browser.open(f"/admin/item/?owner_id={prolific.ada.id}")).text
    assert ">3,000</span> items" in listed and "Chair" not in listed, "the link lists exactly ada's items"


async def test_a_user_with_one_item_lists_it_without_a_link_to_all(browser, prolific):
    page = (await browser.open(f"/admin/user/{prolific.alan.id}")).text
    assert "Items <small>(1)</small>" in page and len(ITEM_LINK.findall(page)) == 1
    assert f"?owner_id={prolific.alan.id}" not in page, "one item: nothing more to list"


async def test_the_edit_form_of_a_record_with_3000_tags_offers_no_3000_options(browser, crowded):
    page = (await browser.open(f"/admin/item/{crowded.lamp.id}/edit")).text
    assert '<select id="field-tags"' not in page, "more tags than a select holds: an autocomplete"
    assert 'hx-get="/admin/tag/lookup"' in page
    assert page.count("<option") < 10, "the owner's two choices and the status's three, no tag options"
    assert html_problems(page) == []


# -- keys of several columns, a collection of its own model, a collection that cannot be read in part --------


class Base(DeclarativeBase):
    metadata = MetaData()


route_stop = Table(
    "route_stop",
    Base.metadata,
    Column("region", String(20), primary_key=True),
    Column("number", String(20), primary_key=True),
    Column("stop_id", ForeignKey("stop.id"), primary_key=True),
    Column("is_open", Boolean, nullable=False),
    ForeignKeyConstraint(["region", "number"], ["route.region", "route.number"]),
)
stop_link = Table(
    "stop_link",
    Base.metadata,
    Column("stop_id", ForeignKey("stop.id"), primary_key=True),
    Column("neighbour_id", ForeignKey("stop.id"), primary_key=True),
)


class Stop(Base):
    __tablename__ = "stop"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    neighbours: Mapped[list[Stop]] = relationship(
        secondary=stop_link,
        primaryjoin=lambda: Stop.id == stop_link.c.stop_id,
        secondaryjoin=lambda: Stop.id == stop_link.c.neighbour_id,
        order_by=lambda: Stop.name,
    )


class Route(Base):
    """A key of two columns, and its stops twice: all of them, and the open ones (a join with a condition of its
    own, which cannot be read by keys alone: it is read whole)."""

    __tablename__ = "route"
    region: Mapped[str] = mapped_column(String(20), primary_key=True)
    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    # Eager by default, as a host may declare it: a list row and a detail page still read only the first stops.
    stops: Mapped[list[Stop]] = relationship(secondary=route_stop, order_by=lambda: Stop.name, lazy="selectin")
    open_stops: Mapped[list[Stop]] = relationship(
        secondary=route_stop,
        primaryjoin=lambda: and_(
            Route.region == route_stop.c.region, Route.number == route_stop.c.number, route_stop.c.is_open.is_(True)
        ),
        order_by=lambda: Stop.name,
        viewonly=True,
    )


class RouteAdmin(ModelAdmin, model=Route):
    list_display = ("name", "stops", "open_stops")
    form_fields = ("region", "number", "name")


class StopAdmin(ModelAdmin, model=Stop):
    list_display = ("name", "neighbours")


@pytest.fixture
async def network(database_url: str) -> AsyncIterator[Person]:
    """Ten stops; North 1 calls at s00 … s05 (s05 closed), North 2 at s06, South 1 nowhere; s00 neighbours
    every other stop, s01 neighbours s00."""
    async with own_tables(database_url, Base.metadata) as sessions:
        await add_account(sessions, "planner", superuser=True)
        async with sessions() as session:
            await session.execute(insert(Stop), [{"id": n + 1, "name": f"s{n:02d}"} for n in range(10)])
            await session.execute(
                insert(Route),
                [
                    {"region": "north", "number": "1", "name": "North 1"},
                    {"region": "north", "number": "2", "name": "North 2"},
                    {"region": "south", "number": "1", "name": "South 1"},
                ],
            )
            calls = [{"region": "north", "number": "1", "stop_id": n + 1, "is_open": n != 5} for n in range(6)]
            calls.append({"region": "north", "number": "2", "stop_id": 7, "is_open": True})
            await session.execute(insert(route_stop), calls)
            links = [{"stop_id": 1, "neighbour_id": n} for n in range(2, 11)] + [{"stop_id": 2, "neighbour_id": 1}]
            await session.execute(insert(stop_link), links)
            await session.commit()
        async with signed_in(database_url, Base.metadata, [RouteAdmin, StopAdmin], "planner") as person:
            yield person


def _cells_of(html: str, label: str) -> list[str]:
    """The value cells of the list row whose first cell names `label`."""
    for row in re.findall(r"<tr id=.*?</tr>", html, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        if f">{label}</a>" in cells[1]:
            return [re.sub(r"<[^>]+>", "", cell) for cell in cells[2:-1]]
    raise AssertionError(f"no row names {label}")


async def test_a_key_of_two_columns_gets_each_rows_own_first_records_and_count(network):
    with count_statements() as statements:
        page = (await network.get("/admin/route/")).text
    assert _cells_of(page, "North 1") == ["s00, s01, s02 and 3 more", "s00, s01, s02 and 2 more"]
    assert _cells_of(page, "North 2") == ["s06", "s06"]
    assert _cells_of(page, "South 1") == ["—", "—"]
    reading_stops = [s for s in statements if re.search(r"\broute_stop\b", s)]
    sampled = [s for s in reading_stops if "row_number() OVER (PARTITION BY route_stop.region, route_stop.number" in s]
    assert len(sampled) == 1, "the stops of every row in one statement, by the two key columns"
    assert len(reading_stops) == 2, "and the open stops joined to the rows: no statement reads every stop"
    detail = (await network.get("/admin/route/north,1")).text
    assert section_names(related_section(detail, "stops")) == [f"s{n:02d}" for n in range(6)]
    assert section_names(related_section(detail, "open_stops")) == [f"s{n:02d}" for n in range(5)]
    assert "Open stops <small>(5)</small>" in detail and html_problems(detail) == []
    fragment = (await network.get("/admin/route/north,2", **HTMX)).text
    assert _cells_of(fragment, "North 2") == ["s06", "s06"]


async def test_a_collection_of_records_of_the_same_model_gets_its_first_records_and_count(network):
    with count_statements() as statements:
        page = (await network.get("/admin/stop/")).text
    assert _cells_of(page, "s00") == ["s01, s02, s03 and 6 more"]
    assert [s for s in statements if "row_number() OVER (PARTITION BY stop_link.stop_id" in s]
    assert _cells_of(page, "s01") == ["s00"] and _cells_of(page, "s02") == ["—"]
    detail = (await network.get("/admin/stop/1")).text
    assert section_names(related_section(detail, "neighbours")) == [f"s{n:02d}" for n in range(1, 10)]
