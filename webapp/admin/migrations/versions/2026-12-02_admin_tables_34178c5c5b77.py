"""The admin's own tables: accounts and permissions, the history, the session and throttle store.

The first revision of the admin's branch (label "admin"). A database made before the admin had a branch of its
own already has these tables (the demo's chain created them): they are adopted as they are, and the duplicate
unique index an early demo revision gave admin_store is dropped.

Revision ID: 34178c5c5b77
Revises:
Create Date: 2026-12-02 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC, PasswordHash
from advanced_alchemy.types.password_hash.argon2 import Argon2Hasher
from alembic import op

from webapp.admin.migrations.id_sequences import create_id_sequences, drop_id_sequences

revision = "34178c5c5b77"
down_revision = None
branch_labels = ("admin",)
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DUPLICATE_STORE_INDEX = "ix_admin_store_key_namespace_unique"
# The tables keyed by advanced-alchemy's BigInt `id` (see id_sequences).
ID_SEQUENCE_TABLES = ("admin_account", "admin_permission", "admin_log_entry")


def _tables() -> dict[str, list[sa.SchemaItem]]:
    """In creation order (foreign keys point backwards)."""
    return {
        "admin_account": [
            sa.Column("id", BIG_ID, nullable=False),
            sa.Column("username", sa.String(length=150), nullable=False),
            sa.Column("password", PasswordHash(backend=Argon2Hasher(), length=255), nullable=True),
            sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
            sa.Column("is_superuser", sa.Boolean(), server_default=sa.false(), nullable=False),
            sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False),
            sa.Column("last_login_at", DateTimeUTC(timezone=True), nullable=True),
            sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
            sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id", name="pk_admin_account"),
            sa.UniqueConstraint("username", name="uq_admin_account_username"),
        ],
        "admin_permission": [
            sa.Column("id", BIG_ID, nullable=False),
            sa.Column("codename", sa.String(length=100), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.PrimaryKeyConstraint("id", name="pk_admin_permission"),
            sa.UniqueConstraint("codename", name="uq_admin_permission_codename"),
        ],
        "admin_store": [
            sa.Column("id", GUID(length=16), nullable=False),
            sa.Column("key", sa.String(length=255), nullable=False),
            sa.Column("namespace", sa.String(length=255), nullable=False),
            sa.Column("value", sa.LargeBinary(), nullable=False),
            sa.Column("expires_at", DateTimeUTC(timezone=True), nullable=False),
            sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
            sa.PrimaryKeyConstraint("id", name="pk_admin_store"),
            sa.UniqueConstraint("key", "namespace", name="uq_admin_store_key_namespace"),
        ],
        "admin_account_permission": [
            sa.Column("account_id", BIG_ID, nullable=False),
            sa.Column("permission_id", BIG_ID, nullable=False),
            sa.ForeignKeyConstraint(
                ["account_id"],
                ["admin_account.id"],
                name="fk_admin_account_permission_account_id_admin_account",
                ondelete="CASCADE",
            ),
            sa.ForeignKeyConstraint(
                ["permission_id"],
                ["admin_permission.id"],
                name="fk_admin_account_permission_permission_id_admin_permission",
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("account_id", "permission_id", name="pk_admin_account_permission"),
        ],
        "admin_log_entry": [
            sa.Column("id", BIG_ID, nullable=False),
            sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
            sa.Column("account_id", BIG_ID, nullable=True),
            sa.Column("username", sa.String(length=150), nullable=False),
            sa.Column("model", sa.String(length=100), nullable=False),
            sa.Column("object_pk", sa.String(length=100), nullable=False),
            sa.Column("object_label", sa.String(length=255), nullable=False),
            sa.Column("action", sa.String(length=50), nullable=False),
            sa.Column("changes", sa.JSON(), nullable=False),
            sa.Column("snapshot", sa.JSON(), nullable=True),
            sa.Column("restored", sa.Boolean(), server_default=sa.false(), nullable=False),
            sa.ForeignKeyConstraint(
                ["account_id"],
                ["admin_account.id"],
                name="fk_admin_log_entry_account_id_admin_account",
                ondelete="SET NULL",
            ),
            sa.PrimaryKeyConstraint("id", name="pk_admin_log_entry"),
        ],
    }


INDEXES = {
    "admin_store": [("ix_admin_store_expires_at", ["expires_at"])],
    "admin_log_entry": [
        ("ix_admin_log_entry_created_at", ["created_at"]),
        ("ix_admin_log_entry_object", ["model", "object_pk"]),
    ],
}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for name, items in _tables().items():
        if name in existing:
            continue
        op.create_table(name, *items)
        for index, columns in INDEXES.get(name, []):
            op.create_index(index, name, columns)
    create_id_sequences(*ID_SEQUENCE_TABLES)
    if "admin_store" in existing and any(
        index["name"] == DUPLICATE_STORE_INDEX for index in inspector.get_indexes("admin_store")
    ):
        with op.batch_alter_table("admin_store") as batch:
            batch.drop_index(DUPLICATE_STORE_INDEX)


def downgrade() -> None:
    for name in reversed(list(_tables())):
        op.drop_table(name)
    drop_id_sequences(*ID_SEQUENCE_TABLES)
