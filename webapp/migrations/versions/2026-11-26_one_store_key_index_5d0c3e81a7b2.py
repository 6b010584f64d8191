"""one unique index on admin_store (key, namespace)

The accounts migration made both advanced-alchemy's unique constraint and its Spanner-only unique index on the
same columns; every session write kept both up to date. The admin's own branch does this now.

Revision ID: 5d0c3e81a7b2
Revises: a9f626fce341
Create Date: 2026-11-26 19:30:00

"""


# revision identifiers, used by Alembic.
revision = "5d0c3e81a7b2"
down_revision = "a9f626fce341"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Kept for the databases stamped with it; the admin's branch (34178c5c5b77) drops the index now."""


def downgrade() -> None:
    pass
