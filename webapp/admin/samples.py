"""Capped reads of to-many relations: for the records on a page, the first few related records of a collection
and how many there are in all, in one statement per collection whatever the number of records.

A list cell names its first LIST_ITEMS related records and counts the rest ("and 2,997 more"), a detail page its
first DETAIL_ITEMS: reading every related row for that is what a record linked to thousands cannot afford. The
statement numbers each record's link rows in the relation's order (`row_number() OVER (PARTITION BY ...)`),
counts them over the same partition, and returns the first ones with their related records.

A sample is kept beside its record (on the ORM state's `info`), never in the record's collection: a collection
loaded in part would be written back in part. A form reads the collection whole (it posts every chosen key),
and a cell then draws from that.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, inspect, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import RelationshipProperty

# Related records named in a list cell and on a detail page; the rest are counted.
LIST_ITEMS = 3
DETAIL_ITEMS = 50

PARENT_KEYS = "sample_parent_keys"
_SAMPLES = "webapp.admin.samples"  # the key of a record's samples in its InstanceState.info


class Reading(enum.Enum):
    """What a record is read for, which decides the relations read with it (`ModelAdmin.one_row_statements`)."""

    ROW = "row"  # a list row: the listed fields, and each collection's first LIST_ITEMS records
    DETAIL = "detail"  # its page: every field, and each collection's first DETAIL_ITEMS records
    FORM = "form"  # a form or a write: every field, collections whole (a form posts them whole)
    OWN = "own"  # a part of its page shown alone (a related section): its own columns, no relations


@dataclass(frozen=True)
class Sample:
    """The first related records of one record's collection, in the relation's order, and how many it holds."""

    shown: tuple[Any, ...]
    total: int


def can_sample(relationship: RelationshipProperty[Any]) -> bool:
    """Whether a collection's first rows can be read by its records' keys alone: a link table joined to both
    sides by equal columns and nothing else. Any other collection is read whole."""
    return (
        relationship.uselist
        and relationship.secondary is not None
        and _joined_by(relationship.primaryjoin, relationship.synchronize_pairs)
        and _joined_by(relationship.secondaryjoin, relationship.secondary_synchronize_pairs)
    )


def _joined_by(join: ColumnElement[bool] | None, pairs: Sequence[tuple[Any, Any]]) -> bool:
    return bool(pairs) and join is not None and join.compare(and_(*(a == b for a, b in pairs)))


async def read(session: AsyncSession, relationship: RelationshipProperty[Any], objs: Sequence[Any], limit: int) -> None:
    """Sample `relationship` for each of `objs` (records of its parent's model): one statement."""
    if not objs:
        return
    keys = [_parent_key(relationship, obj) for obj in objs]
    width = len(relationship.synchronize_pairs)
    bound = list(dict.fromkeys(keys if width > 1 else [key[0] for key in keys]))
    found: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    totals: dict[tuple[Any, ...], int] = {}
    for related, *parent, total in await session.execute(_statement(relationship, limit), {PARENT_KEYS: bound}):
        found[tuple(parent)].append(related)
        totals[tuple(parent)] = total
    for obj, key in zip(objs, keys, strict=True):
        samples = inspect(obj).info.setdefault(_SAMPLES, {})
        samples[relationship.key] = Sample(tuple(found.get(key, ())), totals.get(key, 0))


def sample_of(obj: Any, name: str, limit: int) -> Sample:
    """The first `limit` records of `obj`'s collection `name`: from the collection when it is loaded (whole, and
    as the record now is), else from the sample read with the record."""
    state = inspect(obj)
    if name in state.dict:
        items = state.dict[name]
        return Sample(tuple(items[:limit]), len(items))
    sample = state.info.get(_SAMPLES, {}).get(name)
    if sample is None:
        raise LookupError(f"{type(obj).__name__}.{name} was read neither whole nor sampled (ModelAdmin.read_related)")
    return Sample(sample.shown[:limit], sample.total)


def _parent_key(relationship: RelationshipProperty[Any], obj: Any) -> tuple[Any, ...]:
    mapper = relationship.parent
    columns = [column for column, _ in relationship.synchronize_pairs]
    return tuple(getattr(obj, mapper.get_property_by_column(column).key) for column in columns)


@cache
def _statement(relationship: RelationshipProperty[Any], limit: int) -> Select[Any]:
    """The first `limit` related records per parent key bound in PARENT_KEYS, each with its parent's key and
    its parent's number of links; built once per relation and limit.

    The link rows are numbered and counted in a derived table that reads only the link table and what the
    relation's order needs of the related table; the related records themselves are read for the first ones
    only."""
    link_parent = [link for _, link in relationship.synchronize_pairs]
    target_pairs = relationship.secondary_synchronize_pairs
    parents = link_parent[0] if len(link_parent) == 1 else tuple_(*link_parent)
    order = [*(relationship.order_by or ()), *relationship.mapper.primary_key]
    ranked = (
        select(
            *(column.label(f"parent_{n}") for n, column in enumerate(link_parent)),
            *(link.label(f"related_{n}") for n, (_, link) in enumerate(target_pairs)),
            func.row_number().over(partition_by=link_parent, order_by=order).label("position"),
            func.count().over(partition_by=link_parent).label("total"),
        )
        .select_from(relationship.secondary)
        .join(relationship.target, relationship.secondaryjoin)
        .where(parents.in_(bindparam(PARENT_KEYS, expanding=True)))
        .subquery("ranked")
    )
    same_record = and_(*(column == ranked.c[f"related_{n}"] for n, (column, _) in enumerate(target_pairs)))
    parent_columns = [ranked.c[f"parent_{n}"] for n in range(len(link_parent))]
    return (
        select(relationship.entity, *parent_columns, ranked.c.total)
        .join(ranked, same_record)
        .where(ranked.c.position <= limit)
        .order_by(*parent_columns, ranked.c.position)
    )
