"""the demo's chain joins the admin's branch

The admin's tables come from the admin's own branch (webapp/admin/migrations, label "admin"); this merge
makes the demo's chain depend on it, so one `litestar database upgrade` applies both and there is one head.

Revision ID: e2b7c41d9a06
Revises: 5d0c3e81a7b2, 34178c5c5b77
Create Date: 2026-12-02 19:05:00

"""

# revision identifiers, used by Alembic.
revision = "e2b7c41d9a06"
down_revision = ("5d0c3e81a7b2", "34178c5c5b77")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
