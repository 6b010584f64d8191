"""Database constraint violations mapped onto the form field they concern, on SQLite and PostgreSQL.

PostgreSQL (asyncpg) names the violated constraint; SQLite names the columns (UNIQUE, NOT NULL) or the
constraint (CHECK) in its message. Either way the table's constraint metadata tells which field it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CheckConstraint, Column, ForeignKeyConstraint, Table, UniqueConstraint

from webapp.admin.fields import Field

# SQLSTATE classes: https://www.postgresql.org/docs/current/errcodes-appendix.html
_SQLITE_COLUMNS = re.compile(r"constraint failed: ((?:\w+\.\w+)(?:, \w+\.\w+)*)", re.IGNORECASE)
_PG_KEY = re.compile(r"Key \((.+?)\)=")
_PG_UNIQUE, _PG_FOREIGN_KEY, _PG_CHECK, _PG_NOT_NULL = "23505", "23503", "23514", "23502"


@dataclass(frozen=True)
class Violation:
    field: str | None
    message: str


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend([current.__cause__, current.__context__, getattr(current, "orig", None)])


def _driver_details(exc: BaseException) -> tuple[str | None, str | None, str]:
    """(sqlstate, constraint name, message) from whichever driver exception is in the chain."""
    sqlstate = constraint = None
    message = ""
    for current in _chain(exc):
        sqlstate = sqlstate or getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        constraint = constraint or getattr(current, "constraint_name", None)
        if type(current).__module__.startswith(("sqlite3", "asyncpg")) or "constraint failed" in str(current):
            # asyncpg's detail names the key columns: 'Key (code)=(G-1) already exists.'
            message = message or f"{current} {getattr(current, 'detail', '') or ''}"
    return sqlstate, constraint, message or str(exc)


def _attr_for(table_columns: list[Column[Any]], fields: dict[str, Field]) -> list[Field]:
    by_column = {f.column.key: f for f in fields.values() if f.column is not None}
    return [by_column[c.key] for c in table_columns if c.key in by_column]


def _unique_sets(table: Table) -> list[tuple[str | None, list[Column[Any]]]]:
    sets: list[tuple[str | None, list[Column[Any]]]] = [
        (str(c.name) if c.name else None, list(c.columns)) for c in table.constraints if isinstance(c, UniqueConstraint)
    ]
    sets += [(str(i.name) if i.name else None, list(i.columns)) for i in table.indexes if i.unique]
    return sets


def explain(exc: BaseException, table: Table, fields: dict[str, Field], model_name: str) -> Violation:
    """The field and the message a person should see for a constraint violation."""
    sqlstate, constraint, message = _driver_details(exc)
    lowered = message.lower()

    if sqlstate == _PG_UNIQUE or "unique constraint failed" in lowered:
        columns = _unique_columns(table, constraint, message)
        if columns:
            return _unique_violation(_attr_for(columns, fields), model_name)
        return Violation(None, f"{_article(model_name)} {model_name} with these values already exists.")

    if sqlstate == _PG_FOREIGN_KEY or "foreign key constraint failed" in lowered:
        fk_fields = _foreign_key_fields(table, constraint, fields)
        if len(fk_fields) == 1:
            return Violation(
                fk_fields[0].name, "Select a valid choice. That choice is not one of the available choices."
            )
        return Violation(None, "A related record this change refers to does not exist, or others still refer to it.")

    if sqlstate == _PG_CHECK or "check constraint failed" in lowered:
        check = _check_constraint(table, constraint, message)
        if check is not None:
            text = str(check.sqltext)
            named = [f for f in fields.values() if f.column is not None and re.search(rf"\b{f.column.name}\b", text)]
            target = named[0].name if len(named) == 1 else None
            return Violation(target, f"This value is not allowed (it must satisfy {text}).")
        return Violation(None, "The database refused these values (a check constraint failed).")

    if sqlstate == _PG_NOT_NULL or "not null constraint failed" in lowered:
        found = _SQLITE_COLUMNS.search(message)
        column_name = found.group(1).rsplit(".", 1)[-1] if found else None
        with_column = next((c for c in _chain(exc) if getattr(c, "column_name", None)), None)
        column_name = getattr(with_column, "column_name", column_name)
        matches = [f for f in fields.values() if f.column is not None and f.column.name == column_name]
        return Violation(matches[0].name if matches else None, "This field is required.")

    return Violation(None, "The database refused these values. Nothing was saved.")


def _unique_columns(table: Table, constraint: str | None, message: str) -> list[Column[Any]]:
    for name, columns in _unique_sets(table):
        if constraint and name == constraint:
            return columns
    # SQLite: "UNIQUE constraint failed: user_account.email, user_account.username"
    found = _SQLITE_COLUMNS.search(message)
    named = {part.strip().rsplit(".", 1)[-1] for part in found.group(1).split(",")} if found else set()
    pg_key = _PG_KEY.search(message)
    if pg_key and not named:
        named = {part.strip().strip('"') for part in pg_key.group(1).split(",")}
    for _, columns in _unique_sets(table):
        if named and {str(c.name) for c in columns} == named:
            return columns
    return [table.c[n] for n in named if n in table.c]


def _unique_violation(clashing: list[Field], model_name: str) -> Violation:
    if not clashing:
        return Violation(None, f"{_article(model_name)} {model_name} with these values already exists.")
    what = " and ".join(f.label.lower() for f in clashing)
    return Violation(clashing[0].name, f"{_article(model_name)} {model_name} with this {what} already exists.")


def _foreign_key_fields(table: Table, constraint: str | None, fields: dict[str, Field]) -> list[Field]:
    fks = [c for c in table.constraints if isinstance(c, ForeignKeyConstraint)]
    if constraint:
        fks = [c for c in fks if c.name == constraint] or fks
    columns = [col for fk in fks for col in fk.columns]
    return _attr_for(columns, fields)


def _check_constraint(table: Table, constraint: str | None, message: str) -> CheckConstraint | None:
    checks = [c for c in table.constraints if isinstance(c, CheckConstraint)]
    for check in checks:
        if check.name and (check.name == constraint or str(check.name) in message):
            return check
    return None


def _article(noun: str) -> str:
    """ "An" before a vowel sound ("an attachment", "an item", "an umbrella"), else "A" ("a user", "a unit",
    "a euro"): English's rule by the spelling's usual sound."""
    if re.match(r"u[bcdfgklmnprstvz][aeiou]|uni|eu|one\b", noun.lower()):
        return "A"
    return "An" if noun[:1].lower() in "aeiou" else "A"
