"""Keys a real schema has: natural string keys, generated UUID keys and composite keys, with values that are
hostile in a URL (`/ , % ? # &`, spaces, unicode, an empty string, dot segments). Each key travels reversibly:
the links a page draws lead back to the same record through list, detail, edit, delete, history, restore,
bulk and export (webapp.admin.keys)."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import ForeignKey, MetaData, String, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tests.conftest import add_account
from tests.hosts import Person, own_tables, signed_in
from webapp.admin import ModelAdmin
from webapp.admin.keys import RecordKey, url_segment
from webapp.admin.models import AdminLogEntry

pytestmark = pytest.mark.anyio

HOSTILE = ["a/b", "x,y", "100%", "what?", "#top", "a&b=c", "two words", "ünï©ødé 字", "", "~", ".", "..", "+1", "%2F"]


class Base(DeclarativeBase):
    metadata = MetaData()


class Shelf(Base):
    """A natural string key, given by whoever adds the shelf."""

    __tablename__ = "shelf"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(80))


class Book(Base):
    """A UUID key the application generates."""

    __tablename__ = "book"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(80))
    shelf_code: Mapped[str | None] = mapped_column(ForeignKey("shelf.code"))
    shelf: Mapped[Shelf | None] = relationship()


class Placement(Base):
    """A composite key: an association object with a column of its own."""

    __tablename__ = "placement"
    shelf_code: Mapped[str] = mapped_column(ForeignKey("shelf.code"), primary_key=True)
    slot: Mapped[str] = mapped_column(String(40), primary_key=True)
    note: Mapped[str] = mapped_column(String(80), default="")
    shelf: Mapped[Shelf] = relationship()


class PlacementAdmin(ModelAdmin, model=Placement):
    list_display = ("shelf_code", "slot", "note")
    search_fields = ("note",)


ADMINS = [Shelf, Book, PlacementAdmin]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    async with own_tables(database_url, Base.metadata) as sessions:
        await add_account(sessions, "clerk", superuser=True)
        yield sessions


@pytest.fixture
async def clerk(db: async_sessionmaker[Any], database_url: str) -> AsyncIterator[Person]:
    async with signed_in(database_url, Base.metadata, ADMINS, "clerk") as person:
        yield person


def row_link(page: str, shown: str) -> str:
    """The detail link of the list row that shows `shown`, as a browser would follow it."""
    for row in re.findall(r"<tr id=.*?</tr>", page, flags=re.S):
        if f">{html.escape(shown)}<" in row:
            return html.unescape(re.search(r'<a href="([^"]+)"', row).group(1))
    raise AssertionError(f"no row shows {shown!r}")


def ticked(page: str) -> list[str]:
    """The values of the bulk form's checkboxes."""
    return [html.unescape(v) for v in re.findall(r'<input type="checkbox" name="ids" value="([^"]*)"', page)]


async def latest_entry(db: async_sessionmaker[Any], action: str) -> AdminLogEntry:
    async with db() as session:
        return await session.scalar(
            select(AdminLogEntry).where(AdminLogEntry.action == action).order_by(AdminLogEntry.id.desc()).limit(1)
        )


def test_a_key_text_round_trips_whatever_its_values():
    key = RecordKey(Placement)
    for value in HOSTILE:
        text = key.text(("s", value))
        assert key.parse(text) == ("s", value), value
        # The text is one URL path segment: no separator, no query, no fragment, no dot segment.
        assert "/" not in url_segment(text) and "?" not in url_segment(text) and "#" not in url_segment(text)
        assert url_segment(text) not in ("", ".", "..")
    assert RecordKey(Shelf).text(("42",)) == "42" and key.text(("a", "b")) == "a,b"
    assert key.parse("only-one-part") is None and key.parse("a,b,c") is None


async def test_a_natural_key_is_given_on_create_and_fixed_after(db, clerk):
    form = await clerk.get("/admin/shelf/new")
    assert 'name="code"' in form.text
    assert (await clerk.post("/admin/shelf/", {"code": "a/b", "title": "Poetry"})).status_code == 303
    detail = row_link((await clerk.get("/admin/shelf/")).text, "Poetry")
    assert detail == "/admin/shelf/a_2Fb"
    edit = await clerk.get(f"{detail}/edit")
    assert edit.status_code == 200 and 'name="code"' not in edit.text and "a/b" in edit.text
    # A key posted to the edit form is not a field of it: the record keeps its key.
    changed = await clerk.post(detail, {"code": "other", "title": "Verse"})
    assert changed.status_code == 303
    async with db() as session:
        assert [(s.code, s.title) for s in await session.scalars(select(Shelf))] == [("a/b", "Verse")]


async def test_a_taken_natural_key_is_a_message_on_its_field(db, clerk):
    assert (await clerk.post("/admin/shelf/", {"code": "north", "title": "Maps"})).status_code == 303
    again = await clerk.post("/admin/shelf/", {"code": "north", "title": "Atlases"})
    assert again.status_code == 422
    assert 'id="field-code-error">A shelf with this code already exists.' in again.text
    assert 'value="Atlases"' in again.text
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Shelf)) == 1


async def test_hostile_natural_keys_round_trip_through_every_route(db, clerk):
    for n, code in enumerate(HOSTILE):
        title = f"Shelf {n}"
        if code == "":
            # A form refuses a blank key ("This field is required."); a database may hold one all the same.
            async with db() as session:
                session.add(Shelf(code=code, title=title))
                await session.commit()
        else:
            created = await clerk.post("/admin/shelf/", {"code": code, "title": title})
            assert created.status_code == 303, (code, created.text)
        listed = (await clerk.get(f"/admin/shelf/?q={title}")).text
        detail = row_link(listed, title)
        page = await clerk.get(detail)
        assert page.status_code == 200 and title in page.text, code
        assert (await clerk.get(f"{detail}/edit")).status_code == 200
        assert (await clerk.post(detail, {"title": f"{title} (moved)"})).status_code == 303
        history = await clerk.get(f"{detail}/history")
        assert history.status_code == 200 and history.text.count("<li") >= 2 and "(moved)" in history.text
        assert (await clerk.post(f"{detail}/delete", {})).status_code == 303
        deleted = await latest_entry(db, "delete")
        assert RecordKey(Shelf).parse(deleted.object_pk) == (code,)
        restored = await clerk.post(f"{detail}/restore", {"entry": str(deleted.id)})
        assert restored.status_code == 303, (code, restored.text)
        assert (await clerk.get(detail)).status_code == 200
    async with db() as session:
        assert sorted(await session.scalars(select(Shelf.code))) == sorted(HOSTILE)
    exported = [json.loads(line)["code"] for line in (await clerk.get("/admin/shelf/export.jsonl")).text.splitlines()]
    assert sorted(exported) == sorted(HOSTILE)
    rows = list(csv.reader(io.StringIO((await clerk.get("/admin/shelf/export.csv")).text)))
    # (A cell that a spreadsheet would run as a formula, "+1", is exported with a leading quote.)
    assert sorted(row[0].removeprefix("'") for row in rows[1:]) == sorted(HOSTILE)
    # Bulk delete posts the checkboxes' values: every hostile key is deleted, and each gets its entry.
    listed = (await clerk.get("/admin/shelf/?per_page=100")).text
    chosen = ticked(listed)
    assert len(chosen) == len(HOSTILE)
    confirm = [("action", "delete"), *(("ids", key) for key in chosen)]
    assert (await clerk.post("/admin/shelf/bulk", confirm)).status_code == 200
    done = await clerk.post("/admin/shelf/bulk", [*confirm, ("confirm", "yes")])
    assert done.status_code == 303, done.text
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Shelf)) == 0
        entries = list(await session.scalars(select(AdminLogEntry.object_pk).where(AdminLogEntry.action == "delete")))
    assert sorted(RecordKey(Shelf).parse(e)[0] for e in entries[-len(HOSTILE) :]) == sorted(HOSTILE)


async def test_composite_keys_round_trip_and_name_their_own_record(db, clerk):
    async with db() as session:
        session.add_all([Shelf(code="n/1", title="North"), Shelf(code="s,2", title="South")])
        # A part of a key may be empty in the database (a form refuses a blank one).
        session.add(Placement(shelf_code="n/1", slot="", note="empty slot"))
        await session.commit()
    # The same slot under two shelves is two records.
    for shelf, slot, note in [("n/1", "x,y/z", "first"), ("s,2", "x,y/z", "second")]:
        created = await clerk.post("/admin/placement/", {"shelf_code": shelf, "slot": slot, "note": note})
        assert created.status_code == 303, created.text
    listed = (await clerk.get("/admin/placement/")).text
    for note, expected in [("first", ("n/1", "x,y/z")), ("second", ("s,2", "x,y/z")), ("empty slot", ("n/1", ""))]:
        detail = row_link(listed, note)
        page = await clerk.get(detail)
        assert page.status_code == 200 and note in page.text, (note, detail)
        edit = await clerk.get(f"{detail}/edit")
        assert edit.status_code == 200 and 'name="slot"' not in edit.text
        assert (await clerk.post(detail, {"note": f"{note}!"})).status_code == 303
        async with db() as session:
            assert (await session.get(Placement, expected)).note == f"{note}!"
        assert f"{note}!" in (await clerk.get(f"{detail}/history")).text
    # Deleting one of the twins leaves the other; Undo puts it back under its whole key.
    second = row_link((await clerk.get("/admin/placement/")).text, "second!")
    assert (await clerk.post(f"{second}/delete", {})).status_code == 303
    async with db() as session:
        assert await session.get(Placement, ("s,2", "x,y/z")) is None
        assert await session.get(Placement, ("n/1", "x,y/z")) is not None
    entry = await latest_entry(db, "delete")
    assert (await clerk.post(f"{second}/restore", {"entry": str(entry.id)})).status_code == 303
    async with db() as session:
        assert (await session.get(Placement, ("s,2", "x,y/z"))).note == "second!"
    # Search, sort and export walk composite keys too.
    assert "second!" in (await clerk.get("/admin/placement/?q=second&sort=-slot")).text
    lines = (await clerk.get("/admin/placement/export.jsonl")).text.splitlines()
    assert sorted((row["shelf_code"], row["slot"]) for row in map(json.loads, lines)) == [
        ("n/1", ""),
        ("n/1", "x,y/z"),
        ("s,2", "x,y/z"),
    ]
    chosen = ticked((await clerk.get("/admin/placement/?q=first")).text)
    assert chosen == [RecordKey(Placement).text(("n/1", "x,y/z"))]
    done = await clerk.post("/admin/placement/bulk", [("action", "delete"), ("ids", chosen[0]), ("confirm", "yes")])
    assert done.status_code == 303
    async with db() as session:
        remaining = sorted((p.shelf_code, p.slot) for p in await session.scalars(select(Placement)))
    assert remaining == [("n/1", ""), ("s,2", "x,y/z")]


async def test_generated_uuid_keys_reach_their_record(db, clerk):
    assert (await clerk.post("/admin/book/", {"title": "Dune"})).status_code == 303
    async with db() as session:
        book = await session.scalar(select(Book))
    detail = row_link((await clerk.get("/admin/book/")).text, "Dune")
    assert detail == f"/admin/book/{book.id}"
    assert (await clerk.post(detail, {"title": "Dune Messiah"})).status_code == 303
    assert "Dune Messiah" in (await clerk.get(f"{detail}/history")).text
    assert (await clerk.post(f"{detail}/delete", {})).status_code == 303
    entry = await latest_entry(db, "delete")
    assert (await clerk.post(f"{detail}/restore", {"entry": str(entry.id)})).status_code == 303
    async with db() as session:
        assert (await session.get(Book, book.id)).title == "Dune Messiah"


@pytest.mark.parametrize(
    "url",
    [
        "/admin/book/not-a-uuid",
        "/admin/book/not-a-uuid/edit",
        "/admin/book/not-a-uuid/history",
        "/admin/placement/only-one-part",
        "/admin/placement/a,b,c/edit",
        "/admin/placement/n_2F1,x/history",
        "/admin/shelf/missing",
    ],
)
async def test_a_key_that_names_no_record_is_a_404(db, clerk, url):
    response = await clerk.get(url)
    assert response.status_code == 404
    assert "Traceback" not in response.text


async def test_a_key_encoded_another_way_reaches_the_same_record_and_history(db, clerk):
    assert (await clerk.post("/admin/shelf/", {"code": "abc", "title": "Letters"})).status_code == 303
    # _61 is "a": the same key, written differently; its history is the record's.
    page = await clerk.get("/admin/shelf/_61bc/history")
    assert page.status_code == 200 and "Letters" in page.text and "<li" in page.text
