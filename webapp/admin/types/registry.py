"""Which `FieldType` serves a column: looked up by the column's SQLAlchemy type, most specific class first,
then by the type a TypeDecorator stores as (advanced-alchemy's GUID is a UUID to a person, though SQLite
stores it as 16 bytes, because GUID itself is registered)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from advanced_alchemy.types import GUID
from sqlalchemy import Column
from sqlalchemy import types as sa_types
from sqlalchemy.dialects import postgresql

from webapp.admin.types.base import FieldType
from webapp.admin.types.binary import BINARY
from webapp.admin.types.choices import BOOLEAN, ENUM
from webapp.admin.types.moments import DATE, DATETIME, INTERVAL, TIME
from webapp.admin.types.numbers import DECIMAL, FLOAT, INTEGER
from webapp.admin.types.postgres import ARRAY, CIDR, INET
from webapp.admin.types.structured import JSON, UUID
from webapp.admin.types.text import STRING, TEXT


class TypeRegistry:
    """SQLAlchemy type classes to the admin's types. `extended` makes a copy with more (or other) entries, so
    a host's types reach the admins that ask for them and no others."""

    def __init__(self, types: Mapping[type[sa_types.TypeEngine[Any]], FieldType], fallback: FieldType) -> None:
        self._types = dict(types)
        self.fallback = fallback

    def extended(self, types: Mapping[type[sa_types.TypeEngine[Any]], FieldType]) -> TypeRegistry:
        return TypeRegistry({**self._types, **types}, self.fallback)

    def for_column(self, column: Column[Any]) -> FieldType:
        column_type: Any = column.type
        while True:
            for cls in type(column_type).__mro__:
                found = self._types.get(cls)
                if found is not None:
                    return found.for_column(column)
            if not isinstance(column_type, sa_types.TypeDecorator):
                break
            column_type = column_type.impl_instance
        if _python_type(column) is uuid.UUID:
            return UUID.for_column(column)
        return self.fallback.for_column(column)


def _python_type(column: Column[Any]) -> type | None:
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


COLUMN_TYPES = TypeRegistry(
    {
        GUID: UUID,
        sa_types.Uuid: UUID,
        sa_types.Enum: ENUM,
        sa_types.Boolean: BOOLEAN,
        sa_types.Integer: INTEGER,
        sa_types.Float: FLOAT,
        sa_types.Numeric: DECIMAL,
        sa_types.DateTime: DATETIME,
        sa_types.Date: DATE,
        sa_types.Time: TIME,
        sa_types.Interval: INTERVAL,
        postgresql.INTERVAL: INTERVAL,
        sa_types.LargeBinary: BINARY,
        sa_types.ARRAY: ARRAY,
        postgresql.INET: INET,
        postgresql.CIDR: CIDR,
        sa_types.JSON: JSON,
        sa_types.Text: TEXT,
        sa_types.String: STRING,
    },
    fallback=STRING,
)
