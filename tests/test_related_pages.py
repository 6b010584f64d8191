"""A detail page's related sections, a page at a time, for relations the related list cannot filter by: a shelf
(a natural key with hostile characters) holds slots keyed by two columns with hostile values, and is read by
many readers through a link table, ordered by a nullable column and scoped. Every page link, with and without
htmx, leads through every related record once and back, and keeps the other section where it is."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import Column, ForeignKey, MetaData, String, Table, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tests.conftest import add_account, page_link, related_section, section_names
from tests.hosts import HTMX, Person, own_tables, signed_in
from tests.html_check import html_problems
from tests.test_keys import HOSTILE
from webapp.admin import ModelAdmin
from webapp.admin.keys import RecordKey, url_segment
from webapp.admin.types.base import html as escaped

pytestmark = pytest.mark.anyio

SHELF = "a/b,c?#%&"
SLOTS = [*HOSTILE, *(f"{value} {n}" for n in (1, 2) for value in HOSTILE)]
READERS = 30


class Base(DeclarativeBase):
    metadata = MetaData()


shelf_reader = Table(
    "rp_shelf_reader",
    Base.metadata,
    Column("shelf_code", ForeignKey("rp_shelf.code"), primary_key=True),
    Column("reader_id", ForeignKey("rp_reader.id"), primary_key=True),
)


class Shelf(Base):
    __tablename__ = "rp_shelf"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(80))
    slots: Mapped[list[Slot]] = relationship(back_populates="shelf", order_by=lambda: Slot.slot)
    readers: Mapped[list[Reader]] = relationship(secondary=shelf_reader)


class Slot(Base):
    __tablename__ = "rp_slot"
    shelf_code: Mapped[str] = mapped_column(ForeignKey("rp_shelf.code"), primary_key=True)
    slot: Mapped[str] = mapped_column(String(40), primary_key=True)
    shelf: Mapped[Shelf] = relationship(back_populates="slots")


class Reader(Base):
    __tablename__ = "rp_reader"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    nickname: Mapped[str | None] = mapped_column(String(40))


class SlotAdmin(ModelAdmin, model=Slot):
    label_fields = ("slot",)


class ReaderAdmin(ModelAdmin, model=Reader):
    # A nullable column: no cursor can follow it, so the readers page by number.
    ordering = ("nickname",)

    def list_query(self, statement: Any, account: Any) -> Any:
        return statement.where(Reader.name.not_like("secret%"))


@pytest.fixture
async def librarian(database_url: str) -> AsyncIterator[tuple[Person, Any]]:
    """The shelf SHELF with every slot of SLOTS, read by READERS readers (every third without a nickname) and
    by two secret ones no account may reach; an empty shelf beside it."""
    async with own_tables(database_url, Base.metadata) as sessions:
        await add_account(sessions, "librarian", superuser=True)
        async with sessions() as session:
            await session.execute(insert(Shelf), [{"code": SHELF, "title": "Hostile"}, {"code": "e", "title": "Empty"}])
            await session.execute(insert(Slot), [{"shelf_code": SHELF, "slot": slot} for slot in SLOTS])
            readers = [
                {"id": n, "name": f"reader {n:02d}", "nickname": None if n % 3 == 0 else f"nick {n % 7}"}
                for n in range(1, READERS + 1)
            ]
            readers += [{"id": 90 + n, "name": f"secret {n}", "nickname": "a"} for n in (1, 2)]
            await session.execute(insert(Reader), readers)
            await session.execute(insert(shelf_reader), [{"shelf_code": SHELF, "reader_id": r["id"]} for r in readers])
            await session.commit()
        async with signed_in(database_url, Base.metadata, [Shelf, SlotAdmin, ReaderAdmin], "librarian") as person:
            yield person, sessions


SHELF_URL = f"/admin/shelf/{url_segment(RecordKey(Shelf).text((SHELF,)))}"


async def _walk(person: Person, url: str, name: str) -> list[str]:
    """The section's records, page after page by its Next links, each page checked on the way."""
    seen: list[str] = []
    pages = 0
    while url:
        page = await person.get(url)
        assert page.status_code == 200, url
        assert html_problems(page.text) == [], url
        section = related_section(page.text, name)
        seen += section_names(section)
        pages += 1
        url = page_link(section, "next") or ""
    assert pages == -(-len(seen) // 20)
    return seen


async def test_the_slots_of_a_hostile_shelf_page_through_hostile_keys_each_once_in_the_databases_order(librarian):
    person, sessions = librarian
    async with sessions() as session:
        ordered = list(await session.scalars(select(Slot.slot).order_by(Slot.slot, Slot.shelf_code)))
    assert sorted(ordered) == sorted(SLOTS)
    labels = [slot or f"Slot #{SHELF}, " for slot in ordered]  # an empty slot is named by its key
    assert await _walk(person, SHELF_URL, "slots") == labels
    first = related_section((await person.get(SHELF_URL)).text, "slots")
    assert "Slots <small>(42)</small>" in first and "Page 1 of 3" in first
    everything = f"/admin/slot/?{urlencode({'shelf_code': SHELF})}"
    assert f'<a href="{escaped(everything)}">All 42 slots' in first
    assert ">42</span> slots" in (await person.get(everything)).text, "the list filtered to this shelf's slots"
    # Each slot's link leads to that slot: its key of two hostile parts survives the URL.
    last = related_section((await person.get(page_link(first, "next"))).text, "slots")
    last = related_section((await person.get(page_link(last, "next"))).text, "slots")
    links = [href for href in _hrefs(first + last) if href.startswith("/admin/slot/")]
    for href, slot in zip(links, ordered[:20] + ordered[40:], strict=True):
        detail = await person.get(href)
        assert detail.status_code == 200 and f"<dd>{escaped(slot)}</dd>" in detail.text, (href, slot)
    back = related_section((await person.get(page_link(last, "prev"))).text, "slots")
    assert section_names(back) == labels[20:40] and page_link(back, "prev") == SHELF_URL


async def test_readers_ordered_by_a_nullable_column_page_by_number_within_the_accounts_scope(librarian):
    person, sessions = librarian
    async with sessions() as session:
        reachable = select(Reader.name).where(Reader.name.not_like("secret%"))
        ordered = list(await session.scalars(reachable.order_by(Reader.nickname, Reader.id)))
    assert len(ordered) == READERS and await _walk(person, SHELF_URL, "readers") == ordered
    first = related_section((await person.get(SHELF_URL)).text, "readers")
    assert "Readers <small>(30)</small>" in first, "the secret readers are out of the account's scope"
    assert page_link(first, "next") == f"{SHELF_URL}?readers_page=2", "no cursor follows NULLs: a number"
    assert "All 30" not in first, "the reader list has no filter by shelf: its pages are the way to them"
    damaged = await person.get(f"{SHELF_URL}?readers_page=2&readers_after=ignored")
    assert damaged.status_code == 200 and section_names(related_section(damaged.text, "readers")) == ordered[20:]


async def test_paging_one_section_keeps_the_other_where_it_is(librarian):
    person, _sessions = librarian
    start = (await person.get(SHELF_URL)).text
    slots_2 = page_link(related_section(start, "slots"), "next")
    page = (await person.get(slots_2)).text
    readers_2 = page_link(related_section(page, "readers"), "next")
    assert readers_2.startswith(slots_2 + "&readers_page=2"), readers_2
    both = (await person.get(readers_2)).text
    assert "Page 2 of 3" in related_section(both, "slots") and "Page 2 of 2" in related_section(both, "readers")
    assert page_link(related_section(both, "readers"), "prev") == slots_2, "back: readers to page 1, slots kept"
    first_slots = page_link(related_section(both, "slots"), "prev")
    assert first_slots == f"{SHELF_URL}?readers_page=2", "back: slots to page 1, readers kept"


async def test_with_htmx_a_section_swaps_alone_and_keeps_the_others_from_the_address_bar(librarian):
    person, _sessions = librarian
    start = (await person.get(SHELF_URL)).text
    slots_2 = page_link(related_section(start, "slots"), "next")
    fragment_url = page_link(related_section(start, "readers"), "next", fragment=True)
    assert fragment_url == f"{SHELF_URL}/related/readers?readers_page=2"
    shown = await person.get(fragment_url, **HTMX, **{"HX-Current-URL": f"http://testserver.local{slots_2}"})
    assert shown.status_code == 200 and html_problems(shown.text, fragment=True) == []
    assert shown.text.startswith('<section class="related" id="related-readers"') and "Page 2 of 2" in shown.text
    assert page_link(shown.text, "prev") == slots_2, "its links keep the slots at the page the browser shows"
    assert 'id="related-slots"' not in shown.text
    plain = await person.get(fragment_url)
    assert plain.status_code == 303 and plain.headers["location"] == f"{SHELF_URL}?readers_page=2"


async def test_an_empty_shelf_says_none_and_an_unknown_section_is_a_404(librarian):
    person, _sessions = librarian
    page = await person.get("/admin/shelf/e")
    assert page.status_code == 200 and html_problems(page.text) == []
    for name in ("slots", "readers"):
        section = related_section(page.text, name)
        assert "<small>(0)</small>" in section and "None." in section and page_link(section, "next") is None
    beyond = await person.get("/admin/shelf/e?slots_page=3")
    assert beyond.status_code == 200 and "None." in related_section(beyond.text, "slots")
    assert (await person.get("/admin/shelf/e/related/shelf", **HTMX)).status_code == 404
    assert (await person.get("/admin/shelf/nowhere/related/slots", **HTMX)).status_code == 404


def _hrefs(page: str) -> list[str]:
    return [html.unescape(href) for href in re.findall(r'<li><a href="([^"]+)"', page)]
