"""The sequences advanced-alchemy's BigInt keys draw from, made where the table's own column does not make them.

`BigIntPrimaryKey` gives `id` a `Sequence("<table>_id_seq")`. PostgreSQL's BIGSERIAL makes that very sequence
with the table, and SQLite has none; MariaDB (10.3+) has sequences, so SQLAlchemy inserts `nextval(...)`, but a
migrated table's AUTO_INCREMENT does not make one: the migration must.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

_MADE_HERE = frozenset({"mysql", "mariadb"})


def create_id_sequences(*tables: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name in _MADE_HERE and bind.dialect.supports_sequences:
        for table in tables:
            op.execute(sa.schema.CreateSequence(sa.Sequence(f"{table}_id_seq"), if_not_exists=True))


def drop_id_sequences(*tables: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name in _MADE_HERE and bind.dialect.supports_sequences:
        for table in tables:
            op.execute(sa.schema.DropSequence(sa.Sequence(f"{table}_id_seq"), if_exists=True))
