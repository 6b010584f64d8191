"""Column types: one unit per kind of value (see `base.FieldType`) and the registry that picks one per column.

A new type is a `FieldType` subclass registered for its SQLAlchemy type:

    class MoneyType(DecimalType): ...
    class ShopAdmin(ModelAdmin, model=Shop):
        column_types = COLUMN_TYPES.extended({Money: MoneyType()})

and one field's type is chosen by name: `field_types = {"notes": MarkdownType()}`.
"""

from webapp.admin.types.base import EMPTY, FieldError, FieldType, RawValue, WidgetInput, html, to_json
from webapp.admin.types.binary import BINARY, BinaryType
from webapp.admin.types.choices import BOOLEAN, ENUM, NULLABLE_BOOLEAN, BooleanType, EnumType, NullableBooleanType
from webapp.admin.types.moments import DATE, DATETIME, INTERVAL, TIME, DateTimeType, DateType, IntervalType, TimeType
from webapp.admin.types.numbers import DECIMAL, FLOAT, INTEGER, DecimalType, FloatType, IntegerType, NumberType
from webapp.admin.types.postgres import ARRAY, CIDR, INET, ArrayType, CidrType, InetType
from webapp.admin.types.registry import COLUMN_TYPES, TypeRegistry
from webapp.admin.types.relations import FOREIGN_KEY, MANY_TO_MANY, ForeignKeyType, ManyToManyType
from webapp.admin.types.structured import JSON, UUID, JSONType, UUIDType
from webapp.admin.types.text import EMAIL, STRING, TEXT, EmailType, StringType, TextType

__all__ = [
    "ARRAY",
    "BINARY",
    "BOOLEAN",
    "CIDR",
    "COLUMN_TYPES",
    "DATE",
    "DATETIME",
    "DECIMAL",
    "EMAIL",
    "EMPTY",
    "ENUM",
    "FLOAT",
    "FOREIGN_KEY",
    "INET",
    "INTEGER",
    "INTERVAL",
    "JSON",
    "MANY_TO_MANY",
    "NULLABLE_BOOLEAN",
    "STRING",
    "TEXT",
    "TIME",
    "UUID",
    "ArrayType",
    "BinaryType",
    "BooleanType",
    "CidrType",
    "DateTimeType",
    "DateType",
    "DecimalType",
    "EmailType",
    "EnumType",
    "FieldError",
    "FieldType",
    "FloatType",
    "ForeignKeyType",
    "InetType",
    "IntegerType",
    "IntervalType",
    "JSONType",
    "ManyToManyType",
    "NullableBooleanType",
    "NumberType",
    "RawValue",
    "StringType",
    "TextType",
    "TimeType",
    "TypeRegistry",
    "UUIDType",
    "WidgetInput",
    "html",
    "to_json",
]
