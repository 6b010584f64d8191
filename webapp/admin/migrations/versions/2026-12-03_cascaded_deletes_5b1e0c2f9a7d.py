"""History for every row a delete takes along: `part_of_id` ties such entries to the delete that caused them
(Undo puts them back together); `object_pk` widens to 255 characters for the text of composite keys.

Revision ID: 5b1e0c2f9a7d
Revises: 34178c5c5b77
Create Date: 2026-12-03 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5b1e0c2f9a7d"
down_revision = "34178c5c5b77"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A table made from today's models (create_all) already has the column and its index: it is adopted.
    inspector = sa.inspect(op.get_bind())
    columns = {column["name"] for column in inspector.get_columns("admin_log_entry")}
    indexes = {index["name"] for index in inspector.get_indexes("admin_log_entry")}
    # batch: SQLite cannot ALTER a column's type in place (Alembic copies the table there; elsewhere it ALTERs).
    with op.batch_alter_table("admin_log_entry") as batch:
        if "part_of_id" not in columns:
            batch.add_column(sa.Column("part_of_id", BIG_ID, nullable=True))
        batch.alter_column(
            "object_pk", existing_type=sa.String(length=100), type_=sa.String(length=255), existing_nullable=False
        )
    if "ix_admin_log_entry_part_of_id" not in indexes:
        op.create_index("ix_admin_log_entry_part_of_id", "admin_log_entry", ["part_of_id"])


def downgrade() -> None:
    op.drop_index("ix_admin_log_entry_part_of_id", "admin_log_entry")
    with op.batch_alter_table("admin_log_entry") as batch:
        batch.alter_column(
            "object_pk", existing_type=sa.String(length=255), type_=sa.String(length=100), existing_nullable=False
        )
        batch.drop_column("part_of_id")
