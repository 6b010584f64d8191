"""Searching a browsed database (`make browse`) at the cost of its indexes: on SQLite an FTS5 trigram table
kept in step by triggers answers a table's search, as `ModelAdmin.sqlite_fts_table` does for a declared model,
and any other FTS5 table is left alone (LIKE answers); on PostgreSQL the search can use a pg_trgm index."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import SCRATCH, count_statements
from tests.hosts import Person
from webapp.admin.reflection import reflect_views
from webapp.browse import BrowseSettings, create_app

pytestmark = pytest.mark.anyio
SECRET = b"0123456789abcdef0123456789abcdef"

BOOK = (
    'CREATE TABLE "Book" ("BookId" INTEGER PRIMARY KEY, "Title" VARCHAR(120) NOT NULL, "Blurb" TEXT, '
    '"Isbn" VARCHAR(20))'
)
BOOK_FTS = (
    "CREATE VIRTUAL TABLE book_fts USING fts5(Title, Blurb, content='Book', content_rowid='BookId', tokenize='trigram')"
)
# What keeps an external-content FTS5 table in step, as SQLite's documentation writes it.
BOOK_TRIGGERS = (
    'CREATE TRIGGER book_ai AFTER INSERT ON "Book" BEGIN '
    "INSERT INTO book_fts(rowid, Title, Blurb) VALUES (new.BookId, new.Title, new.Blurb); END",
    'CREATE TRIGGER book_ad AFTER DELETE ON "Book" BEGIN '
    "INSERT INTO book_fts(book_fts, rowid, Title, Blurb) VALUES ('delete', old.BookId, old.Title, old.Blurb); END",
    'CREATE TRIGGER book_au AFTER UPDATE OF "Title", Blurb ON "Book" BEGIN '
    "INSERT INTO book_fts(book_fts, rowid, Title, Blurb) VALUES ('delete', old.BookId, old.Title, old.Blurb); "
    "INSERT INTO book_fts(rowid, Title, Blurb) VALUES (new.BookId, new.Title, new.Blurb); END",
)
BOOKS = [
    (1, "Dune", "A desert planet", "978-0441013593"),
    (2, "Neuromancer", "Cyberspace", "978-0441569595"),
    (3, "100% Pure_Joy", None, None),
    (4, "100 Pure Joy", None, None),
]
# Two more FTS5 tables that must not answer: one nobody keeps in step, one that indexes words.
NOTES = (
    "CREATE TABLE note (id INTEGER PRIMARY KEY, body VARCHAR(200) NOT NULL)",
    "CREATE VIRTUAL TABLE note_fts USING fts5(body, content='note', content_rowid='id', tokenize='trigram')",
    "INSERT INTO note (id, body) VALUES (1, 'Call the plumber')",
    "INSERT INTO note_fts(note_fts) VALUES ('rebuild')",
)
TAGS = (
    "CREATE TABLE tag (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)",
    "CREATE VIRTUAL TABLE tag_fts USING fts5(label, content='tag', content_rowid='id')",
    "CREATE TRIGGER tag_ai AFTER INSERT ON tag BEGIN INSERT INTO tag_fts(rowid, label) VALUES (new.id, new.label); END",
    "CREATE TRIGGER tag_ad AFTER DELETE ON tag BEGIN "
    "INSERT INTO tag_fts(tag_fts, rowid, label) VALUES ('delete', old.id, old.label); END",
    "CREATE TRIGGER tag_au AFTER UPDATE ON tag BEGIN "
    "INSERT INTO tag_fts(tag_fts, rowid, label) VALUES ('delete', old.id, old.label); "
    "INSERT INTO tag_fts(rowid, label) VALUES (new.id, new.label); END",
    "INSERT INTO tag (id, label) VALUES (1, 'Bookish'), (2, 'Noir')",
)


def _make(path: Path, statements: Sequence[str], books: Sequence[tuple[Any, ...]] = ()) -> str:
    with closing(sqlite3.connect(path)) as connection, connection:
        for statement in statements:
            connection.execute(statement)
        connection.executemany('INSERT INTO "Book" VALUES (?, ?, ?, ?)', books)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def shelf(tmp_path: Path) -> str:
    """A SQLite database of books (an FTS5 trigram index kept by triggers), notes and tags."""
    return _make(tmp_path / "shelf.sqlite3", [BOOK, BOOK_FTS, *BOOK_TRIGGERS, *NOTES, *TAGS], BOOKS)


@pytest.fixture
async def clerk(shelf: str, browse_state: tuple[str, Any]) -> AsyncIterator[Person]:
    app = create_app(BrowseSettings(database_url=shelf, state_url=browse_state[0], secret_key=SECRET))
    async with AsyncTestClient(app=app) as client:
        client.follow_redirects = False
        person = Person(client)
        await person.sign_in("clerk")
        yield person


def _titles(page: str) -> set[str]:
    return {title for _, title, _, _ in BOOKS if f">{title}<" in page} | set(re.findall(r">(New [^<]+)<", page))


def _fts(statements: list[str], table: str) -> bool:
    return any(re.search(rf'"?{table}"? MATCH', statement) for statement in statements)


async def test_a_book_search_reads_the_trigram_index_and_matches_as_like_does(clerk):
    with count_statements() as statements:
        found = await clerk.get("/admin/book/?q=DUNE")
    assert found.status_code == 200 and _titles(found.text) == {"Dune"}, "case-insensitive"
    assert _fts(statements, "book_fts"), statements
    assert not any("LIKE" in s for s in statements), "the index alone answers"
    assert _titles((await clerk.get("/admin/book/?q=esert planet")).text) == {"Dune"}, "a substring of the blurb"
    assert _titles((await clerk.get("/admin/book/?q=0%25 P")).text) == {"100% Pure_Joy"}, "% is just a character"
    assert _titles((await clerk.get("/admin/book/?q=e_J")).text) == {"100% Pure_Joy"}, "so is _"
    nothing = (await clerk.get("/admin/book/?q=e%25J")).text
    assert _titles(nothing) == set() and "No books match" in nothing
    assert _titles((await clerk.get("/admin/book/?q=0441")).text) == set(), "the ISBN is not indexed: not searched"


async def test_a_term_too_short_for_trigrams_is_searched_with_like_in_the_indexed_columns(clerk):
    with count_statements() as statements:
        found = await clerk.get("/admin/book/?q=uN")
    assert _titles(found.text) == {"Dune"}
    assert not _fts(statements, "book_fts") and any("LIKE" in s for s in statements)
    assert _titles((await clerk.get("/admin/book/?q=97")).text) == set(), "the ISBN still is not searched"


async def test_books_added_renamed_and_deleted_through_the_admin_are_found_as_they_are_now(clerk, shelf):
    added = await clerk.post("/admin/book/", {"Title": "New Wave", "Blurb": "Surf"})
    assert added.status_code == 303, added.text[:2000]
    assert _titles((await clerk.get("/admin/book/?q=new wave")).text) == {"New Wave"}
    renamed = await clerk.post("/admin/book/2", {"Title": "New Rose", "Blurb": "Cyberspace"})
    assert renamed.status_code == 303, renamed.text[:2000]
    assert _titles((await clerk.get("/admin/book/?q=uromancer")).text) == set()
    assert _titles((await clerk.get("/admin/book/?q=w Ros")).text) == {"New Rose"}
    assert (await clerk.post("/admin/book/1/delete", {})).status_code == 303
    assert _titles((await clerk.get("/admin/book/?q=dune")).text) == set()
    with closing(sqlite3.connect(shelf.removeprefix("sqlite+aiosqlite:///"))) as connection:
        titles = {title for (title,) in connection.execute('SELECT "Title" FROM "Book"')}
    assert titles == {"New Wave", "New Rose", "100% Pure_Joy", "100 Pure Joy"}


async def test_an_index_no_trigger_keeps_in_step_is_not_used(clerk):
    changed = await clerk.post("/admin/note/1", {"body": "Call the electrician"})
    assert changed.status_code == 303, changed.text[:2000]
    with count_statements() as statements:
        found = (await clerk.get("/admin/note/?q=electric")).text
    assert "Call the electrician" in found, "found by what it says now"
    assert not _fts(statements, "note_fts")
    assert "No notes match" in (await clerk.get("/admin/note/?q=plumber")).text, "not by what it said"


async def test_an_index_of_words_is_not_used_for_a_substring_search(clerk):
    with count_statements() as statements:
        found = (await clerk.get("/admin/tag/?q=ookis")).text
    assert ">Bookish<" in found and ">Noir<" not in found
    assert not _fts(statements, "tag_fts")


def _books(fts: str = BOOK_FTS, triggers: Sequence[str] = BOOK_TRIGGERS, table: str = BOOK) -> list[str]:
    return [table, fts, *triggers]


UPDATE_TRIGGER = BOOK_TRIGGERS[2]


@pytest.mark.parametrize(
    ("schema", "used"),  # used: True, False (and the log says why), None (not Book's index)
    [
        pytest.param(_books(), True, id="trigram-kept-by-triggers"),
        pytest.param(_books(BOOK_FTS.replace(", content_rowid='BookId'", "")), True, id="rowid-is-the-key"),
        pytest.param(
            _books(BOOK_FTS.replace(", content_rowid='BookId'", ""), table=BOOK.replace("INTEGER", "INT")),
            False,
            id="rowid-is-not-the-key",  # only an INTEGER PRIMARY KEY is the rowid
        ),
        pytest.param(_books(BOOK_FTS.replace("'BookId'", "'Isbn'")), False, id="rowid-another-column"),
        pytest.param(_books(BOOK_FTS.replace("'trigram'", '"trigram case_sensitive 0"')), True, id="said-case-0"),
        pytest.param(_books(BOOK_FTS.replace("'trigram'", "'trigram case_sensitive 1'")), False, id="case-sensitive"),
        pytest.param(_books(BOOK_FTS.replace("'trigram'", "'porter'")), False, id="words"),
        pytest.param(_books(BOOK_FTS.replace(", tokenize", ", detail=column, tokenize")), False, id="no-phrases"),
        # Not an index of Book's, as far as SQLite knows: not used, and not worth a word.
        pytest.param(_books(BOOK_FTS.replace("content='Book', content_rowid='BookId', ", "")), None, id="own-copy"),
        pytest.param(_books(triggers=BOOK_TRIGGERS[:2]), False, id="renames-missed"),
        pytest.param(_books(triggers=[BOOK_TRIGGERS[0], UPDATE_TRIGGER]), False, id="deleted-rows-stay"),
        pytest.param(
            _books(triggers=[*BOOK_TRIGGERS[:2], UPDATE_TRIGGER.replace(', Blurb ON "Book"', ' ON "Book"')]),
            False,
            id="blurb-changes-missed",
        ),
        pytest.param(
            _books(triggers=[*BOOK_TRIGGERS[:2], UPDATE_TRIGGER.replace("BEGIN", "WHEN new.Isbn IS NULL BEGIN")]),
            False,
            id="some-updates-missed",
        ),
    ],
)
async def test_an_fts5_table_serves_search_only_if_it_matches_as_like_and_is_kept_in_step(
    caplog, tmp_path, schema, used
):
    engine = create_async_engine(_make(tmp_path / "one.sqlite3", schema))
    try:
        (book,) = await reflect_views(engine)
    finally:
        await engine.dispose()
    assert book.sqlite_fts_table == ("book_fts" if used else None)
    assert list(book().search_fields) == (["Title", "Blurb"] if used else [])
    said = [r.getMessage() for r in caplog.records if r.name == "webapp.admin.sqlite_fts"]
    assert len(said) == (1 if used is False else 0), "an index that is not used says why"
    assert all(line.startswith("Book is searched with LIKE, not by the FTS5 table book_fts, which") for line in said)


# -- PostgreSQL -------------------------------------------------------------------------------------------


@contextmanager
def statements_with_parameters() -> Iterator[list[tuple[str, Any]]]:
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        sent.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", record)


@pytest.fixture
def pg_shelf() -> Iterator[str]:
    with SCRATCH["postgresql"]("admin_browse_search") as url:
        yield url


async def test_a_reflected_search_on_postgresql_can_use_a_trigram_index(pg_shelf, browse_state):
    engine = create_async_engine(pg_shelf)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        await connection.execute(
            text('CREATE TABLE "Book" ("BookId" serial PRIMARY KEY, "Title" varchar(120) NOT NULL)')
        )
        await connection.execute(text('CREATE INDEX book_title_trgm ON "Book" USING gin ("Title" gin_trgm_ops)'))
        await connection.execute(text("""INSERT INTO "Book" ("Title") VALUES ('Dune'), ('Neuromancer')"""))
    app = create_app(BrowseSettings(database_url=pg_shelf, state_url=browse_state[0], secret_key=SECRET))
    async with AsyncTestClient(app=app) as client:
        client.follow_redirects = False
        clerk = Person(client)
        await clerk.sign_in("clerk")
        with statements_with_parameters() as sent:
            found = await clerk.get("/admin/book/?q=UROMAN")
    assert ">Neuromancer<" in found.text and ">Dune<" not in found.text
    searches = [(statement, parameters) for statement, parameters in sent if "ILIKE" in statement]
    assert searches, [statement for statement, _ in sent]
    try:
        async with engine.connect() as connection:
            # Whether the index can serve the statement, not whether the planner prefers it on two rows.
            await connection.exec_driver_sql("SET enable_seqscan = off")
            for statement, parameters in searches:
                plan = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
                lines = "\n".join(row[0] for row in plan)
                assert "Index Scan on book_title_trgm" in lines, lines
    finally:
        await engine.dispose()
