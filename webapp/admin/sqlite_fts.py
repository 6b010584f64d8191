"""SQLite FTS5 tables found in a database's schema, and which of them may answer a reflected table's search.

The admin's search is a case-insensitive, literal substring match (`LIKE '%q%'`). An FTS5 table answers the
same question from its index only when all of these hold, and otherwise the table is searched with LIKE:

- it uses the trigram tokenizer, case-insensitive (the default), with `detail=full` (the default): a quoted
  phrase of three or more characters is then a substring match, and other tokenizers match words;
- it is an external-content table (`content='<table>'`) over the browsed table, and its rowids are that
  table's integer primary key (`content_rowid`, or the rowid when the key is its alias);
- triggers on that table write to it on every INSERT, DELETE and UPDATE of its columns: an index nobody keeps
  in step answers with rows that no longer match and misses the ones that now do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.types import TypeEngine

logger = logging.getLogger(__name__)

# SQL split into quoted names or strings, comments, words and single characters: enough to read the
# arguments of CREATE VIRTUAL TABLE and the head and body of CREATE TRIGGER without a parser.
_TOKEN = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|--[^\n]*|/\*.*?\*/|[^\s'"`\[\](),;.=]+|\S""",
    re.S,
)
_QUOTES = {"'": "'", '"': '"', "`": "`", "[": "]"}
ROWID_NAMES = frozenset({"rowid", "oid", "_rowid_"})


@dataclass(frozen=True)
class Fts5Table:
    name: str
    columns: tuple[str, ...]  # the indexed ones (UNINDEXED columns are only stored)
    options: dict[str, str]  # lower-cased names, unquoted values

    @property
    def content(self) -> str | None:
        """The table it indexes when it is an external-content table."""
        return self.options.get("content") or None

    @property
    def content_rowid(self) -> str:
        return self.options.get("content_rowid", "rowid")


def _tokens(sql: str) -> list[str]:
    return [t for t in _TOKEN.findall(sql) if not t.startswith(("--", "/*"))]


def _unquote(token: str) -> str:
    end = _QUOTES.get(token[:1])
    if end is None or not token.endswith(end) or len(token) < 2:
        return token
    inner = token[1:-1]
    return inner if end == "]" else inner.replace(end * 2, end)


def _is(token: str, *keywords: str) -> bool:
    """An unquoted keyword (a quoted "BEGIN" is a name)."""
    return token.upper() in keywords


def fts5_tables(connection: Connection) -> list[Fts5Table]:
    """Every FTS5 table of the database, its arguments read from the CREATE VIRTUAL TABLE it was made by."""
    rows = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'"
    ).all()
    return [table for name, sql in rows if (table := _parse_fts5(name, sql)) is not None]


def _parse_fts5(name: str, sql: str) -> Fts5Table | None:
    tokens = _tokens(sql)
    upper = [t.upper() for t in tokens]
    if "USING" not in upper:
        return None
    at = upper.index("USING") + 1
    if at + 1 >= len(tokens) or _unquote(tokens[at]).lower() != "fts5" or tokens[at + 1] != "(":
        return None
    arguments: list[list[str]] = [[]]
    for token in tokens[at + 2 :]:
        if token == ")":
            break
        if token == ",":
            arguments.append([])
        else:
            arguments[-1].append(token)
    columns: list[str] = []
    options: dict[str, str] = {}
    for argument in arguments:
        if len(argument) >= 2 and argument[1] == "=":
            options[_unquote(argument[0]).lower()] = " ".join(_unquote(t) for t in argument[2:])
        elif argument and not any(_is(t, "UNINDEXED") for t in argument[1:]):
            columns.append(_unquote(argument[0]))
    return Fts5Table(name, tuple(columns), options)


def matches_as_like(index: Fts5Table) -> bool:
    """Whether a quoted phrase MATCH on this index is LIKE '%phrase%': a case-insensitive trigram tokenizer,
    and full detail (with less, FTS5 refuses phrase queries)."""
    words = [_unquote(t).lower() for t in _tokens(index.options.get("tokenize", ""))]
    settings = dict(zip(words[1::2], words[2::2], strict=False))
    return (
        words[:1] == ["trigram"]
        and len(words) % 2 == 1
        and settings.get("case_sensitive", "0") == "0"
        and settings.keys() <= {"case_sensitive", "remove_diacritics"}
        and settings.get("remove_diacritics", "0") == "0"
        and index.options.get("detail", "full").lower() == "full"
    )


def search_index(connection: Connection, table: Table, indexes: Sequence[Fts5Table]) -> Fts5Table | None:
    """The FTS5 table that may answer `table`'s search (the one covering most columns, if several may), as
    its own columns' names; None when none may."""
    usable: list[Fts5Table] = []
    for index in indexes:
        if (index.content or "").lower() != table.name.lower():
            continue
        columns = {column.name.lower(): column.name for column in table.columns}
        if reason := _unusable(connection, table, index, columns):
            # A warning: whoever made the index expects it to serve, and a scan is what they get instead.
            logger.warning(
                "%s is searched with LIKE, not by the FTS5 table %s, which %s", table.name, index.name, reason
            )
            continue
        usable.append(Fts5Table(index.name, tuple(columns[c.lower()] for c in index.columns), index.options))
    return max(usable, key=lambda index: len(index.columns), default=None)


def _unusable(connection: Connection, table: Table, index: Fts5Table, columns: dict[str, str]) -> str | None:
    if not matches_as_like(index):
        return f"does not match substrings as LIKE does (tokenize={index.options.get('tokenize', 'unicode61')!r})"
    missing = [name for name in index.columns if name.lower() not in columns]
    if not index.columns or missing:
        return f"indexes columns the table does not have ({', '.join(missing)})" if missing else "indexes nothing"
    keys = list(table.primary_key.columns)
    if len(keys) != 1 or not _is_integer(keys[0].type):
        return "cannot name its rows: it has no integer primary key"
    (key,) = keys
    rowid = index.content_rowid.lower()
    if rowid != key.name.lower() and not (rowid in ROWID_NAMES and _is_rowid_alias(connection, table, key.name)):
        return f"numbers its rows by {index.content_rowid}, not by the key {key.name}"
    missed = sorted({"INSERT", "DELETE", "UPDATE"} - _kept_on(connection, table.name, index))
    if missed:
        return f"is not kept in step by a trigger after {', '.join(missed)}"
    return None


def _is_integer(sql_type: TypeEngine[Any]) -> bool:
    try:
        return sql_type.python_type is int
    except NotImplementedError:
        return False


def _is_rowid_alias(connection: Connection, table: Table, key: str) -> bool:
    """Whether the key is the rowid itself (an INTEGER PRIMARY KEY), as SQLite's planner says."""
    quote = connection.dialect.identifier_preparer.quote
    plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN SELECT 1 FROM {quote(table.name)} WHERE {quote(key)} = 0")
    return any("USING INTEGER PRIMARY KEY" in str(row[-1]) for row in plan)


def _kept_on(connection: Connection, table: str, index: Fts5Table) -> set[str]:
    """The changes of `table` (INSERT, DELETE, UPDATE) after which one of its triggers writes to the index."""
    triggers = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? COLLATE NOCASE", (table,)
    ).scalars()
    kept: set[str] = set()
    for sql in triggers:
        event = _trigger_event(_tokens(sql or ""), index)
        if event is not None:
            kept.add(event)
    return kept


def _trigger_event(tokens: list[str], index: Fts5Table) -> str | None:
    """The change this trigger keeps the index in step after: its event, when its body writes to the index
    on every such change (no WHEN condition; an UPDATE OF its columns names all the indexed ones)."""
    if not any(_is(t, "BEGIN") for t in tokens):
        return None
    begin = next(i for i, t in enumerate(tokens) if _is(t, "BEGIN"))
    head, body = tokens[:begin], tokens[begin + 1 :]
    start = next((i for i, t in enumerate(head) if _is(t, "TRIGGER")), len(head)) + 1
    if [t.upper() for t in head[start : start + 3]] == ["IF", "NOT", "EXISTS"]:
        start += 3
    start += 3 if head[start + 1 : start + 2] == ["."] else 1  # the trigger's name, maybe schema.name
    rest = head[start:]
    found = next((i for i, t in enumerate(rest) if _is(t, "INSERT", "DELETE", "UPDATE")), None)
    if found is None or any(_is(t, "WHEN") for t in rest):
        return None
    event = rest[found].upper()
    if event == "UPDATE" and found + 1 < len(rest) and _is(rest[found + 1], "OF"):
        on = next((i for i, t in enumerate(rest) if _is(t, "ON")), len(rest))
        named = {_unquote(t).lower() for t in rest[found + 2 : on] if t != ","}
        if not {c.lower() for c in index.columns} <= named:
            return None
    return event if _writes_to(body, index.name) else None


def _writes_to(body: list[str], name: str) -> bool:
    """INSERT/REPLACE INTO, UPDATE or DELETE FROM the table `name` (maybe as schema.name) in a trigger's body."""
    for i, token in enumerate(body):
        if _is(token, "INTO") or (_is(token, "FROM") and i > 0 and _is(body[i - 1], "DELETE")):
            target = i + 1
        elif _is(token, "UPDATE"):
            target = i + 3 if i + 1 < len(body) and _is(body[i + 1], "OR") else i + 1
        else:
            continue
        if body[target + 1 : target + 2] == ["."]:
            target += 2
        if target < len(body) and _unquote(body[target]).lower() == name.lower():
            return True
    return False
