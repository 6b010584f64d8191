"""the demo's chain takes the admin's cascaded-deletes revision

A later admin revision (history for every row a delete takes along) is merged into the demo's chain, as the
README tells a host to do, so that `litestar database upgrade` still has one head.

Revision ID: c7d2a91e4b30
Revises: e2b7c41d9a06, 5b1e0c2f9a7d
Create Date: 2026-12-03 13:45:00

"""

# revision identifiers, used by Alembic.
revision = "c7d2a91e4b30"
down_revision = ("e2b7c41d9a06", "5b1e0c2f9a7d")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
