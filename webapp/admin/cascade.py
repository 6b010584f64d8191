"""What a delete takes with it, followed through every level before anything is written, as Django's Collector
does: the rows it removes (ORM cascades, ON DELETE CASCADE), the rows it changes (keys that the ORM or ON
DELETE SET NULL sets to NULL), the link rows it removes (many-to-many), and what stops it (RESTRICT / NO
ACTION with rows referring to it, a key that cannot be NULL, a model the account may not delete).

The delete then carries out exactly this plan (`carry_out`), rather than leaving the ORM and the database to
decide on their own: what the history records is what happened, and Undo can put it all back
(webapp.admin.records).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Table, delete, inspect, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, RelationshipDirection, RelationshipProperty, selectinload

from webapp.admin.keys import typed_value
from webapp.admin.types.base import to_json

# The first records named per model on a confirmation page; the rest are counted.
NAMED = 5
# The key of a snapshot that holds link rows the record's own many-to-many fields do not restore.
LINKS_KEY = "__links__"

REMOVE, DETACH, LINK, BLOCK = "remove", "detach", "link", "block"


@dataclass
class Dependant:
    """A row the delete removes (or changes, `detached`), and the root record it goes with."""

    obj: Any
    root: int
    depth: int
    detached: tuple[str, ...] = ()  # the foreign-key attributes set to NULL (a changed row)
    before: dict[str, Any] = field(default_factory=dict)


@dataclass
class Links:
    """Rows of a link table that point at a removed row (many-to-many links)."""

    table: Table
    constraint: ForeignKeyConstraint
    rows: list[dict[str, Any]]
    root: int
    removed_by_orm: bool  # the deleted row's many-to-many relationship deletes them in the flush
    restored_by_snapshot: bool  # the deleted row's snapshot holds them (a many-to-many field of its admin)


@dataclass
class Blocker:
    """Why the delete cannot go ahead, naming the first records in the way."""

    reason: str
    names: list[str]
    count: int


@dataclass
class Group:
    """One line of a confirmation: so many records of one model, the first few by name."""

    noun: str
    count: int
    names: list[tuple[str, str | None]]  # (label, url or None)


@dataclass
class DeletePlan:
    roots: list[Any]
    removed: list[Dependant] = field(default_factory=list)
    detached: list[Dependant] = field(default_factory=list)
    links: list[Links] = field(default_factory=list)
    blockers: list[Blocker] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.blockers

    def removed_groups(self, site: Any) -> list[Group]:
        return _groups(site, [d.obj for d in self.removed])

    def changed_groups(self, site: Any) -> list[Group]:
        return _groups(site, [d.obj for d in self.detached])

    def link_counts(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for links in self.links:
            counts[links.table.name] = counts.get(links.table.name, 0) + len(links.rows)
        return sorted(counts.items())

    @property
    def touches_more(self) -> bool:
        return bool(self.removed or self.detached or self.links)


def admin_of(site: Any, model: type) -> Any:
    """The model's admin, or one with default options for a model the site does not show (for history)."""
    return site.admin_for(model) or site.shadow_admin(model)


async def plan_delete(session: AsyncSession, site: Any, account: Any, roots: Sequence[Any]) -> DeletePlan:
    """Everything deleting `roots` would remove and change, read level by level (one SELECT per referring
    table and level, whatever the number of roots)."""
    return await _Planner(session, site, account, roots).run()


class _Planner:
    def __init__(self, session: AsyncSession, site: Any, account: Any, roots: Sequence[Any]) -> None:
        self.session, self.site, self.account = session, site, account
        self.plan = DeletePlan(list(roots))
        self.seen = {_identity(obj) for obj in roots}

    async def run(self) -> DeletePlan:
        frontier: list[tuple[Any, int]] = [(obj, n) for n, obj in enumerate(self.plan.roots)]
        depth = 0
        while frontier:
            depth += 1
            by_mapper: dict[Mapper[Any], list[tuple[Any, int]]] = {}
            for obj, root in frontier:
                by_mapper.setdefault(inspect(obj).mapper, []).append((obj, root))
            frontier = []
            for mapper, members in by_mapper.items():
                for constraint in _referring(mapper):
                    frontier += await self._follow(mapper, members, constraint, depth)
        return self.plan

    async def _follow(
        self, mapper: Mapper[Any], members: list[tuple[Any, int]], constraint: ForeignKeyConstraint, depth: int
    ) -> list[tuple[Any, int]]:
        """The rows referring to `members` through `constraint`, sorted into the plan; those removed (whose own
        referrers are the next level)."""
        child_mapper = _mapper_of(mapper, constraint.table)
        action, relationship = _action(mapper, constraint, child_mapper)
        attrs = [mapper.get_property_by_column(element.column).key for element in constraint.elements]
        root_of = {tuple(getattr(obj, attr) for attr in attrs): root for obj, root in members}
        values = [value for value in root_of if None not in value]
        if not values:
            return []
        local = list(constraint.columns)
        condition = _among(local, values)
        if child_mapper is None:
            await self._links(mapper, constraint, relationship, action, condition, root_of)
            return []
        child_admin = admin_of(self.site, child_mapper.class_)
        statement = select(child_mapper.class_).where(condition)
        many = [f for f in child_admin.fields.values() if f.type.many]
        if many:  # their snapshots hold their many-to-many keys
            statement = statement.options(*(selectinload(getattr(child_mapper.class_, f.relationship)) for f in many))
        rows = (await self.session.execute(statement)).unique().scalars()
        children = [child for child in rows if _identity(child) not in self.seen]
        if not children:
            return []
        blocked = self._blocked(action, child_admin, local, children)
        if blocked is not None:
            self.plan.blockers.append(blocked)
            return []
        local_attrs = [child_mapper.get_property_by_column(column).key for column in local]
        removed = []
        for child in children:
            self.seen.add(_identity(child))
            root = root_of[tuple(getattr(child, attr) for attr in local_attrs)]
            if action == REMOVE:
                self.plan.removed.append(Dependant(child, root, depth))
                removed.append((child, root))
            else:
                before = {attr: getattr(child, attr) for attr in local_attrs}
                self.plan.detached.append(Dependant(child, root, depth, tuple(local_attrs), before))
        return removed

    def _blocked(self, action: str, child_admin: Any, local: list[Any], children: list[Any]) -> Blocker | None:
        noun = child_admin.name_plural if len(children) != 1 else child_admin.name
        names = [child_admin.label(child) for child in children]
        if action == BLOCK:
            return _blocker(f"{len(children):,} {noun} still refer to it", names, len(children))
        if action == DETACH and not all(column.nullable for column in local):
            return _blocker(
                f"{len(children):,} {noun} would be left without the record they need", names, len(children)
            )
        shown = self.site.admin_for(child_admin.model) is not None
        may_delete = self.account is None or child_admin.permits(self.account, "delete")
        if action == REMOVE and shown and not may_delete:
            reason = f"you may not delete {child_admin.name_plural}, and {len(children):,} {noun} would go with it"
            return _blocker(reason, names, len(children))
        return None

    async def _links(
        self,
        mapper: Mapper[Any],
        constraint: ForeignKeyConstraint,
        relationship: RelationshipProperty[Any] | None,
        action: str,
        condition: Any,
        root_of: dict[tuple[Any, ...], int],
    ) -> None:
        rows = [dict(row._mapping) for row in await self.session.execute(select(constraint.table).where(condition))]
        if not rows:
            return
        if action == BLOCK:
            self.plan.blockers.append(
                _blocker(f"{len(rows):,} rows of {constraint.table.name} refer to it", [], len(rows))
            )
            return
        local = list(constraint.columns)
        for value, root in root_of.items():
            mine = [row for row in rows if tuple(row[c.key] for c in local) == value]
            if mine:
                self.plan.links.append(
                    Links(
                        constraint.table,
                        constraint,
                        mine,
                        root,
                        removed_by_orm=relationship is not None and not relationship.passive_deletes,
                        restored_by_snapshot=_snapshot_holds(self.site, mapper, relationship),
                    )
                )


def _among(columns: list[Any], values: list[tuple[Any, ...]]) -> Any:
    return columns[0].in_([v[0] for v in values]) if len(columns) == 1 else tuple_(*columns).in_(values)


async def carry_out(session: AsyncSession, plan: DeletePlan) -> None:
    """Write the plan: keys set to NULL, link rows removed, then rows removed from the deepest level up, each
    level flushed before the next (a foreign key the ORM does not know of orders nothing in its flush)."""
    for dependant in plan.detached:
        for attr in dependant.detached:
            setattr(dependant.obj, attr, None)
    for links in plan.links:
        if links.removed_by_orm:
            continue
        local = list(links.constraint.columns)
        values = [tuple(row[c.key] for c in local) for row in links.rows]
        await session.execute(delete(links.table).where(_among(local, values)))
    await session.flush()
    for depth in sorted({d.depth for d in plan.removed}, reverse=True):
        for dependant in plan.removed:
            if dependant.depth == depth:
                await session.delete(dependant.obj)
        await session.flush()
    for obj in plan.roots:
        await session.delete(obj)
    await session.flush()


def stored_links(plan: DeletePlan, root: int) -> list[dict[str, Any]]:
    """The link rows of one root's delete that no snapshot's many-to-many field holds, as JSON for its entry."""
    out = []
    for links in plan.links:
        if links.root == root and not links.restored_by_snapshot:
            out.append({"table": links.table.fullname, "rows": [_json_row(links.table, row) for row in links.rows]})
    return out


# -- reading the schema ----------------------------------------------------------------------------------------


def _referring(mapper: Mapper[Any]) -> list[ForeignKeyConstraint]:
    """The foreign keys of every table in the model's metadata that point at one of its tables (not the joins of
    its own inheritance)."""
    tables = set(mapper.tables)
    metadata = mapper.local_table.metadata
    out = []
    for table in metadata.tables.values():
        for constraint in table.foreign_key_constraints:
            if constraint.referred_table in tables and not (table in tables and table is not constraint.referred_table):
                out.append(constraint)
    return out


def _mapper_of(near: Mapper[Any], table: Table) -> Mapper[Any] | None:
    for mapper in near.registry.mappers:
        if mapper.local_table is table and not mapper.inherits:
            return mapper
    for mapper in near.registry.mappers:
        if mapper.local_table is table:
            return mapper
    return None


def _action(
    mapper: Mapper[Any], constraint: ForeignKeyConstraint, child: Mapper[Any] | None
) -> tuple[str, RelationshipProperty[Any] | None]:
    """What deleting a row of `mapper` does to rows that refer to it through `constraint`."""
    columns = set(constraint.columns)
    ondelete = (constraint.ondelete or "").upper()
    for rel in mapper.relationships:
        if rel.viewonly:
            continue
        if child is None and rel.direction is RelationshipDirection.MANYTOMANY and rel.secondary is constraint.table:
            secondary_side = {pair[1] for pair in rel.synchronize_pairs}
            if secondary_side == columns:
                return (LINK if not rel.passive_deletes or ondelete == "CASCADE" else BLOCK), rel
        if child is not None and rel.direction is RelationshipDirection.ONETOMANY and rel.mapper is child:
            if set(rel.remote_side) != columns:
                continue
            if "delete" in rel.cascade:
                return REMOVE, rel
            if not rel.passive_deletes:
                return DETACH, rel
    if ondelete == "CASCADE":
        return (LINK if child is None else REMOVE), None
    if ondelete == "SET NULL" and child is not None:
        return DETACH, None
    return BLOCK, None


def _snapshot_holds(site: Any, mapper: Mapper[Any], relationship: RelationshipProperty[Any] | None) -> bool:
    if relationship is None or relationship.direction is not RelationshipDirection.MANYTOMANY:
        return False
    f = admin_of(site, mapper.class_).fields.get(relationship.key)
    return f is not None and f.type.many


def _identity(obj: Any) -> tuple[Any, ...]:
    state = inspect(obj)
    return (state.mapper.base_mapper, state.identity)


def _blocker(reason: str, names: list[str], count: int) -> Blocker:
    return Blocker(reason, names[:NAMED], count)


def _groups(site: Any, objs: list[Any]) -> list[Group]:
    by_model: dict[type, list[Any]] = {}
    for obj in objs:
        by_model.setdefault(type(obj), []).append(obj)
    out = []
    for model, rows in by_model.items():
        admin = admin_of(site, model)
        shown = site.admin_for(model) is not None
        names = [(admin.label(obj), admin.url(admin.key_of(obj)) if shown else None) for obj in rows[:NAMED]]
        out.append(Group(admin.name_plural if len(rows) != 1 else admin.name, len(rows), names))
    return out


def _json_row(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    return {column.key: to_json(row[column.key]) for column in table.columns}


def link_rows(stored: dict[str, Any], metadata: Any) -> tuple[Table, list[dict[str, Any]]] | None:
    """A snapshot's stored link rows back as (table, rows) for an INSERT; None when the table is gone."""
    table = metadata.tables.get(stored["table"])
    if table is None:
        return None
    rows = []
    for row in stored["rows"]:
        rows.append({c.key: None if row.get(c.key) is None else typed_value(c, row[c.key]) for c in table.columns})
    return table, rows


def refusal(plan: DeletePlan, label: str) -> str:
    """Why the delete of `label` cannot go ahead, for a person."""
    reasons = []
    for blocker in plan.blockers:
        named = (
            f" ({', '.join(blocker.names)}{', …' if blocker.count > len(blocker.names) else ''})"
            if blocker.names
            else ""
        )
        reasons.append(f"{blocker.reason}{named}")
    return f"“{label}” cannot be deleted: {'; '.join(reasons)}. Nothing was deleted."
