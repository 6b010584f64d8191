"""Introspection of a mapped class into fields: each knows its column's facts and the type that treats its values
(see `webapp.admin.types`)."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cached_property
from typing import Any

from advanced_alchemy.types import PasswordHash
from sqlalchemy import Column, String, inspect
from sqlalchemy.ext.hybrid import HybridExtensionType
from sqlalchemy.orm import Mapper, RelationshipDirection, RelationshipProperty
from sqlalchemy.sql.sqltypes import NullType

from webapp.admin.types import COLUMN_TYPES, FOREIGN_KEY, MANY_TO_MANY, FieldError, FieldType, RawValue, TypeRegistry

__all__ = ["Field", "FieldError", "RawValue", "humanize", "introspect", "is_hidden", "sql_type_of"]


@dataclass(frozen=True)
class Field:
    """One attribute of a model as the admin sees it: the column's facts, and the type that treats its values."""

    name: str
    label: str
    type: FieldType
    nullable: bool = True
    has_default: bool = False
    server_default: bool = False  # the database fills it in when an INSERT leaves it out
    read_only: bool = False
    primary_key: bool = False  # a part of the record's key: given on create (unless generated), then fixed
    max_length: int | None = None
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    precision: int | None = None
    scale: int | None = None
    enum_class: type[enum.Enum] | None = None
    enum_values: tuple[str, ...] = ()
    relationship: str | None = None
    related_model: type | None = None
    initial: Any = None
    help_text: str = ""
    # A value the model works out (a column_property's SQL expression, a hybrid attribute): shown, exported
    # and sortable when it has SQL, never written or restored.
    computed: bool = False
    column: Column[Any] | None = field(default=None, compare=False, repr=False)

    @property
    def kind(self) -> str:
        return self.type.name

    @property
    def required(self) -> bool:
        """Must be given on create: not nullable and nothing fills it in."""
        return not self.nullable and not self.has_default and not self.type.blank_is_value

    @property
    def is_relation(self) -> bool:
        return self.type.is_relation

    @property
    def input_type(self) -> str:
        return self.type.input_type

    @property
    def step(self) -> str | None:
        return self.type.step(self)

    def parse(self, raw: RawValue) -> Any:
        """Turn what a browser posted into a typed value, or raise FieldError with a message for a person."""
        return self.type.parse(self, raw)

    def to_input(self, value: Any) -> RawValue:
        """The string an input shows for a typed value (the inverse of parse)."""
        return self.type.to_input(self, value)

    def to_json(self, obj: Any) -> Any:
        """This field of `obj` as JSON (history, cursors, export); `from_json` reverses it."""
        return self.type.to_json(self, obj)

    def from_json(self, value: Any) -> Any:
        return None if value is None else self.type.from_json(self, value)

    @cached_property
    def filter_options(self) -> list[tuple[str, str, Any]]:
        """(value, label, condition) of each option of the field's choice filter (none for other filters),
        built once: every list page's sidebar reads them."""
        if self.column is None:
            return []
        return self.type.filter_choices(self, self.column)

    @cached_property
    def enum_by_text(self) -> dict[str, Any]:
        """The stored strings are the members' values or names (SQLAlchemy's Enum), in member order."""
        if self.enum_class is None:
            return {}
        return dict(zip(self.enum_values, self.enum_class, strict=False))

    @cached_property
    def enum_text(self) -> dict[Any, str]:
        # Built once per field: every list cell, form and exported row of an enum column reads it.
        return {member: text for text, member in self.enum_by_text.items()}


_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def humanize(name: str) -> str:
    """A label from a name: "owner_id" and "OwnerId" read "Owner", "first_name" and "FirstName" "First name";
    an acronym keeps its capitals ("URLPath": "URL path")."""
    words = [w for w in _WORD_BOUNDARY.sub("_", name).replace(" ", "_").split("_") if w]
    if len(words) > 1 and words[-1].lower() == "id":
        words = words[:-1]
    words = [w if w.isupper() and len(w) > 1 else w.lower() for w in words]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _scalar_default(column: Column[Any]) -> Any:
    default = column.default
    if default is not None and getattr(default, "is_scalar", False):
        return default.arg
    return None


def is_hidden(column: Column[Any], mapper: Mapper[Any] | None = None) -> bool:
    """Columns no page, form, export or history ever shows: password hashes, version counters, plumbing."""
    return bool(
        isinstance(column.type, PasswordHash)
        or column.info.get("admin_hidden")
        or column.key == "sa_orm_sentinel"
        or (mapper is not None and mapper.version_id_col is not None and column is mapper.version_id_col)
    )


def _is_server_managed(column: Column[Any]) -> bool:
    default = column.default
    return bool(
        column.info.get("admin_readonly")
        or (column.primary_key and column is column.table.autoincrement_column)
        or column.onupdate is not None
        or column.server_onupdate is not None
        or column.computed is not None
        or column.identity is not None
        or (default is not None and (getattr(default, "is_callable", False) or getattr(default, "is_sequence", False)))
        or column.key == "sa_orm_sentinel"
    )


def _to_decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _column_field(
    mapper: Mapper[Any], attr_key: str, column: Column[Any], labels: Mapping[str, str], types: TypeRegistry
) -> Field:
    field_type = types.for_column(column)
    related_model: type | None = None
    relationship_name: str | None = None
    if column.foreign_keys:
        for rel in mapper.relationships:
            # A relation to a record keyed by several columns has no one column to choose it by: its columns
            # stay plain values.
            many_to_one = rel.direction is RelationshipDirection.MANYTOONE
            if many_to_one and len(rel.local_columns) == 1 and column in rel.local_columns:
                field_type, related_model, relationship_name = FOREIGN_KEY, rel.mapper.class_, rel.key
                break
    label = (
        labels.get(attr_key)
        or column.info.get("label")
        or (humanize(relationship_name) if relationship_name else humanize(attr_key))
    )
    return Field(
        name=attr_key,
        label=label,
        type=field_type,
        nullable=bool(column.nullable),
        has_default=column.default is not None or column.server_default is not None,
        server_default=column.server_default is not None,
        # The ORM writes an inheritance discriminator itself.
        read_only=_is_server_managed(column) or not field_type.editable or column is mapper.polymorphic_on,
        primary_key=column.primary_key,
        min_value=_to_decimal(column.info.get("min_value")),
        max_value=_to_decimal(column.info.get("max_value")),
        relationship=relationship_name,
        related_model=related_model,
        initial=_scalar_default(column),
        help_text=column.info.get("help_text", "") or (column.comment or ""),
        column=column,
        **field_type.facts(column),
    )


def _computed_field(name: str, value_type: Any, labels: Mapping[str, str], types: TypeRegistry) -> Field:
    """A worked-out value, drawn by the type its SQL type (or, without one, text) calls for."""
    stand_in: Column[Any] = Column(name, value_type if value_type is not None else String(255))
    field_type = types.for_column(stand_in)
    return Field(
        name=name,
        label=labels.get(name) or humanize(name),
        type=field_type,
        read_only=True,
        computed=True,
        **field_type.facts(stand_in),
    )


def sql_type_of(model: type, name: str) -> Any:
    """The SQL type of a computed attribute's class-level expression (a column_property's, a hybrid's); None
    when it has none (a Python-only hybrid)."""
    try:
        expression = getattr(model, name)
    except Exception:  # a Python-only hybrid evaluated on the class may raise anything
        return None
    value_type = getattr(expression, "type", None)
    return None if isinstance(value_type, NullType) else value_type


def _many_to_many_field(rel: RelationshipProperty[Any], labels: Mapping[str, str]) -> Field:
    return Field(
        name=rel.key,
        label=labels.get(rel.key) or humanize(rel.key),
        type=MANY_TO_MANY,
        nullable=True,
        relationship=rel.key,
        related_model=rel.mapper.class_,
    )


def introspect(
    model: type,
    labels: Mapping[str, str] | None = None,
    types: TypeRegistry = COLUMN_TYPES,
    field_types: Mapping[str, FieldType] | None = None,
) -> dict[str, Field]:
    """Every column attribute and many-to-many relationship of `model`, in declaration order, each with the
    type `types` finds for its column, or the one `field_types` names for it."""
    labels = labels or {}
    mapper = inspect(model)
    fields: dict[str, Field] = {}
    for attr in mapper.column_attrs:
        if not all(isinstance(column, Column) for column in attr.columns):
            fields[attr.key] = _computed_field(attr.key, attr.columns[0].type, labels, types)
            continue
        # Joined-table inheritance maps `id` on both tables' columns: the root table's is the one the database
        # numbers (and the mapper's key).
        root = mapper.base_mapper.local_table
        column = next((c for c in attr.columns if c.table is root), attr.columns[0])
        if is_hidden(column, mapper):
            continue
        fields[attr.key] = _column_field(mapper, attr.key, column, labels, types)
    for rel in mapper.relationships:
        if rel.direction is RelationshipDirection.MANYTOMANY and len(rel.mapper.primary_key) == 1:
            fields[rel.key] = _many_to_many_field(rel, labels)
    for name, descriptor in mapper.all_orm_descriptors.items():
        if getattr(descriptor, "extension_type", None) is HybridExtensionType.HYBRID_PROPERTY:
            fields[name] = _computed_field(name, sql_type_of(model, name), labels, types)
    for name, chosen in (field_types or {}).items():
        if name not in fields:
            raise TypeError(f"{model.__name__}: field_types names an unknown field: {name}")
        column = fields[name].column
        facts = chosen.facts(column) if column is not None else {}
        fields[name] = replace(
            fields[name], type=chosen, read_only=fields[name].read_only or not chosen.editable, **facts
        )
    # Audit columns read best last, as in Django's and sqladmin's default layouts.
    managed = [
        name for name, f in fields.items() if f.read_only and not (f.column is not None and f.column.primary_key)
    ]
    for name in managed:
        fields[name] = fields.pop(name)
    return fields


def primary_key_columns(model: type) -> Sequence[Column[Any]]:
    return tuple(inspect(model).primary_key)
