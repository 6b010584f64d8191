"""one unique index on admin_store (key, namespace)

The accounts migration made both advanced-alchemy's unique constraint and its Spanner-only unique index on the
same columns; every session write kept both up to date.

Revision ID: 5d0c3e81a7b2
Revises: a9f626fce341
Create Date: 2026-11-26 19:30:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "5d0c3e81a7b2"
down_revision = "a9f626fce341"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("admin_store", schema=None) as batch_op:
        batch_op.drop_index("ix_admin_store_key_namespace_unique")


def downgrade() -> None:
    with op.batch_alter_table("admin_store", schema=None) as batch_op:
        batch_op.create_index("ix_admin_store_key_namespace_unique", ["key", "namespace"], unique=True)
