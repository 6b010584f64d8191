"""The admin's own tables: accounts and their permissions, the audit log, and the session store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from advanced_alchemy.base import BigIntAuditBase, BigIntBase, orm_registry
from advanced_alchemy.extensions.litestar.store import StoreModelMixin
from advanced_alchemy.types import PasswordHash
from advanced_alchemy.types.datetime import DateTimeUTC
from advanced_alchemy.types.password_hash.argon2 import Argon2Hasher
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

# OWASP's argon2id configuration m=12 MiB, t=3, p=1: as strong as its m=19 MiB, t=2 option, and about a sixth of
# the sign-in's cost with argon2-cffi's defaults (bench/README.md, "Measured choices").
ARGON2_PARAMETERS = {"time_cost": 3, "memory_cost": 12288, "parallelism": 1}

# The actions a permission can grant on a model; custom actions add "action:<name>".
ACTIONS = ("view", "add", "change", "delete", "export")

admin_account_permission = Table(
    "admin_account_permission",
    orm_registry.metadata,
    Column("account_id", ForeignKey("admin_account.id", ondelete="CASCADE"), primary_key=True),
    Column("permission_id", ForeignKey("admin_permission.id", ondelete="CASCADE"), primary_key=True),
)


class AdminPermission(BigIntBase):
    """One grantable right, e.g. codename "item.change"; rows are kept in step with the registry at startup."""

    __tablename__ = "admin_permission"

    codename: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))

    def __str__(self) -> str:
        return self.name


class AdminAccount(BigIntAuditBase):
    """Someone who may sign in to the admin. Not the demo's User: the admin's own, separate table."""

    __tablename__ = "admin_account"

    username: Mapped[str] = mapped_column(String(150), unique=True)
    # Never listed, shown or exported: the admin hides PasswordHash columns and sets them via their own form.
    password: Mapped[Any] = mapped_column(PasswordHash(backend=Argon2Hasher(**ARGON2_PARAMETERS)), nullable=True)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    is_superuser: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Bumped when the password changes or the account is deactivated: sessions holding an older value end.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0", info={"admin_hidden": True})
    last_login_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), info={"admin_readonly": True})

    permissions: Mapped[list[AdminPermission]] = relationship(
        secondary=admin_account_permission, order_by=AdminPermission.codename
    )

    def __str__(self) -> str:
        return self.username


class AdminLogEntry(BigIntBase):
    """An audit entry: who did what to which record, with the changed values (a full snapshot on delete)."""

    __tablename__ = "admin_log_entry"
    __table_args__ = (Index("ix_admin_log_entry_object", "model", "object_pk"),)

    created_at: Mapped[datetime] = mapped_column(
        DateTimeUTC(timezone=True), default=lambda: datetime.now(UTC), index=True
    )
    account_id: Mapped[int | None] = mapped_column(ForeignKey("admin_account.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(150))
    model: Mapped[str] = mapped_column(String(100))
    object_pk: Mapped[str] = mapped_column(String(255))
    object_label: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(50))
    # {"field": [before, after]} for updates (a many-to-many field's {"added": keys, "removed": keys}),
    # {"field": [None, value]} for creates.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Every column and many-to-many key of the record as it was, for deletes (what Restore puts back).
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A delete restored since, or an update undone since.
    restored: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The delete entry of the record whose delete took this row along (a cascade, a key set to NULL): Undo of
    # that entry puts this row back too.
    part_of_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), index=True)

    def __str__(self) -> str:
        return f"{self.action} {self.model} {self.object_label}"


class AdminStoreEntry(StoreModelMixin):
    """Server-side sessions and login throttling, when no Redis is configured."""

    __tablename__ = "admin_store"
    # advanced-alchemy declares both a unique constraint and (for Spanner) a unique index on (key, namespace);
    # migrations built from the mixin made both on every database, and each session write kept two identical
    # indexes. One is enough.
    __table_args__ = (UniqueConstraint("key", "namespace", name="uq_admin_store_key_namespace"),)
