"""The list page is a class with named steps (ModelAdmin.list_page_class): a model replaces one, and every
route that reads "the rows of this view" (the list, its count, bulk actions on all matching rows, export, the
autocomplete) follows it, while the other steps keep working."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import ColumnElement, MetaData, String, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tests.conftest import add_account
from tests.hosts import HTMX, Person, own_tables, signed_in
from webapp.admin import ModelAdmin
from webapp.admin.list_page import Count, ListPage

pytestmark = pytest.mark.anyio


class Base(DeclarativeBase):
    metadata = MetaData()


class Ticket(Base):
    __tablename__ = "list_page_ticket"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80))
    open: Mapped[bool] = mapped_column(default=True)

    def __str__(self) -> str:
        return self.title


class TicketList(ListPage):
    """ "#12" finds ticket 12 by its number; any other term searches the titles as usual."""

    def search(self, q: str) -> list[ColumnElement[bool]]:
        if re.fullmatch(r"#\d{1,9}", q):
            return [Ticket.id == int(q[1:])]
        return super().search(q)


class TicketAdmin(ModelAdmin, model=Ticket):
    list_display = ("title", "open")
    search_fields = ("title",)
    per_page = 25
    list_page_class = TicketList


class Note(Base):
    __tablename__ = "list_page_note"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(80))


class UncountedList(ListPage):
    """A table too big to count on every page (Django's show_full_result_count = False): never counted."""

    async def count(self, *args: Any, **kwargs: Any) -> Count:
        return Count(total=10_000, exact=False)


class NoteAdmin(ModelAdmin, model=Note):
    list_display = ("text",)
    per_page = 25
    list_page_class = UncountedList


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    async with own_tables(database_url, Base.metadata) as sessions:
        await add_account(sessions, "clerk", superuser=True)
        async with sessions() as session:
            session.add_all(Ticket(id=n, title=f"Ticket {n} printer", open=n % 2 == 0) for n in range(1, 41))
            session.add_all(Note(id=n, text=f"note {n}") for n in range(1, 31))
            await session.commit()
        yield sessions


@pytest.fixture
async def clerk(db: Any, database_url: str) -> AsyncIterator[Person]:
    async with signed_in(database_url, Base.metadata, [TicketAdmin, NoteAdmin], "clerk") as person:
        yield person


def _rows(html: str, slug: str) -> list[int]:
    return [int(n) for n in re.findall(rf'<tr id="{slug}-(\d+)">', html)]


async def _tickets(db: Any) -> list[int]:
    async with db() as session:
        return list(await session.scalars(select(Ticket.id).order_by(Ticket.id)))


async def test_a_replaced_search_step_answers_the_list_and_its_count(clerk):
    found = await clerk.get("/admin/ticket/?q=%2312")
    assert found.status_code == 200
    assert _rows(found.text, "ticket") == [12]
    assert ">1</span> ticket" in found.text
    assert 'value="#12"' in found.text, "the search box keeps the term"
    # Any other term is the default search, with the other steps (filters, counts) around it.
    printers = await clerk.get("/admin/ticket/?q=printer&open=true")
    assert len(_rows(printers.text, "ticket")) == 20
    fragment = await clerk.get("/admin/ticket/?q=%2399", **HTMX)
    assert fragment.status_code == 200 and _rows(fragment.text, "ticket") == []


async def test_bulk_all_matching_export_and_autocomplete_follow_the_replaced_search(clerk, db):
    everything = [("action", "delete"), ("select_all", "1"), ("q", "#7")]
    confirm = await clerk.post("/admin/ticket/bulk", everything)
    assert confirm.status_code == 200 and "Delete 1 ticket?" in confirm.text
    done = await clerk.post("/admin/ticket/bulk", [*everything, ("confirm", "yes")])
    assert done.status_code == 303
    assert await _tickets(db) == [n for n in range(1, 41) if n != 7], "only ticket 7 was deleted"

    lines = (await clerk.get("/admin/ticket/export.jsonl?q=%2312")).text.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [12]
    looked_up = await clerk.get("/admin/ticket/lookup?q=%2313", accept="application/json")
    assert [r["label"] for r in looked_up.json()["results"]] == ["Ticket 13 printer"]


async def test_a_replaced_count_step_leaves_paging_by_cursor_working(clerk):
    first = await clerk.get("/admin/note/")
    assert first.status_code == 200
    assert "10,000+</span>" in first.text, "the count the step gave, shown as a capped one"
    assert _rows(first.text, "note") == list(range(1, 26))
    following = re.search(r'<a href="([^"]+)"[^>]*rel="next"', first.text)
    assert following is not None, "an uncounted list still offers Next"
    second = await clerk.get(following.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    assert len(_rows(second.text, "note")) == 5
    assert not set(_rows(second.text, "note")) & set(_rows(first.text, "note"))
