"""Demo schema: users own items; items carry tags."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal

from advanced_alchemy.base import BigIntAuditBase, orm_registry
from sqlalchemy import (
    DDL,
    CheckConstraint,
    Column,
    Enum,
    ForeignKey,
    Index,
    Numeric,
    String,
    Table,
    Text,
    event,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship


class Status(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


item_tag = Table(
    "item_tag",
    orm_registry.metadata,
    Column("item_id", ForeignKey("item.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True),
)


class User(BigIntAuditBase):
    __tablename__ = "user_account"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, info={"format": "email"})
    full_name: Mapped[str | None] = mapped_column(String(128))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Edits carry this counter; SQLAlchemy refuses an UPDATE whose version moved on (no lost updates).
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}

    items: Mapped[list[Item]] = relationship(back_populates="owner", cascade="all, delete-orphan", passive_deletes=True)

    def __str__(self) -> str:
        return self.username


class Tag(BigIntAuditBase):
    __tablename__ = "tag"

    name: Mapped[str] = mapped_column(String(50), unique=True)
    # Edits carry this counter; SQLAlchemy refuses an UPDATE whose version moved on (no lost updates).
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}

    def __str__(self) -> str:
        return self.name


class Item(BigIntAuditBase):
    __tablename__ = "item"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        # The default ordering (newest first) and the deepest page read this index, not the table.
        Index("ix_item_created_at_id", "created_at", "id"),
        Index("ix_item_status_price", "status", "price"),
        # Search: on PostgreSQL ILIKE '%term%' uses this trigram index (a plain index elsewhere).
        Index("ix_item_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
    )

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2), info={"min_value": 0})
    quantity: Mapped[int] = mapped_column(default=0, server_default="0", info={"min_value": 0})
    status: Mapped[Status] = mapped_column(
        Enum(Status, name="item_status", values_callable=lambda e: [m.value for m in e], length=16),
        default=Status.DRAFT,
        server_default=Status.DRAFT.value,
    )
    available_from: Mapped[date | None]
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    # Edits carry this counter; SQLAlchemy refuses an UPDATE whose version moved on (no lost updates).
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}

    owner: Mapped[User] = relationship(back_populates="items")
    tags: Mapped[list[Tag]] = relationship(secondary=item_tag, order_by="Tag.name")

    def __str__(self) -> str:
        return self.name


# Search on SQLite: an FTS5 trigram index over item.name (ItemAdmin.sqlite_fts_table), kept in step by
# triggers. The migrations create the same objects; these events do it for metadata.create_all (tests).
SQLITE_FTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS item_fts USING fts5(name, content='item', content_rowid='id', "
    "tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS item_fts_insert AFTER INSERT ON item BEGIN "
    "INSERT INTO item_fts(rowid, name) VALUES (new.id, new.name); END",
    "CREATE TRIGGER IF NOT EXISTS item_fts_delete AFTER DELETE ON item BEGIN "
    "INSERT INTO item_fts(item_fts, rowid, name) VALUES ('delete', old.id, old.name); END",
    "CREATE TRIGGER IF NOT EXISTS item_fts_update AFTER UPDATE OF name ON item BEGIN "
    "INSERT INTO item_fts(item_fts, rowid, name) VALUES ('delete', old.id, old.name); "
    "INSERT INTO item_fts(rowid, name) VALUES (new.id, new.name); END",
)
for _statement in SQLITE_FTS:
    event.listen(Item.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
event.listen(
    orm_registry.metadata,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),
)
