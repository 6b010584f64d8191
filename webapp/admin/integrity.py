"""Database constraint violations mapped onto the form field they concern, on SQLite, PostgreSQL and MariaDB.

PostgreSQL (asyncpg) names the violated constraint; SQLite names the columns (UNIQUE, NOT NULL) or the
constraint (CHECK) in its message; MariaDB gives an error number and names the key, the constraint or the
column in its message. Either way the table's constraint metadata tells which field it was.
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
_TOO_LONG, _OUT_OF_RANGE = "22001", "22003"

# MariaDB/MySQL error numbers (https://mariadb.com/kb/en/mariadb-error-code-reference/), as the SQLSTATE above.
_MYSQL_ERRORS = {
    1062: _PG_UNIQUE,  # Duplicate entry 'x' for key 'name'
    1586: _PG_UNIQUE,
    1451: _PG_FOREIGN_KEY,  # Cannot delete or update a parent row: ... CONSTRAINT `fk` FOREIGN KEY (`col`) ...
    1452: _PG_FOREIGN_KEY,  # Cannot add or update a child row: ...
    1216: _PG_FOREIGN_KEY,
    1217: _PG_FOREIGN_KEY,
    4025: _PG_CHECK,  # CONSTRAINT `ck` failed for `db`.`table` (MariaDB)
    3819: _PG_CHECK,  # Check constraint 'ck' is violated. (MySQL)
    1048: _PG_NOT_NULL,  # Column 'name' cannot be null
    1406: _TOO_LONG,  # Data too long for column 'name' at row 1
    1264: _OUT_OF_RANGE,  # Out of range value for column 'q' at row 1
}
_MYSQL_KEY = re.compile(r"for key '(?:[^']*\.)?([^']+)'")
_MYSQL_CONSTRAINT = re.compile(r"CONSTRAINT `([^`]+)`|Check constraint '([^']+)'")
_MYSQL_FOREIGN_KEY = re.compile(r"FOREIGN KEY \(([^)]+)\)")
_MYSQL_COLUMN = re.compile(r"[Cc]olumn '([^']+)'")


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


@dataclass
class _Details:
    """What the driver's exception says: a SQLSTATE, the constraint's name, the columns, its message."""

    sqlstate: str | None = None
    constraint: str | None = None
    column: str | None = None
    columns: tuple[str, ...] = ()
    message: str = ""


def _driver_details(exc: BaseException) -> _Details:
    """The details of whichever driver exception is in the chain."""
    found = _Details()
    for current in _chain(exc):
        found.sqlstate = found.sqlstate or getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        found.constraint = found.constraint or getattr(current, "constraint_name", None)
        found.column = found.column or getattr(current, "column_name", None)
        module = type(current).__module__
        if module.startswith(("asyncmy", "pymysql", "aiomysql", "MySQLdb")) and len(current.args) == 2:
            _read_mysql(found, *current.args)
        elif module.startswith(("sqlite3", "asyncpg")) or "constraint failed" in str(current):
            # asyncpg's detail names the key columns: 'Key (code)=(G-1) already exists.'
            found.message = found.message or f"{current} {getattr(current, 'detail', '') or ''}"
    found.message = found.message or str(exc)
    return found


def _read_mysql(found: _Details, number: Any, message: Any) -> None:
    message = str(message)
    found.message = found.message or message
    # Its own SQLSTATE is a class ('23000' for every integrity error): the number tells them apart.
    found.sqlstate = _MYSQL_ERRORS.get(number if isinstance(number, int) else -1, found.sqlstate)
    if key := _MYSQL_KEY.search(message):
        found.constraint = found.constraint or key.group(1)
    if constraint := _MYSQL_CONSTRAINT.search(message):
        found.constraint = found.constraint or constraint.group(1) or constraint.group(2)
    if foreign := _MYSQL_FOREIGN_KEY.search(message):
        found.columns = tuple(part.strip().strip("`") for part in foreign.group(1).split(","))
    if column := _MYSQL_COLUMN.search(message):
        found.column = found.column or column.group(1)


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
    details = _driver_details(exc)
    sqlstate, constraint, message = details.sqlstate, details.constraint, details.message
    lowered = message.lower()

    if sqlstate == _PG_UNIQUE or "unique constraint failed" in lowered:
        columns = _unique_columns(table, constraint, message)
        if columns:
            return _unique_violation(_attr_for(columns, fields), model_name)
        return Violation(None, f"{_article(model_name)} {model_name} with these values already exists.")

    if sqlstate == _PG_FOREIGN_KEY or "foreign key constraint failed" in lowered:
        fk_fields = _foreign_key_fields(table, constraint, details.columns, fields)
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
        column_name = details.column or (found.group(1).rsplit(".", 1)[-1] if found else None)
        return Violation(_field_of_column(fields, column_name), "This field is required.")

    if sqlstate == _TOO_LONG:
        return Violation(_field_of_column(fields, details.column), "This value is too long for the database.")

    if sqlstate == _OUT_OF_RANGE:
        return Violation(_field_of_column(fields, details.column), "This value is out of the database's range.")

    return Violation(None, "The database refused these values. Nothing was saved.")


def _field_of_column(fields: dict[str, Field], column_name: str | None) -> str | None:
    matches = [f for f in fields.values() if f.column is not None and f.column.name == column_name]
    return matches[0].name if matches else None


def _unique_columns(table: Table, constraint: str | None, message: str) -> list[Column[Any]]:
    for name, columns in _unique_sets(table):
        if constraint and name == constraint:
            return columns
    if constraint == "PRIMARY":  # MariaDB's name for every primary key
        return list(table.primary_key.columns)
    # MariaDB names an unnamed unique key after its first column.
    for name, columns in _unique_sets(table):
        if constraint and name is None and str(columns[0].name) == constraint:
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


def _foreign_key_fields(
    table: Table, constraint: str | None, named_columns: tuple[str, ...], fields: dict[str, Field]
) -> list[Field]:
    fks = [c for c in table.constraints if isinstance(c, ForeignKeyConstraint)]
    if named_columns:  # MariaDB names the key's columns (its own constraint names are not the metadata's)
        fks = [c for c in fks if tuple(str(col.name) for col in c.columns) == named_columns] or fks
    elif constraint:
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
