"""`joined_strings(values, separator)`: one string of a group's values, the separator written into the SQL.

SQLAlchemy's `func.aggregate_strings(values, ",")` makes the separator a `literal_execute` parameter, which it
renders into the statement again on every execution, even from the compiled cache: on the statement that reads
the session and its account with the account's permission codenames, a third of the statement's CPU
(bench/README.md, "Measured choices"). Written into the SQL as a constant, the compiled statement is reused as it
is. Guarded by tests/test_joined_strings.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, func, literal_column
from sqlalchemy.sql.elements import ColumnElement


def joined_strings(values: ColumnElement[Any], separator: str) -> ColumnElement[str]:
    """`aggregate_strings` (group_concat, string_agg, GROUP_CONCAT ... SEPARATOR) over `values`."""
    if "'" in separator or "\\" in separator:
        raise ValueError(f"a separator is written into the SQL as it is; {separator!r} would need quoting")
    return func.aggregate_strings(values, literal_column(f"'{separator}'", String()))
