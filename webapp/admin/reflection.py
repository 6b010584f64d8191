"""Admin views for an existing database, with no model code: its tables and views reflected, mapped with
SQLAlchemy's automap, and a ModelAdmin made for each.

    views = await reflect_views(engine)
    app = Litestar(plugins=[SQLAlchemyPlugin(config=db), AdminPlugin(views, secret=SECRET)])

- Relations come from the foreign keys: a many-to-one named after its column ("owner_id", "OwnerId": "owner"),
  the other side a collection named after the referring table ("invoice_lines"), a pure association table a
  many-to-many on both sides (not a model of its own). Deletes leave the database's own ON DELETE rules in
  charge (`passive_deletes`): CASCADE, SET NULL and RESTRICT happen as the schema says, and the delete
  confirmation shows them (webapp.admin.cascade).
- Names read from the schema's names: table "InvoiceLine" or "invoice_line" is the model "invoice line",
  listed as "Invoice lines" at slug `invoice_line`; a PostgreSQL table outside the default schema is prefixed
  with its schema ("sales_invoice_line").
- A view, and a table without a primary key, are mapped on all their columns and are read-only
  (ModelAdmin.read_only): listed, searched, filtered and exported, never written.
- Search covers the string columns, with LIKE; on SQLite a table that an FTS5 trigram table indexes, kept in
  step by triggers (webapp.admin.sqlite_fts), is searched through that index, on the columns it covers.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from sqlalchemy import Boolean, Connection, ForeignKeyConstraint, MetaData, Table, inspect
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.automap import AutomapBase, automap_base, generate_relationship
from sqlalchemy.orm import interfaces, registry

from webapp.admin.fields import humanize
from webapp.admin.options import ModelAdmin
from webapp.admin.site import RESERVED_SLUGS
from webapp.admin.sqlite_fts import Fts5Table, fts5_tables, search_index

# The most columns a reflected table's list shows (ModelAdmin.list_columns): its key and naming columns first,
# then its other short columns in the table's order; every column is on its detail page.
LIST_COLUMNS = 7

# Schemas of the database's own catalog, never browsed.
SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"})


async def reflect_views(engine: AsyncEngine, *, exclude: Collection[str] = ()) -> list[type[ModelAdmin]]:
    """A ModelAdmin for every table and view of the database `engine` reaches (but the tables named in
    `exclude`), in the order of their names. The mapped classes share one automap base: `views[0].model`'s
    `metadata` holds every reflected table."""
    async with engine.connect() as connection:
        return await connection.run_sync(reflect_admins, exclude)


def reflect_admins(connection: Connection, exclude: Collection[str] = ()) -> list[type[ModelAdmin]]:
    """`reflect_views` on a synchronous connection."""
    inspector = inspect(connection)
    metadata = MetaData()
    views: set[tuple[str | None, str]] = set()
    excluded = frozenset(exclude) | _sqlite_internals(connection)

    def wanted(name: str, _metadata: MetaData) -> bool:
        return name not in excluded and not name.startswith("alembic_version")

    for schema in _schemas(connection):
        metadata.reflect(connection, schema=schema, views=True, only=wanted)
    if connection.dialect.name in {"mysql", "mariadb"}:
        _booleans_of_mariadb(metadata)
        views.update((schema, name) for name in inspector.get_view_names(schema=schema))
    base = automap_base(metadata=metadata)
    naming = _RelationNames()
    base.prepare(
        classname_for_table=_class_name,
        name_for_scalar_relationship=naming.scalar,
        name_for_collection_relationship=naming.collection,
        generate_relationship=_relationship,
    )
    models = {cls.__table__: cls for cls in base.classes}
    links = {
        rel.secondary for cls in models.values() for rel in inspect(cls).relationships if rel.secondary is not None
    }
    keyless = registry(metadata=metadata)
    for table in metadata.tables.values():
        if table not in models and table not in links:
            models[table] = _map_on_all_columns(keyless, table)
    indexes = fts5_tables(connection) if connection.dialect.name == "sqlite" else []
    # A table named like one of the admin's own routes (login, health, ...) takes the next free slug.
    slugs: set[str] = set(RESERVED_SLUGS)
    admins = [
        _admin_for(model, (table.schema, table.name) in views, slugs, search_index(connection, table, indexes))
        for table, model in sorted(models.items(), key=lambda item: (item[0].schema or "", item[0].name.lower()))
    ]
    return admins


def _booleans_of_mariadb(metadata: MetaData) -> None:
    """MariaDB keeps a BOOLEAN as TINYINT(1), which reflects as a small integer: a yes/no is what it holds."""
    for table in metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, mysql.TINYINT) and column.type.display_width == 1:
                column.type = Boolean()


def _sqlite_internals(connection: Connection) -> frozenset[str]:
    """SQLite's virtual tables (an FTS5 search index) and the shadow tables that hold their data: plumbing of
    the database, whose columns have no declared types."""
    if connection.dialect.name != "sqlite":
        return frozenset()
    virtual = connection.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'"
    ).scalars()
    names = set(virtual)
    shadows = ("data", "idx", "content", "docsize", "config")
    return frozenset(names | {f"{name}_{shadow}" for name in names for shadow in shadows})


def _schemas(connection: Connection) -> list[str | None]:
    """The default schema, and on PostgreSQL every other schema that is not the catalog's."""
    if connection.dialect.name != "postgresql":
        return [None]
    default = connection.dialect.default_schema_name
    others = [
        name
        for name in inspect(connection).get_schema_names()
        if name != default and name not in SYSTEM_SCHEMAS and not name.startswith("pg_")
    ]
    return [None, *sorted(others)]


def _words(name: str) -> list[str]:
    return humanize(name).lower().split() if name else []


def snake_name(name: str) -> str:
    """ "InvoiceLine", "invoice line", "Invoice-Line": "invoice_line" (only letters, digits and underscores)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return re.sub(r"[^0-9a-z]+", "_", spaced.lower()).strip("_") or "table"


def plural(noun: str) -> str:
    """English's usual plural of the last word: "invoice line" → "invoice lines", "category" → "categories"."""
    if re.search(r"[^aeiou]y$", noun):
        return noun[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", noun):
        return noun + "es"
    return noun + "s"


def _class_name(base: type | None, tablename: str, table: Table) -> str:
    parts = [table.schema, tablename] if table.schema else [tablename]
    return "".join(word.capitalize() for part in parts for word in snake_name(part).split("_"))


class _RelationNames:
    """Relation names that never take a column's or another relation's name on the same class."""

    def __init__(self) -> None:
        self.taken: dict[type, set[str]] = {}

    def _free(self, cls: type, name: str) -> str:
        taken = self.taken.setdefault(cls, set(cls.__table__.columns.keys()))
        name = name if name.isidentifier() else f"rel_{name}"
        candidate, n = (name if name not in taken else f"{name}_ref"), 2
        while candidate in taken:
            candidate, n = f"{name}_{n}", n + 1
        taken.add(candidate)
        return candidate

    def scalar(self, base: type, local_cls: type, referred_cls: type, constraint: ForeignKeyConstraint) -> str:
        columns = list(constraint.columns)
        if len(columns) == 1 and (words := _words(columns[0].name)) and snake_name(columns[0].name) != "id":
            name = "_".join(words)
        else:
            name = snake_name(referred_cls.__table__.name)
        return self._free(local_cls, snake_name(name))

    def collection(self, base: type, local_cls: type, referred_cls: type, constraint: ForeignKeyConstraint) -> str:
        words = snake_name(referred_cls.__table__.name).split("_")
        name = "_".join([*words[:-1], plural(words[-1])])
        if len(constraint.columns) == 1 and constraint.table is referred_cls.__table__:
            # Two keys of one table to this one ("sender_id", "recipient_id") give two collections: by which.
            siblings = [
                fk for fk in referred_cls.__table__.foreign_key_constraints if fk.referred_table is local_cls.__table__
            ]
            if len(siblings) > 1:
                name = f"{name}_by_{snake_name('_'.join(_words(next(iter(constraint.columns)).name)))}"
        return self._free(local_cls, name)


def _relationship(
    base: AutomapBase,
    direction: interfaces.RelationshipDirection,
    return_fn: Any,
    attrname: str,
    local_cls: type,
    referred_cls: type,
    **kw: Any,
) -> Any:
    if direction is interfaces.ONETOMANY:
        # The database's ON DELETE rules decide what a delete does to referring rows, not the ORM's default
        # (which sets their key to NULL, even on a NOT NULL column).
        kw["passive_deletes"] = True
    return generate_relationship(base, direction, return_fn, attrname, local_cls, referred_cls, **kw)


def _map_on_all_columns(mapped: registry, table: Table) -> type:
    """A view or a table without a primary key: SQLAlchemy maps a class only on some key, so on all columns
    (the admin then only reads it, and its rows have no page of their own)."""
    cls = type(_class_name(None, table.name, table), (), {"__table__": table})
    mapped.map_imperatively(cls, table, primary_key=list(table.columns))
    return cls


def _admin_for(model: type, is_view: bool, slugs: set[str], index: Fts5Table | None) -> type[ModelAdmin]:
    table: Table = model.__table__  # type: ignore[attr-defined]
    slug = snake_name(f"{table.schema}_{table.name}" if table.schema else table.name)
    while slug in slugs:
        slug += "_"
    slugs.add(slug)
    name = " ".join(_words(table.name)) or slug
    suffix = f" ({table.schema})" if table.schema else ""
    options = {
        "model": model,
        "slug": slug,
        "name": name + suffix,
        "name_plural": plural(name) + suffix,
        "read_only": is_view,
        "list_columns": LIST_COLUMNS,
    }
    if index is not None:
        # Its columns are the searched ones: another column would add a LIKE scan to every search, the cost the
        # index is there to spare (whoever made it chose what is worth searching).
        options |= {"sqlite_fts_table": index.name, "sqlite_fts_columns": index.columns, "search_fields": index.columns}
    return type(f"{model.__name__}Admin", (ModelAdmin,), options)
