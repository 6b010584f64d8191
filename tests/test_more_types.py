"""Column types of real schemas, each one unit (webapp/admin/types/): bytes (shown as their size, downloaded,
never typed), durations, and PostgreSQL's INET, CIDR and ARRAY. Each is posted as a form, refused with a
message on its field, shown, and carried through history and undo."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import ARRAY, Integer, Interval, LargeBinary, MetaData, String, select, text
from sqlalchemy.dialects.postgresql import CIDR, INET, JSONB
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tests.conftest import add_account
from tests.hosts import Person, own_tables, signed_in
from webapp.admin.models import AdminLogEntry

pytestmark = pytest.mark.anyio

PICTURE = bytes(range(256)) * 50  # 12,800 bytes, every byte value


class Base(DeclarativeBase):
    metadata = MetaData()


class Attachment(Base):
    __tablename__ = "types_attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    duration: Mapped[timedelta | None] = mapped_column(Interval)


class PgBase(DeclarativeBase):
    metadata = MetaData()


class Server(PgBase):
    __tablename__ = "types_server"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    address: Mapped[Any] = mapped_column(INET, nullable=True)
    network: Mapped[Any] = mapped_column(CIDR, nullable=True)
    ports: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))
    aliases: Mapped[list[str] | None] = mapped_column(ARRAY(String(20)))
    peers: Mapped[list[Any] | None] = mapped_column(ARRAY(INET))
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    async with own_tables(database_url, Base.metadata) as sessions:
        await add_account(sessions, "clerk", superuser=True)
        async with sessions() as session:
            session.add(Attachment(name="photo", data=PICTURE, duration=timedelta(hours=1, minutes=30)))
            await session.commit()
        yield sessions


@pytest.fixture
async def clerk(db: Any, database_url: str) -> AsyncIterator[Person]:
    async with signed_in(database_url, Base.metadata, [Attachment], "clerk") as person:
        yield person


async def _attachment(db: Any, key: int = 1) -> Attachment | None:
    async with db() as session:
        return await session.get(Attachment, key)


async def test_bytes_are_shown_by_size_and_downloaded_whole(clerk):
    detail = await clerk.get("/admin/attachment/1")
    assert '<a href="/admin/attachment/1/download/data" download>Download (12.5 KB)</a>' in detail.text
    download = await clerk.get("/admin/attachment/1/download/data")
    assert download.status_code == 200 and download.content == PICTURE
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"] == 'attachment; filename="attachment-1-data.bin"'
    assert (await clerk.get("/admin/attachment/1/download/name")).status_code == 404, "a text field is no file"
    assert (await clerk.get("/admin/attachment/9/download/data")).status_code == 404
    listing = await clerk.get("/admin/attachment/")
    assert "Download" not in listing.text, "bytes are not a default list column"
    (line,) = (await clerk.get("/admin/attachment/export.jsonl")).text.splitlines()
    assert json.loads(line)["data"] == PICTURE.hex() and json.loads(line)["duration"] == 5400.0
    assert PICTURE[:4].hex() in (await clerk.get("/admin/attachment/export.csv")).text
    assert (await clerk.post("/admin/attachment/", {"name": "no file"})).status_code == 303
    empty = await clerk.get("/admin/attachment/2/download/data")
    assert empty.status_code == 404 and "This attachment has no data." in empty.text


async def test_bytes_are_never_in_the_form_and_an_edit_keeps_them(clerk, db):
    form = await clerk.get("/admin/attachment/1/edit")
    assert 'name="data"' not in form.text and 'name="duration"' in form.text
    assert 'value="01:30:00"' in form.text
    saved = await clerk.post("/admin/attachment/1", {"name": "photo 2", "duration": "P1DT2H"})
    assert saved.status_code == 303
    kept = await _attachment(db)
    assert kept.name == "photo 2" and kept.data == PICTURE and kept.duration == timedelta(days=1, hours=2)
    assert "1 02:00:00" in (await clerk.get("/admin/attachment/")).text


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("3 04:05:06", timedelta(days=3, hours=4, minutes=5, seconds=6)), ("00:45", timedelta(minutes=45))],
)
async def test_a_duration_is_typed_as_days_and_a_clock_time(clerk, db, typed, stored):
    created = await clerk.post("/admin/attachment/", {"name": "clip", "duration": typed})
    assert created.status_code == 303, created.text[created.text.find("<main") :][:1500]
    async with db() as session:
        clip = await session.scalar(select(Attachment).where(Attachment.name == "clip"))
    assert clip.duration == stored and clip.data is None


async def test_a_bad_duration_is_a_message_on_its_field_and_writes_nothing(clerk, db):
    refused = await clerk.post("/admin/attachment/1", {"name": "renamed", "duration": "an hour"})
    assert refused.status_code == 422
    assert "Enter a valid duration (days hh:mm[:ss], e.g. 3 04:05:06)." in refused.text
    assert 'value="an hour"' in refused.text
    assert (await _attachment(db)).name == "photo"


async def test_a_duplicate_name_is_refused_with_the_right_article(clerk, db):
    duplicate = await clerk.post("/admin/attachment/", {"name": "photo"})
    assert duplicate.status_code == 422
    assert "An attachment with this name already exists." in duplicate.text


async def test_undo_of_a_delete_brings_back_the_bytes_and_the_duration(clerk, db):
    assert (await clerk.post("/admin/attachment/1/delete", {})).status_code == 303
    assert await _attachment(db) is None
    async with db() as session:
        entry = await session.scalar(select(AdminLogEntry).where(AdminLogEntry.action == "delete"))
    assert (await clerk.post("/admin/attachment/1/restore", {"entry": str(entry.id)})).status_code == 303
    back = await _attachment(db)
    assert back.data == PICTURE and back.duration == timedelta(hours=1, minutes=30)


# -- PostgreSQL's own types ------------------------------------------------------------------------------------


@pytest.fixture
async def pg_db(postgres_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    """The run's PostgreSQL database (these types are PostgreSQL's alone), its admin tables emptied."""
    async with own_tables(postgres_url, PgBase.metadata) as sessions:
        async with sessions() as session:
            tables = ", ".join(f'"{t.name}"' for t in AdminLogEntry.metadata.sorted_tables)
            await session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            await session.commit()
        await add_account(sessions, "clerk", superuser=True)
        yield sessions


@pytest.fixture
async def pg_clerk(pg_db: Any, postgres_url: str) -> AsyncIterator[Person]:
    async with signed_in(postgres_url, PgBase.metadata, [Server], "clerk") as person:
        yield person


GOOD_SERVER = {
    "name": "web",
    "address": "192.0.2.10/24",
    "network": "192.0.2.0/24",
    "ports": "80\n443\n",
    "aliases": "www\nstatic",
    "peers": "192.0.2.1\n2001:db8::1",
    "facts": '{"os": "debian"}',
}


async def _servers(pg_db: Any) -> list[Server]:
    async with pg_db() as session:
        return list(await session.scalars(select(Server).order_by(Server.id)))


async def test_addresses_networks_and_arrays_are_typed_in_a_form(pg_clerk, pg_db):
    created = await pg_clerk.post("/admin/server/", GOOD_SERVER)
    assert created.status_code == 303, created.text
    (server,) = await _servers(pg_db)
    assert server.address == ipaddress.ip_interface("192.0.2.10/24")
    assert server.network == ipaddress.ip_network("192.0.2.0/24")
    assert server.ports == [80, 443] and server.aliases == ["www", "static"] and server.facts == {"os": "debian"}
    listing = await pg_clerk.get("/admin/server/")
    assert "<td>80, 443</td>" in listing.text and "<td>192.0.2.10/24</td>" in listing.text
    form = await pg_clerk.get(f"/admin/server/{server.id}/edit")
    assert ">80\n443</textarea>" in form.text and "One item per line." in form.text
    (line,) = (await pg_clerk.get("/admin/server/export.jsonl")).text.splitlines()
    assert {"address": "192.0.2.10/24", "ports": [80, 443], "aliases": ["www", "static"]}.items() <= json.loads(
        line
    ).items()
    assert (await pg_clerk.get(f"/admin/server/{server.id}")).status_code == 200


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("address", "999.1.1.1", "Enter a valid IPv4 or IPv6 address."),
        ("network", "192.0.2.1/24", "Enter a network whose host bits are zero (e.g. 192.0.2.0/24)."),
        ("ports", "80\nhttp", "Line 2: Enter a whole number."),
        ("ports", "80\n99999999999", "Line 2: Ensure this value is between -2147483648 and 2147483647."),
        ("aliases", "www\n" + "x" * 21, "Line 2: Ensure this value has at most 20 characters (it has 21)."),
    ],
)
async def test_a_bad_address_network_or_item_is_a_message_and_writes_nothing(pg_clerk, pg_db, field, typed, message):
    refused = await pg_clerk.post("/admin/server/", {**GOOD_SERVER, field: typed})
    assert refused.status_code == 422
    assert message in refused.text
    assert await _servers(pg_db) == []


async def test_undo_of_a_delete_brings_back_addresses_and_arrays(pg_clerk, pg_db):
    assert (await pg_clerk.post("/admin/server/", GOOD_SERVER)).status_code == 303
    (server,) = await _servers(pg_db)
    assert (await pg_clerk.post(f"/admin/server/{server.id}/delete", {})).status_code == 303
    async with pg_db() as session:
        entry = await session.scalar(select(AdminLogEntry).where(AdminLogEntry.action == "delete"))
    assert entry.snapshot["ports"] == [80, 443] and entry.snapshot["network"] == "192.0.2.0/24"
    restored = await pg_clerk.post(f"/admin/server/{server.id}/restore", {"entry": str(entry.id)})
    assert restored.status_code == 303
    (back,) = await _servers(pg_db)
    assert back.ports == [80, 443] and back.address == ipaddress.ip_interface("192.0.2.10/24")
    assert back.peers == [ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("2001:db8::1")]
