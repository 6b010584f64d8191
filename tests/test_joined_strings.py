"""`joined_strings` joins a group's values on every database, with its separator compiled into the SQL: the
statement every signed-in request sends is reused from the compiled cache as it is."""

from __future__ import annotations

import pytest
from sqlalchemy import column, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ClauseElement

from tests.conftest import add_account
from webapp.admin.joined_strings import joined_strings
from webapp.admin.signed_in import ACCOUNT_BY_ID, SignedIn

pytestmark = pytest.mark.anyio

DIALECTS = [sqlite.dialect(), postgresql.asyncpg.dialect(), mysql.asyncmy.dialect(is_mariadb=True)]


def _rendered_per_execution(statement: ClauseElement, dialect: Dialect) -> set[str]:
    """The parameters SQLAlchemy writes into the SQL anew on each execution of the compiled statement."""
    return set(statement.compile(dialect=dialect).literal_execute_params)


@pytest.mark.optimisation("the separator is compiled into the SQL (joined_strings)")
@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_the_separator_is_part_of_the_compiled_sql(dialect: Dialect):
    statement = select(joined_strings(column("codename"), "\n"))
    assert _rendered_per_execution(statement, dialect) == set()
    assert "'\n'" in str(statement.compile(dialect=dialect))


@pytest.mark.optimisation("the session-and-account read is compiled once (joined_strings)")
@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_the_session_and_account_read_renders_nothing_per_request(app, dialect: Dialect):
    along = app.stores.get("admin_sessions")._read_along_statement
    assert _rendered_per_execution(ACCOUNT_BY_ID, dialect) == set()
    assert _rendered_per_execution(along, dialect) == set()


def test_a_separator_that_would_need_quoting_is_refused():
    for separator in ("'", "\\n", "it's"):
        with pytest.raises(ValueError, match="quoting"):
            joined_strings(column("codename"), separator)


async def test_an_account_reads_back_every_permission_it_holds(db):
    account_id = await add_account(db, "editor", permissions=("item.view", "item.change", "tag.view"))
    async with db() as session:
        signed_in = SignedIn.from_row((await session.execute(ACCOUNT_BY_ID, {"id": account_id})).one())
    assert signed_in.codenames == {"item.view", "item.change", "tag.view"}


async def test_an_account_without_permissions_reads_back_none(db):
    account_id = await add_account(db, "nobody")
    async with db() as session:
        signed_in = SignedIn.from_row((await session.execute(ACCOUNT_BY_ID, {"id": account_id})).one())
    assert signed_in.codenames == frozenset()
