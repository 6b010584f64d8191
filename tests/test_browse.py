"""Browsing an existing database with no model code (`make browse`, webapp.browse): the schema of
tests/browse_schema.py, reflected on SQLite, PostgreSQL and MariaDB, with the admin's own tables in a state
database beside it. Every page of every table answers; forms write; deletes show, log and undo what the
database's own rules take along; a database that cannot be browsed is one clear message."""

from __future__ import annotations

import asyncio
import html
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import event, func, inspect, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from tests import browse_schema as db_schema
from tests.conftest import DATABASES, SCRATCH
from tests.hosts import Person
from tests.html_check import html_problems
from webapp.admin.models import AdminLogEntry
from webapp.admin.reflection import reflect_views
from webapp.admin.types.base import html as escaped
from webapp.browse import ADMIN_TABLES, BrowseSettings, create_app

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent
SECRET = b"0123456789abcdef0123456789abcdef"


async def _build(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(db_schema.build)
    await engine.dispose()


@pytest.fixture(scope="module", params=DATABASES)
def browsed_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database holding the schema and its rows, made once per database for the module."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('browsed')}/chinook.sqlite3"
        asyncio.run(_build(url))
        yield url
        return
    with SCRATCH[request.param]("admin_browse") as url:
        asyncio.run(_build(url))
        yield url


@pytest.fixture
async def clerk(browsed_url: str, browse_state: tuple[str, Any]) -> AsyncIterator[Person]:
    app = create_app(BrowseSettings(database_url=browsed_url, state_url=browse_state[0], secret_key=SECRET))
    async with AsyncTestClient(app=app) as client:
        client.follow_redirects = False
        person = Person(client)
        await person.sign_in("clerk")
        yield person


@pytest.fixture
async def browsed(browsed_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    engine = create_async_engine(browsed_url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


def _links(page: str, slug: str) -> list[str]:
    """The record pages a list links to, as a browser follows them."""
    found = re.findall(rf'<tr id="[^"]*">(?:<td><input[^>]*></td>)?<td><a href="(/admin/{slug}/[^"]+)"', page)
    return [html.unescape(link) for link in found]


async def test_every_table_and_view_is_named_from_the_schema(browsed_url):
    engine = create_async_engine(browsed_url)
    try:
        views = {view.slug: view() for view in await reflect_views(engine)}
    finally:
        await engine.dispose()
    expected = {
        "album", "album_summary", "artist", "country", "document", "employee", "membership", "order",
        "playlist", "product", "track", "user", "visit_log",
    }  # fmt: skip
    if "postgresql" in browsed_url:
        expected.add("sales_invoice_line")
        assert views["sales_invoice_line"].name_plural == "invoice lines (sales)"
    assert set(views) == expected, "PlaylistTrack links playlists and tracks: not a model of its own"
    assert (views["album"].name, views["album"].name_plural) == ("album", "albums")
    track = views["track"]
    assert (track.fields["AlbumId"].label, track.fields["AlbumId"].relationship) == ("Album", "album")
    assert track.fields["playlists"].type.many
    assert views["playlist"].fields["tracks"].type.many, "the association is a many-to-many on both sides"
    assert views["employee"].fields["ReportsTo"].related_model is views["employee"].model
    assert views["employee"].label_names == ("FirstName", "LastName")
    assert views["album"].label_names == ("Title",)
    assert set(views["membership"].key.names) == {"order_id", "user_id"}
    assert views["album_summary"].read_only and not views["album_summary"].record_pages
    assert views["visit_log"].read_only and not views["visit_log"].record_pages
    assert not views["track"].read_only and "Explicit" not in {f.name for f in track.create_fields if f.required}
    assert type(track.fields["Explicit"].type).__name__ == "BooleanType", "MariaDB's TINYINT(1) too"
    if "sqlite" not in browsed_url:  # SQLite keeps an enum as VARCHAR: its choices are not in the schema
        assert type(track.fields["Kind"].type).__name__ == "EnumType", "the database's own enum type"


LIST_BUDGET = 40_000  # the model admin's list budget (tests/test_budgets.py), read strictly


async def test_a_table_of_long_values_lists_its_short_columns_within_the_budget(clerk):
    listed = await clerk.get("/admin/product/")
    assert listed.status_code == 200 and listed.text.count('<tr id="product-') == 50
    assert len(listed.content) < LIST_BUDGET, len(listed.content)
    assert html_problems(listed.text) == []
    headers = re.findall(r'<th scope="col"[^>]*>(?:<a [^>]*>)?([^<]+)', listed.text)
    assert headers == ["Product", "Title", "Sku", "Price", "Stock", "Weight", "Active"], (
        "the key, the naming column, then the short columns in the table's order, seven at most"
    )
    first = db_schema.product_row(1)
    assert first["Title"] not in listed.text and f"<td>{first['Title'][:79]}…</td>" in listed.text, "cut short"
    assert f'aria-label="Select {first["Title"][:39]}…"' in listed.text, "and shorter in its controls' names"
    for left_out in ("Summary", "Description", "Specs", "Photo", "AddedOn", "Colour", "Updated"):
        assert left_out not in headers and f"?sort={left_out}" not in listed.text, left_out
    searched = await clerk.get("/admin/product/?q=end+of+summary+7")
    assert ">SKU-0007<" in searched.text, "a column left out of the list is still searched"


async def test_a_record_of_long_values_shows_every_one_of_them_in_full_on_its_page(clerk):
    listed = await clerk.get("/admin/product/")
    (link,) = [link for link in _links(listed.text, "product") if link.endswith("/1")]
    page = await clerk.get(link)
    assert page.status_code == 200 and html_problems(page.text) == []
    row = db_schema.product_row(1)
    for name in ("Sku", "Summary", "Title", "Colour", "Size", "Description"):
        assert escaped(str(row[name])) in page.text, name
    assert escaped('"notes": ["a note that is not short at all"') in page.text, "the JSON document"
    assert f'href="{link}/download/Photo"' in page.text and "Download (2.0 KB)" in page.text
    for label in ("Added on", "Updated at", "Colour", "Size", "Summary", "Description", "Specs", "Photo"):
        assert f"<dt>{label}</dt>" in page.text, label


async def test_every_page_of_every_table_answers(clerk):
    index = await clerk.get("/admin/")
    assert index.status_code == 200
    slugs = sorted(set(re.findall(r'href="/admin/([a-z0-9_]+)/"', index.text)) - {"account"})
    assert "album" in slugs and "visit_log" in slugs
    failures = []
    for slug in slugs:
        listed = await clerk.get(f"/admin/{slug}/")
        assert listed.status_code == 200, (slug, listed.text[:300])
        urls = [f"/admin/{slug}/?q=a", f"/admin/{slug}/?q=%25", f"/admin/{slug}/export.csv", f"/admin/{slug}/new"]
        urls += [f"/admin/{slug}/export.jsonl"]
        for link in _links(listed.text, slug)[:3]:
            urls += [link, f"{link}/edit", f"{link}/history", f"{link}/delete"]
        for url in urls:
            response = await clerk.get(url)
            if response.status_code not in (200, 403):
                failures.append((url, response.status_code))
    assert failures == []


async def test_a_record_is_added_and_changed_through_its_form(clerk, browsed):
    form = await clerk.get("/admin/album/new")
    assert form.status_code == 200 and 'name="Title"' in form.text and "Aerosmith" in form.text
    assert 'name="AlbumId"' not in form.text, "the database numbers albums"
    added = await clerk.post("/admin/album/", {"Title": "Pump", "ArtistId": "3"})
    assert added.status_code == 303, added.text[:2000]
    albums = db_schema.album
    async with browsed() as session:
        album_id = await session.scalar(select(albums.c.AlbumId).where(albums.c.Title == "Pump"))
    changed = await clerk.post(f"/admin/album/{album_id}", {"Title": "Pump (remaster)", "ArtistId": "3"})
    assert changed.status_code == 303, changed.text[:2000]
    async with browsed() as session:
        row = (await session.execute(select(albums).where(albums.c.AlbumId == album_id))).one()
    assert (row.Title, row.ArtistId) == ("Pump (remaster)", 3)
    too_big = await clerk.post(
        "/admin/track/1", {"Name": "Track 1", "Milliseconds": "1", "UnitPrice": "1", "Rating": "40000"}
    )
    assert too_big.status_code == 422 and 'value="40000"' in too_big.text
    async with browsed() as session:
        assert await session.scalar(select(db_schema.track.c.Rating).where(db_schema.track.c.TrackId == 1)) == 1


async def test_a_delete_shows_logs_and_undoes_what_the_database_cascades(clerk, browsed, browse_state):
    confirm = await clerk.get("/admin/artist/2/delete")
    assert confirm.status_code == 200
    assert "2 albums" in confirm.text and "Balls to the Wall" in confirm.text
    assert "6 tracks" in confirm.text
    deleted = await clerk.post("/admin/artist/2/delete", {})
    assert deleted.status_code == 303
    async with browsed() as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(db_schema.album).where(db_schema.album.c.ArtistId == 2)
            )
            == 0
        )
        assert (
            await session.scalar(
                select(func.count()).select_from(db_schema.track).where(db_schema.track.c.AlbumId.in_([2, 3]))
            )
            == 0
        )
    async with browse_state[1]() as session:
        entries = (await session.scalars(select(AdminLogEntry).where(AdminLogEntry.action == "delete"))).all()
    assert sorted(e.model for e in entries) == sorted(["artist"] + ["album"] * 2 + ["track"] * 6)
    (root,) = [e for e in entries if e.model == "artist"]
    assert all(e.part_of_id == root.id for e in entries if e is not root)
    restored = await clerk.post("/admin/artist/2/restore", {"entry": str(root.id)})
    assert restored.status_code in (200, 303), restored.text[:2000]
    async with browsed() as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(db_schema.album).where(db_schema.album.c.ArtistId == 2)
            )
            == 2
        )
        assert (
            await session.scalar(
                select(func.count()).select_from(db_schema.track).where(db_schema.track.c.AlbumId.in_([2, 3]))
            )
            == 6
        )
        links = await session.scalar(select(func.count()).select_from(db_schema.playlist_track))
    assert links == 6


async def test_natural_keys_with_hostile_values_round_trip(clerk, browsed):
    listed = await clerk.get("/admin/country/")
    links = _links(listed.text, "country")
    assert len(links) == len(db_schema.HOSTILE_CODES)
    shown = {}
    for link in links:
        detail = await clerk.get(link)
        assert detail.status_code == 200, link
        shown[link] = detail.text
    (target,) = [link for link, page in shown.items() if "Land 0" in page]  # the country "a/b"
    assert target == "/admin/country/a_2Fb" and "a/b" in shown[target]
    changed = await clerk.post(target, {"name": "Renamed"})
    assert changed.status_code == 303
    async with browsed() as session:
        assert (
            await session.scalar(select(db_schema.country.c.name).where(db_schema.country.c.code == "a/b")) == "Renamed"
        )


async def test_the_browsed_schema_is_left_as_it_was_and_history_commits_first(clerk, browsed_url, browse_state):
    engine = create_async_engine(browsed_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    assert not tables & ADMIN_TABLES, "the admin's tables live in the state database"
    order: list[str] = []
    app_config = clerk.client.app.plugins.get("SQLAlchemyPlugin")._config[0]  # type: ignore[union-attr]
    state_engine = app_config.get_engine().sync_engine
    (browsed_engine,) = {bind.sync_engine for bind in app_config.session_config.binds.values()}
    event.listen(state_engine, "commit", lambda _c: order.append("state"))
    event.listen(browsed_engine, "commit", lambda _c: order.append("browsed"))
    changed = await clerk.post("/admin/playlist/1", {"Name": "Music (all)"})
    assert changed.status_code == 303, changed.text[:2000]
    assert order[:2] == ["state", "browsed"], order
    async with browse_state[1]() as session:
        entry = await session.scalar(select(AdminLogEntry).where(AdminLogEntry.model == "playlist"))
    assert entry is not None and entry.action == "update"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a database url", "is not a database URL"),
        ("nosuchdialect+x://h/db", "no database dialect"),
        ("postgresql+psycopg2://postgres@127.0.0.1/test", "driver for 'postgresql+psycopg2' is not installed"),
        ("sqlite:///{tmp}/empty.sqlite3", "is not an asyncio driver"),
        ("postgresql+asyncpg://postgres@127.0.0.1:1/test", "cannot reach the database"),
        ("sqlite+aiosqlite:///{tmp}/missing.sqlite3", "there is no SQLite database"),
        ("sqlite+aiosqlite:///{tmp}/empty.sqlite3", "has no tables or views"),
    ],
)
def test_a_database_that_cannot_be_browsed_is_one_clear_message(tmp_path, url, says):
    (tmp_path / "empty.sqlite3").write_bytes(b"")
    env = {
        **os.environ,
        "DATABASE_URL": url.format(tmp=tmp_path),
        "ADMIN_STATE_URL": f"sqlite+aiosqlite:///{tmp_path}/s.sqlite3",
    }
    ran = subprocess.run(
        [sys.executable, "-c", "from webapp.browse import create_app; create_app()"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 1
    assert "Traceback" not in ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("make browse: ") and says in lines[0], ran.stderr


async def test_a_sqlite_table_of_text_columns_is_named_listed_and_searched_by_its_title(tmp_path, browse_state):
    """TEXT is SQLite's usual string type: a column called Title names the rows even so, heads the list after the
    key and is searched; a long TEXT column is still left out of the list and kept whole on the record's page."""
    path = tmp_path / "films.sqlite3"
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute('CREATE TABLE "Film" ("FilmId" INTEGER PRIMARY KEY, "Title" TEXT NOT NULL, "Plot" TEXT)')
        connection.execute("INSERT INTO \"Film\" VALUES (1, 'Alien', ?), (2, 'Heat', 'A heist')", ("In space " * 40,))
    app = create_app(
        BrowseSettings(database_url=f"sqlite+aiosqlite:///{path}", state_url=browse_state[0], secret_key=SECRET)
    )
    async with AsyncTestClient(app=app) as client:
        client.follow_redirects = False
        person = Person(client)
        await person.sign_in("clerk")
        listed = await person.get("/admin/film/")
        assert listed.status_code == 200
        header = re.search(r"<thead[^>]*>(.*?)</thead>", listed.text, re.S)
        assert header is not None and "Title" in header.group(1) and "Plot" not in header.group(1)
        assert "Film #1" not in listed.text and ">Alien<" in listed.text
        found = await person.get("/admin/film/?q=hea")
        assert ">Heat<" in found.text and ">Alien<" not in found.text
        detail = await person.get("/admin/film/1")
        assert "<h1>Alien</h1>" in detail.text or "Alien" in re.search(r"<h1[^>]*>(.*?)</h1>", detail.text, re.S).group(
            1
        )
        assert ("In space " * 40).strip() in html.unescape(detail.text)
