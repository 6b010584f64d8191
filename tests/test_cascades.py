"""Deletes that lose nothing (webapp.admin.cascade): the confirmation names what a delete removes and changes,
followed through every level (ORM cascades, ON DELETE CASCADE, keys set to NULL by the ORM or by ON DELETE SET
NULL, many-to-many links from either side); a delete the database would refuse is refused before the post;
every row touched gets its history entry; Undo puts the whole set back, or refuses and writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Column, ForeignKey, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tests.conftest import add_account
from tests.hosts import HTMX, Person, own_tables, signed_in
from webapp.admin.models import AdminLogEntry

pytestmark = pytest.mark.anyio


class Base(DeclarativeBase):
    metadata = MetaData()


author_genre = Table(
    "author_genre",
    Base.metadata,
    Column("author_id", ForeignKey("author.id", ondelete="CASCADE"), primary_key=True),
    Column("genre_id", ForeignKey("genre.id", ondelete="CASCADE"), primary_key=True),
)
# Linked from the award's side only: the author's mapper knows nothing of it.
award_winner = Table(
    "award_winner",
    Base.metadata,
    Column("award_id", ForeignKey("award.id", ondelete="CASCADE"), primary_key=True),
    Column("author_id", ForeignKey("author.id", ondelete="CASCADE"), primary_key=True),
)


class Genre(Base):
    __tablename__ = "genre"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    # Level 2, removed by the ORM's cascade.
    books: Mapped[list[Book]] = relationship(cascade="all, delete-orphan")
    # Set to NULL by the ORM (no delete cascade).
    reviews: Mapped[list[Review]] = relationship()
    genres: Mapped[list[Genre]] = relationship(secondary=author_genre)


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(40))
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))


class Chapter(Base):
    """Level 3, removed by ON DELETE CASCADE: no ORM relationship leads here from a book."""

    __tablename__ = "chapter"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(40))
    book_id: Mapped[int] = mapped_column(ForeignKey("book.id", ondelete="CASCADE"))


class Note(Base):
    """Set to NULL by ON DELETE SET NULL, a level further down; its model has no admin page."""

    __tablename__ = "note"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(40))
    chapter_id: Mapped[int | None] = mapped_column(ForeignKey("chapter.id", ondelete="SET NULL"))


class Review(Base):
    __tablename__ = "review"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(40))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("author.id"))


class Award(Base):
    __tablename__ = "award"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    winners: Mapped[list[Author]] = relationship(secondary=award_winner)


class Publisher(Base):
    __tablename__ = "publisher"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


class Contract(Base):
    """Refers to its publisher with no ON DELETE: the database refuses the publisher's delete."""

    __tablename__ = "contract"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    publisher_id: Mapped[int] = mapped_column(ForeignKey("publisher.id"))


ADMINS = [Author, Book, Chapter, Review, Genre, Award, Publisher, Contract]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    async with own_tables(database_url, Base.metadata) as sessions:
        await add_account(sessions, "clerk", superuser=True)
        async with sessions() as session:
            fantasy, poetry = Genre(id=1, name="Fantasy"), Genre(id=2, name="Poetry")
            ursula = Author(id=1, name="Ursula", genres=[fantasy, poetry])
            other = Author(id=2, name="Other", genres=[fantasy])
            # Level by level: without relationships between them, the ORM does not order these inserts.
            levels = [
                [ursula, other, Publisher(id=1, name="Ace"), Publisher(id=2, name="Unused")],
                [
                    Book(id=1, title="Earthsea", author_id=1),
                    Book(id=2, title="Lathe", author_id=1),
                    Book(id=3, title="Elsewhere", author_id=2),
                    Review(id=1, text="Superb", author_id=1),
                    Review(id=2, text="Fine", author_id=2),
                    Award(id=1, name="Hugo", winners=[ursula]),
                    Contract(id=1, name="Contract A", publisher_id=1),
                ],
                [
                    Chapter(id=1, title="Ged", book_id=1),
                    Chapter(id=2, title="Roke", book_id=1),
                    Chapter(id=3, title="Orr", book_id=2),
                    Chapter(id=4, title="Far", book_id=3),
                ],
                [Note(id=1, text="about Ged", chapter_id=1), Note(id=2, text="about Far", chapter_id=4)],
            ]
            for level in levels:
                session.add_all(level)
                await session.flush()
            await session.commit()
        yield sessions


@pytest.fixture
async def clerk(db: async_sessionmaker[Any], database_url: str) -> AsyncIterator[Person]:
    async with signed_in(database_url, Base.metadata, ADMINS, "clerk") as person:
        yield person


async def state(db: async_sessionmaker[Any]) -> dict[str, Any]:
    """Every row of the schema, to compare before and after."""
    async with db() as session:
        out: dict[str, Any] = {}
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table).order_by(*table.primary_key.columns))).all()
            out[table.name] = [tuple(row) for row in rows]
        return out


async def test_the_confirmation_names_everything_the_delete_takes_along(db, clerk):
    page = (await clerk.get("/admin/author/1/delete")).text
    assert "Delete the author “Ursula”?" in page
    assert "2 books" in page and ">Earthsea</a>" in page and ">Lathe</a>" in page
    assert "3 chapters" in page and ">Ged</a>" in page and ">Orr</a>" in page
    assert "2 links in author_genre" in page and "1 link in award_winner" in page
    assert "Left in place, no longer pointing at it" in page
    assert "1 review" in page and ">Superb</a>" in page
    # A model without an admin page is named, not linked.
    assert "1 note: about Ged" in page
    assert "Elsewhere" not in page and "Far" not in page and "Fine" not in page
    assert 'type="submit" class="danger">Yes, delete' in page
    inline = (await clerk.get("/admin/author/1/delete", **HTMX)).text
    assert "2 books deleted" in inline and "3 chapters deleted" in inline and "1 review unlinked" in inline
    assert "hx-delete=" in inline


async def test_a_delete_logs_every_row_it_touches_and_undo_puts_them_all_back(db, clerk):
    before = await state(db)
    assert (await clerk.post("/admin/author/1/delete", {})).status_code == 303
    after = await state(db)
    assert [row[0] for row in after["author"]] == [2]
    assert [row[0] for row in after["book"]] == [3]
    assert [row[0] for row in after["chapter"]] == [4]
    assert after["note"] == [(1, "about Ged", None), (2, "about Far", 4)]
    assert after["review"] == [(1, "Superb", None), (2, "Fine", 2)]
    assert after["author_genre"] == [(2, 1)] and after["award_winner"] == []
    async with db() as session:
        entries = list(await session.scalars(select(AdminLogEntry).order_by(AdminLogEntry.id)))
    (root,) = [e for e in entries if e.part_of_id is None]
    assert (root.model, root.object_pk, root.action) == ("author", "1", "delete")
    took = sorted((e.model, e.object_pk, e.action) for e in entries if e.part_of_id == root.id)
    assert took == [
        ("book", "1", "delete"),
        ("book", "2", "delete"),
        ("chapter", "1", "delete"),
        ("chapter", "2", "delete"),
        ("chapter", "3", "delete"),
        ("note", "1", "update"),
        ("review", "1", "update"),
    ]
    # Each row's own history shows what happened to it.
    assert "Delete" in (await clerk.get("/admin/chapter/2/history")).text
    review = (await clerk.get("/admin/review/1/history")).text
    assert "Author" in review and "Update" in review

    undone = await clerk.post("/admin/author/1/restore", {"entry": str(root.id)})
    assert undone.status_code == 303, undone.text
    assert await state(db) == before
    async with db() as session:
        marked = {e.id: e.restored for e in await session.scalars(select(AdminLogEntry))}
    assert all(marked[e.id] for e in entries if e.action == "delete")
    # Undone once, it cannot be undone twice.
    again = await clerk.post("/admin/author/1/restore", {"entry": str(root.id)})
    assert again.status_code == 409 and await state(db) == before


async def test_undo_refuses_and_writes_nothing_when_a_detached_row_was_relinked(db, clerk):
    assert (await clerk.post("/admin/author/1/delete", {})).status_code == 303
    async with db() as session:
        (await session.get(Review, 1)).author_id = 2
        await session.commit()
        root = await session.scalar(select(AdminLogEntry).where(AdminLogEntry.part_of_id.is_(None)))
    before = await state(db)
    async with db() as session:
        entries_before = await session.scalar(select(func.count()).select_from(AdminLogEntry))
    refused = await clerk.post("/admin/author/1/restore", {"entry": str(root.id)})
    assert refused.status_code == 409
    assert "“Superb” has been linked elsewhere since" in refused.text
    assert await state(db) == before
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(AdminLogEntry)) == entries_before


async def test_a_delete_the_database_would_refuse_is_refused_before_the_post(db, clerk):
    page = (await clerk.get("/admin/publisher/1/delete")).text
    assert "This cannot be deleted" in page and "1 contract still refer to it" in page.replace("refers", "refer")
    assert "Contract A" in page and "Yes, delete" not in page
    inline = (await clerk.get("/admin/publisher/1/delete", **HTMX)).text
    assert "cannot be deleted" in inline and "Contract A" in inline and "hx-delete" not in inline
    before = await state(db)
    refused = await clerk.post("/admin/publisher/1/delete", {})
    assert refused.status_code == 409 and "Contract A" in refused.text
    assert await state(db) == before
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(AdminLogEntry)) == 0
    # The publisher nobody refers to goes as before.
    assert (await clerk.post("/admin/publisher/2/delete", {})).status_code == 303


async def test_a_bulk_delete_confirms_and_logs_each_records_set(db, clerk):
    confirm = await clerk.post("/admin/author/bulk", [("action", "delete"), ("ids", "1"), ("ids", "2")])
    assert confirm.status_code == 200
    assert "3 books" in confirm.text and "4 chapters" in confirm.text and "2 reviews" in confirm.text
    before = await state(db)
    done = await clerk.post(
        "/admin/author/bulk", [("action", "delete"), ("ids", "1"), ("ids", "2"), ("confirm", "yes")]
    )
    assert done.status_code == 303
    async with db() as session:
        entries = list(await session.scalars(select(AdminLogEntry)))
    roots = {e.id: e.object_pk for e in entries if e.part_of_id is None}
    books = {e.object_pk: roots[e.part_of_id] for e in entries if e.model == "book"}
    assert books == {"1": "1", "2": "1", "3": "2"}
    for entry_id, key in roots.items():
        assert (await clerk.post(f"/admin/author/{key}/restore", {"entry": str(entry_id)})).status_code == 303
    assert await state(db) == before


async def test_a_blocked_bulk_delete_writes_nothing(db, clerk):
    confirm = await clerk.post("/admin/publisher/bulk", [("action", "delete"), ("ids", "1"), ("ids", "2")])
    assert "This cannot be deleted" in confirm.text and "Yes, delete" not in confirm.text
    before = await state(db)
    done = await clerk.post(
        "/admin/publisher/bulk", [("action", "delete"), ("ids", "1"), ("ids", "2"), ("confirm", "yes")]
    )
    assert done.status_code in (303, 409)
    assert await state(db) == before
