"""A realistic schema nobody wrote model code for, with every shape the browse issue names: CamelCase names, a
self-referencing foreign key, nullable foreign keys, ON DELETE CASCADE and SET NULL, a pure association table
(a many-to-many on both sides), an association object with a column of its own, reserved words as names, a
natural string key with hostile values, a UUID key, a table without a primary key, a view, server defaults,
and the common column types. Made with SQLAlchemy Core, so one definition builds it on SQLite, PostgreSQL and
MariaDB; on PostgreSQL a table lives outside `public` too."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    Interval,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    Uuid,
    false,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB

HOSTILE_CODES = ["a/b", "x,y", "100%", "what?", "two words", "ünï©ødé"]
SALES_SCHEMA = "sales"

schema = MetaData()

artist = Table("Artist", schema, Column("ArtistId", Integer, primary_key=True), Column("Name", String(120)))
album = Table(
    "Album",
    schema,
    Column("AlbumId", Integer, primary_key=True),
    Column("Title", String(160), nullable=False),
    Column("ArtistId", Integer, ForeignKey("Artist.ArtistId", ondelete="CASCADE"), nullable=False),
)
track = Table(
    "Track",
    schema,
    Column("TrackId", Integer, primary_key=True),
    Column("Name", String(200), nullable=False),
    Column("AlbumId", Integer, ForeignKey("Album.AlbumId", ondelete="CASCADE")),
    Column("Milliseconds", Integer, nullable=False),
    Column("Bytes", BigInteger),
    Column("UnitPrice", Numeric(10, 2), nullable=False),
    Column("Rating", SmallInteger),
    Column("Loudness", Float),
    Column("Released", Date),
    Column("StartsAt", Time),
    Column("Explicit", Boolean, nullable=False, server_default=false()),
    Column("Kind", Enum("single", "album", "live", name="track_kind")),
)
employee = Table(
    "Employee",
    schema,
    Column("EmployeeId", Integer, primary_key=True),
    Column("FirstName", String(40), nullable=False),
    Column("LastName", String(40), nullable=False),
    Column("ReportsTo", Integer, ForeignKey("Employee.EmployeeId", ondelete="SET NULL")),
    Column("HiredAt", DateTime, server_default=func.current_timestamp()),
)
playlist = Table("Playlist", schema, Column("PlaylistId", Integer, primary_key=True), Column("Name", String(120)))
playlist_track = Table(
    "PlaylistTrack",
    schema,
    Column("PlaylistId", Integer, ForeignKey("Playlist.PlaylistId", ondelete="CASCADE"), primary_key=True),
    Column("TrackId", Integer, ForeignKey("Track.TrackId", ondelete="CASCADE"), primary_key=True),
)
order = Table(
    "order",
    schema,
    Column("id", Integer, primary_key=True),
    Column("group", String(40), nullable=False),
    Column("select", String(40)),
)
user = Table("user", schema, Column("id", Integer, primary_key=True), Column("username", String(40), nullable=False))
membership = Table(
    "membership",
    schema,
    Column("order_id", Integer, ForeignKey("order.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(20), nullable=False),
)
country = Table("country", schema, Column("code", String(20), primary_key=True), Column("name", String(80)))
document = Table(
    "document",
    schema,
    Column("id", Uuid, primary_key=True),
    Column("title", String(120), nullable=False),
    Column("body", Text),
    Column("scan", LargeBinary),
)
visit_log = Table("visit_log", schema, Column("path", String(200), nullable=False), Column("hits", Integer))
# Long values in every form a schema keeps them (a long title that names the row, a long string, text, JSON,
# bytes) among more short columns than a list shows.
product = Table(
    "Product",
    schema,
    Column("ProductId", Integer, primary_key=True),
    Column("Sku", String(40), nullable=False),
    Column("Summary", String(1000)),
    Column("Title", String(300), nullable=False),
    Column("Price", Numeric(10, 2), nullable=False),
    Column("Stock", Integer, nullable=False),
    Column("Weight", Float),
    Column("Active", Boolean, nullable=False, server_default=false()),
    Column("AddedOn", Date),
    Column("Colour", String(20)),
    Column("Size", String(10)),
    Column("UpdatedAt", DateTime),
    Column("Description", Text),
    Column("Specs", JSON),
    Column("Photo", LargeBinary),
)
PRODUCTS = 60

# PostgreSQL only: a CamelCase table in a schema of its own, referring to one in the default schema.
sales = MetaData(schema=SALES_SCHEMA)
invoice_line = Table(
    "InvoiceLine",
    sales,
    Column("InvoiceLineId", Integer, primary_key=True),
    Column("TrackId", Integer, ForeignKey(track.c.TrackId, ondelete="RESTRICT"), nullable=False),
    Column("Quantity", Integer, nullable=False),
    Column("Tags", ARRAY(String(20))),
    Column("Meta", JSONB),
    Column("ClientIp", INET),
    Column("Lead", Interval),
)

DOCUMENT_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def build(connection: Connection) -> None:
    """The schema, its view and its rows, on an empty database."""
    schema.create_all(connection)
    summary = (
        select(
            album.c.AlbumId.label("album_id"), album.c.Title.label("title"), func.count(track.c.TrackId).label("tracks")
        )
        .select_from(album.outerjoin(track, track.c.AlbumId == album.c.AlbumId))
        .group_by(album.c.AlbumId, album.c.Title)
    )
    compiled = summary.compile(connection, compile_kwargs={"literal_binds": True})
    connection.execute(text(f"CREATE VIEW album_summary AS {compiled}"))
    _seed(connection)
    if connection.dialect.name == "postgresql":
        # The rows came with their ids: move each serial column's sequence past them, as a restore would.
        quote = connection.dialect.identifier_preparer.quote
        for table in (artist, album, track, employee, playlist, order, user):
            (key,) = table.primary_key.columns
            highest = f"(SELECT max({quote(key.name)}) FROM {quote(table.name)})"
            serial = text(f"SELECT setval(pg_get_serial_sequence(:t, :c), {highest})")
            connection.execute(serial, {"t": quote(table.name), "c": key.name})
        connection.execute(text(f"CREATE SCHEMA {SALES_SCHEMA}"))
        sales.create_all(connection)
        line = {"InvoiceLineId": 1, "TrackId": 1, "Quantity": 2, "Tags": ["gift", "a,b"], "Meta": {"note": "<b>"}}
        line |= {"ClientIp": "192.0.2.1", "Lead": timedelta(days=2, hours=3)}
        connection.execute(invoice_line.insert(), [line])


def _seed(connection: Connection) -> None:
    connection.execute(
        artist.insert(), [{"ArtistId": n, "Name": name} for n, name in ((1, "AC/DC"), (2, "Accept"), (3, "Aerosmith"))]
    )
    connection.execute(
        album.insert(),
        [
            {"AlbumId": 1, "Title": "Back in Black", "ArtistId": 1},
            {"AlbumId": 2, "Title": "Balls to the Wall", "ArtistId": 2},
            {"AlbumId": 3, "Title": "Restless and Wild", "ArtistId": 2},
            {"AlbumId": 4, "Title": "Big Ones", "ArtistId": 3},
        ],
    )
    connection.execute(
        track.insert(),
        [
            {
                "TrackId": n,
                "Name": f"Track {n}",
                "AlbumId": 1 + (n - 1) % 4,
                "Milliseconds": 200_000 + n,
                "Bytes": 2**40 + n,
                "UnitPrice": Decimal("0.99"),
                "Rating": n % 5,
                "Loudness": -7.5,
                "Released": date(1980, 1 + n % 12, 1),
                "StartsAt": time(0, n % 60),
                "Kind": ("single", "album", "live")[n % 3],
            }
            for n in range(1, 13)
        ],
    )
    connection.execute(
        employee.insert(),
        [
            {"EmployeeId": 1, "FirstName": "Andrew", "LastName": "Adams", "ReportsTo": None},
            {"EmployeeId": 2, "FirstName": "Nancy", "LastName": "Edwards", "ReportsTo": 1},
            {"EmployeeId": 3, "FirstName": "Jane", "LastName": "Peacock", "ReportsTo": 2},
        ],
    )
    connection.execute(playlist.insert(), [{"PlaylistId": 1, "Name": "Music"}, {"PlaylistId": 2, "Name": "Heavy"}])
    connection.execute(playlist_track.insert(), [{"PlaylistId": p, "TrackId": t} for p in (1, 2) for t in (1, 2, 3)])
    connection.execute(
        order.insert(), [{"id": 1, "group": "north", "select": "all"}, {"id": 2, "group": "south", "select": None}]
    )
    connection.execute(user.insert(), [{"id": 1, "username": "ada"}, {"id": 2, "username": "alan"}])
    connection.execute(
        membership.insert(),
        [{"order_id": 1, "user_id": 1, "role": "owner"}, {"order_id": 1, "user_id": 2, "role": "viewer"}],
    )
    connection.execute(country.insert(), [{"code": code, "name": f"Land {n}"} for n, code in enumerate(HOSTILE_CODES)])
    connection.execute(
        document.insert(), [{"id": DOCUMENT_ID, "title": "Scan", "body": "Long text", "scan": b"\x00\x01" * 100}]
    )
    connection.execute(visit_log.insert(), [{"path": "/home", "hits": 3}, {"path": "/about", "hits": None}])
    connection.execute(product.insert(), [product_row(n) for n in range(1, PRODUCTS + 1)])


def product_row(n: int) -> dict[str, object]:
    """Product `n` as it is stored: every long value long, and marked with `n` at both ends."""
    return {
        "ProductId": n,
        "Sku": f"SKU-{n:04d}",
        "Summary": f"Summary {n}: " + "a summary <longer> than a list cell & more, " * 20 + f"end of summary {n}",
        "Title": f"Product {n}, " + "a title that goes on and on, " * 9 + f"end of title {n}",
        "Price": Decimal("19.99") + n,
        "Stock": n * 3,
        "Weight": 1.5,
        "Active": n % 2 == 0,
        "AddedOn": date(2024, 1, 1) + timedelta(days=n),
        "Colour": "teal",
        "Size": "XL",
        "UpdatedAt": datetime(2024, 6, 1, 12, 0) + timedelta(hours=n),
        "Description": f"Description {n}\n" + "A paragraph of the description, line after line.\n" * 100,
        "Specs": {"n": n, "notes": ["a note that is not short at all"] * 10},
        "Photo": bytes(range(256)) * 8,
    }
