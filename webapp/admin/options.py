"""ModelAdmin: the per-model options, with defaults from introspection.

class ItemAdmin(ModelAdmin, model=Item):
    list_display = ("name", "price", "owner_id", "tags")
    search_fields = ("name",)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, ClassVar

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import Select, inspect, select
from sqlalchemy import types as sa_types
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    RelationshipDirection,
    RelationshipProperty,
    contains_eager,
    joinedload,
    lazyload,
    selectinload,
)
from sqlalchemy.orm.interfaces import LoaderOption

from webapp.admin import samples
from webapp.admin.fields import Field, humanize, introspect, sql_type_of
from webapp.admin.keys import RecordKey
from webapp.admin.list_page import ListPage
from webapp.admin.listing import DEFAULT_PER_PAGE, ListQuery
from webapp.admin.related import Relation, relations_of
from webapp.admin.samples import Reading
from webapp.admin.types import COLUMN_TYPES, FieldType, StringType, TypeRegistry
from webapp.admin.types.base import base_type

if TYPE_CHECKING:
    from webapp.admin.records import WriteContext


# What a read-only model's rows still allow (every other action is refused, whatever the account's permissions).
READ_ACTIONS = frozenset({"view", "export"})

# A string column longer than this is left out of a list's default columns (`ModelAdmin.list_columns`).
LONG_STRING = 255

# Column names that name a record, compared without underscores and case: "Title", "user_name", "EMail".
NAMING_COLUMNS = ("name", "title", "label", "username", "displayname", "fullname", "email")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def default_slug(model: type) -> str:
    """A model's slug unless its admin names one: its class name in snake case (InvoiceLine: invoice_line)."""
    return _snake(model.__name__)


@dataclass(frozen=True)
class RowPermissions:
    change: bool
    delete: bool
    bulk: bool
    # The model's per-object check (`ModelAdmin.can` with the account), when the model has one.
    check: Callable[[str, Any], bool] | None = None

    def allows(self, action: str, obj: Any) -> bool:
        return self.check is None or self.check(action, obj)


@dataclass(frozen=True)
class SearchTarget:
    label: str
    column: Any
    relationship: Any  # the many-to-one relation to reach the column through, or None


class ModelAdmin:
    """Options for one model. Subclass with `model=`; every option has a default."""

    model: ClassVar[type]
    slug: ClassVar[str] = ""
    name: ClassVar[str] = ""
    name_plural: ClassVar[str] = ""
    list_display: ClassVar[Sequence[str]] = ()
    # Columns, or "relation__column" across a many-to-one (e.g. "owner__username").
    search_fields: ClassVar[Sequence[str]] = ()
    # Default: the listed fields whose type has a filter (yes/no, choices, related record, dates, numbers).
    list_filter: ClassVar[Sequence[str] | None] = None
    # The fields that name a record in links, selects and messages, joined by a space, e.g.
    # ("first_name", "last_name"). Default: the model's __str__ when it defines one, else a column that names it
    # (see NAMING_COLUMNS), else its first short string column, else "Album #1".
    label_fields: ClassVar[Sequence[str]] = ()
    # An FTS5 table (tokenize='trigram', rowid = primary key) that serves search on SQLite for its columns.
    sqlite_fts_table: ClassVar[str | None] = None
    sqlite_fts_columns: ClassVar[Sequence[str]] = ()
    ordering: ClassVar[Sequence[str]] = ()
    form_fields: ClassVar[Sequence[str]] = ()
    readonly_fields: ClassVar[Sequence[str]] = ()
    labels: ClassVar[dict[str, str]] = {}
    # Which admin type serves each SQLAlchemy column type (`COLUMN_TYPES.extended({...})` adds a host's own),
    # and one field's type by name, overriding it (e.g. {"notes": MarkdownType()}).
    column_types: ClassVar[TypeRegistry] = COLUMN_TYPES
    field_types: ClassVar[dict[str, FieldType]] = {}
    per_page: ClassVar[int] = DEFAULT_PER_PAGE
    # Without list_display, the most columns a list shows: the key and the naming columns first, then the other
    # short ones in the model's order, long strings (over LONG_STRING characters) left out with long text,
    # bytes and JSON. None: every field but long text, bytes and JSON, in the model's order.
    list_columns: ClassVar[int | None] = None
    # The list page's steps (search, count, rows, ...): a subclass of ListPage replaces any of them.
    list_page_class: ClassVar[type[ListPage]] = ListPage
    # Custom actions over selected rows (name, label, async function); see the bulk actions.
    actions: ClassVar[Sequence[Any]] = ()
    # A PasswordHash column set through its own form (never shown); None when the model has none.
    password_field: ClassVar[str | None] = None
    # No permission rows are made for such a model, so only superusers can reach it (accounts).
    superuser_only: ClassVar[bool] = False
    # Rows listed, searched, filtered, exported and shown, never written: no add, change or delete controls, and
    # those routes refuse (a SQL view, a table without a primary key).
    read_only: ClassVar[bool] = False
    # Whether a row links to a page of its own: False for rows without a key that names one row (a table without
    # a primary key is mapped on all its columns, which may repeat and hold NULLs).
    record_pages: ClassVar[bool] = True
    list_url: str = ""
    site: Any = None  # the AdminSite it is registered with

    def __init_subclass__(cls, model: type | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if model is not None:
            cls.model = model

    def __init__(self) -> None:
        if not hasattr(type(self), "model"):
            raise TypeError(f"{type(self).__name__} needs a model: class {type(self).__name__}(ModelAdmin, model=...)")
        self.key = RecordKey(self.model)
        # A table without a primary key of its own (mapped on some of its columns) is only read, and its rows
        # have no page: that "key" need not name one row.
        keyless = not self.model.__table__.primary_key.columns
        self.read_only = type(self).read_only or keyless
        self.record_pages = type(self).record_pages and not keyless
        self.slug = type(self).slug or default_slug(self.model)
        self.name = type(self).name or humanize(_snake(self.model.__name__)).lower()
        self.name_plural = type(self).name_plural or f"{self.name}s"
        self.fields: dict[str, Field] = introspect(self.model, self.labels, self.column_types, self.field_types)
        self._check_names("list_display", self.list_display)
        self._check_names("search_fields", [n for n in self.search_fields if "__" not in n])
        self._check_names("list_filter", self.list_filter or ())
        self._check_names("form_fields", self.form_fields)
        self._check_names("readonly_fields", self.readonly_fields)
        self._check_names("label_fields", self.label_fields)
        self._check_names("ordering", [name.lstrip("-") for name in self.ordering])
        self.service_class = self._make_service_class()

    def _check_names(self, option: str, names: Sequence[str]) -> None:
        unknown = [name for name in names if name not in self.fields]
        if unknown:
            raise TypeError(f"{type(self).__name__}.{option} names unknown fields: {', '.join(unknown)}")

    def _make_service_class(self) -> type[SQLAlchemyAsyncRepositoryService[Any]]:
        repo = type(f"{self.model.__name__}AdminRepository", (SQLAlchemyAsyncRepository,), {"model_type": self.model})
        return type(
            f"{self.model.__name__}AdminService",
            (SQLAlchemyAsyncRepositoryService,),
            {"repository_type": repo},
        )

    def service(self, session: AsyncSession) -> SQLAlchemyAsyncRepositoryService[Any]:
        # Writes are flushed, not committed: the request's before_send handler commits or rolls back.
        return self.service_class(session=session, auto_commit=False, auto_refresh=False)

    # -- resolved options ---------------------------------------------------------------------------------

    @cached_property
    def list_fields(self) -> list[Field]:
        # Long values (text, JSON) would swamp a table row unless asked for by name (or there is nothing else).
        if self.list_display:
            names = list(self.list_display)
        elif self.list_columns is None:
            names = [name for name, f in self.fields.items() if not f.type.bulky]
        else:
            names = self._compact_columns(self.list_columns)
        return [self.fields[name] for name in names or list(self.fields)]

    def _compact_columns(self, most: int) -> list[str]:
        """The key, the naming columns, then the other short fields in order, no more than `most` of them."""
        short = [
            name
            for name, f in self.fields.items()
            if not f.type.bulky and not (isinstance(f.type, StringType) and (f.max_length or 0) > LONG_STRING)
        ]
        first = [name for name in (*self.key.names, *self.label_names) if name in self.fields]
        return list(dict.fromkeys([*first, *short]))[: max(most, len(first))]

    @cached_property
    def create_fields(self) -> list[Field]:
        """The form that adds a record: declared form fields (or every writable one), with the parts of its key
        that the database does not generate (a natural key), never managed columns."""
        names = self.form_fields or list(self.fields)
        blocked = set(self.readonly_fields)
        return [self.fields[name] for name in names if not self.fields[name].read_only and name not in blocked]

    @cached_property
    def editable_fields(self) -> list[Field]:
        """The form that changes a record: the create form without its key, which names the record for good
        (in its URLs and its history)."""
        return [f for f in self.create_fields if not f.primary_key]

    @cached_property
    def readonly_display_fields(self) -> list[Field]:
        editable = {f.name for f in self.editable_fields}
        return [f for f in self.fields.values() if f.name not in editable]

    @cached_property
    def detail_fields(self) -> list[Field]:
        return list(self.fields.values())

    @cached_property
    def relations(self) -> dict[str, Relation]:
        """The to-many relations a detail page shows in sections of their own, a page at a time, by name
        (webapp.admin.related); worked out once the site knows which models it shows."""
        return {relation.name: relation for relation in relations_of(self)}

    @cached_property
    def page_fields(self) -> list[Field]:
        """The values a detail page lists: every field but the collections it pages in their own sections."""
        return [f for f in self.detail_fields if not (f.type.many and f.name in self.relations)]

    @cached_property
    def search_columns(self) -> list[Field]:
        """The model's own search fields (related ones are in search_targets)."""
        names = [n for n in self.search_fields if "__" not in n] or [
            name
            for name, f in self.fields.items()
            if f.type.searchable or (name in self.label_names and isinstance(f.type, StringType))
        ]
        return [self.fields[name] for name in names]

    @cached_property
    def search_targets(self) -> list[SearchTarget]:
        targets = [SearchTarget(f.label, f.column, None) for f in self.search_columns if f.column is not None]
        mapper = inspect(self.model)
        for name in self.search_fields:
            if "__" not in name:
                continue
            rel_name, column_name = name.split("__", 1)
            rel = mapper.relationships.get(rel_name)
            if rel is None or rel.direction is not RelationshipDirection.MANYTOONE:
                raise TypeError(f"{type(self).__name__}.search_fields: {name} is not a many-to-one relation's column")
            column = rel.mapper.columns.get(column_name)
            if column is None:
                raise TypeError(f"{type(self).__name__}.search_fields: {rel_name} has no column {column_name}")
            targets.append(SearchTarget(f"{humanize(rel_name)} {humanize(column_name).lower()}", column, rel))
        return targets

    @cached_property
    def filter_fields(self) -> list[Field]:
        if self.list_filter is not None:
            return [self.fields[name] for name in self.list_filter]
        return [f for f in self.list_fields if f.type.filter is not None and not f.read_only]

    @cached_property
    def query_filter_fields(self) -> list[Field]:
        """The filters a list's URL may use: the sidebar's, and on every column a date or number range and a
        related record (`created_at__lte=...`, `owner_id=3`), listed or not, as the URL contract promises."""
        shown = {f.name for f in self.filter_fields}
        return [
            *self.filter_fields,
            *(
                f
                for f in self.fields.values()
                if f.name not in shown and f.column is not None and f.type.filter in {"date", "number", "related"}
            ),
        ]

    @cached_property
    def label_names(self) -> tuple[str, ...]:
        """The fields `label` joins: `label_fields`, or the columns found to name a record."""
        if self.label_fields:
            return tuple(self.label_fields)
        strings = [
            f
            for f in self.fields.values()
            if isinstance(f.type, StringType)
            and f.column is not None
            and not f.column.primary_key
            and isinstance(base_type(f.column), sa_types.String)  # not an ARRAY of strings
        ]
        # A column named to name (name, title, ...) does so whatever its length: SQLite's usual string type is
        # TEXT, which reflects as long text. Otherwise the first short string.
        by_key = {f.name.replace("_", "").lower(): f.name for f in strings}
        for key in NAMING_COLUMNS:
            if key in by_key:
                return (by_key[key],)
        if "firstname" in by_key and "lastname" in by_key:
            return (by_key["firstname"], by_key["lastname"])
        short = [f.name for f in strings if not f.type.bulky]
        return (short[0],) if short else ()

    @cached_property
    def label_column(self) -> Any:
        """The column that names a record, for sorting by a relation and for lookups."""
        if self.label_names:
            return getattr(self.model, self.label_names[0])
        columns = self.search_columns
        return columns[0].column if columns else self.key.columns[0]

    @cached_property
    def sortable(self) -> set[str]:
        # A computed value sorts by its SQL (a column_property); a hybrid only when it has an expression.
        return {
            f.name
            for f in self.list_fields
            if not f.type.many and (not f.computed or sql_type_of(self.model, f.name) is not None)
        }

    @cached_property
    def default_ordering(self) -> list[str]:
        return list(self.ordering) or list(self.key.names)

    @cached_property
    def inline_editable(self) -> set[str]:
        """Fields edited in place in a list row: the listed columns that are in the form."""
        listed = {f.name for f in self.list_fields}
        return {f.name for f in self.editable_fields if f.name in listed}

    @cached_property
    def inline_creatable(self) -> set[str]:
        """Fields given in place in a new list row: the listed columns of the create form."""
        listed = {f.name for f in self.list_fields}
        return {f.name for f in self.create_fields if f.name in listed}

    @cached_property
    def can_create_inline(self) -> bool:
        """A row can only create a record when every required field has a cell in it."""
        return all(f.name in self.inline_creatable for f in self.create_fields if f.required)

    @cached_property
    def version_attr(self) -> str | None:
        """The mapper's version counter (version_id_col), when the model has one."""
        mapper = inspect(self.model)
        column = mapper.version_id_col
        return mapper.get_property_by_column(column).key if column is not None else None

    def version_token(self, obj: Any) -> str:
        """What an edit form carries to detect a change made meanwhile: the version counter, or else a
        digest of every editable value (relations loaded)."""
        if self.version_attr is not None:
            return str(getattr(obj, self.version_attr))
        values = []
        for f in self.editable_fields:
            raw = f.to_input(getattr(obj, f.name))
            values.append(f"{f.name}={sorted(raw) if isinstance(raw, list) else raw}")
        return hashlib.sha256("\x1f".join(values).encode()).hexdigest()[:32]

    def relation_loaders(self, fields: Sequence[Field]) -> list[LoaderOption]:
        """Relations shown, loaded up front whatever the number of rows: a many-to-one joined into the same
        SELECT (one row each, and no list of keys to bind), a collection by one SELECT ... IN."""
        names = sorted({f.relationship for f in fields if f.relationship})
        relationships = inspect(self.model).relationships
        return [
            (selectinload if relationships[name].uselist else joinedload)(getattr(self.model, name)) for name in names
        ]

    @cached_property
    def sampled_collections(self) -> frozenset[str]:
        """The collections (many-to-many fields) a list row and a detail page read in part: their first records
        and their count, one statement each (webapp.admin.samples). Any other is read whole."""
        relationships = inspect(self.model).relationships
        return frozenset(
            f.name
            for f in self.fields.values()
            if f.type.many and f.relationship and samples.can_sample(relationships[f.relationship])
        )

    def with_relations(self, statement: Select[Any], fields: Sequence[Field], *, whole: bool) -> Select[Any]:
        """`statement` (rows of this model, already ordered) loading the relations `fields` show, in a fixed
        number of statements whatever the number of rows. `whole`: collections read whole (a form's); else the
        sampled ones are left to `read_related`.

        Many-to-one relations are joined into the SELECT. So is one many-to-many, through plain LEFT JOINs on
        its link table (a row per related record), ordered last; not through joinedload, whose nested join
        (link JOIN target) SQLite reads whole before joining. A second collection would multiply the rows: it
        is read by a SELECT ... IN. The statement must not be LIMITed itself (page by key: `pk IN (...)`).
        """
        relationships = inspect(self.model).relationships
        names = sorted({f.relationship for f in fields if f.relationship})
        if not whole:
            # The sampled collections, and those not shown (a detail page's sections read theirs a page at a
            # time), are left unloaded whatever the relationship's own `lazy`: an eager default would read them
            # whole.
            names = [name for name in names if name not in self.sampled_collections]
            unloaded = [rel.key for rel in relationships if rel.uselist and rel.key not in names]
            statement = statement.options(*(lazyload(getattr(self.model, name)) for name in unloaded))
        joined = next((name for name in names if _joinable_collection(self.model, relationships[name])), None)
        for name in names:
            relationship = relationships[name]
            attribute = getattr(self.model, name)
            if name == joined:
                statement = statement.outerjoin(relationship.secondary, relationship.primaryjoin).outerjoin(
                    relationship.mapper.class_, relationship.secondaryjoin
                )
                statement = statement.options(contains_eager(attribute))
                if relationship.order_by:
                    statement = statement.order_by(*relationship.order_by)
            elif relationship.uselist:
                statement = statement.options(selectinload(attribute))
            else:
                statement = statement.options(joinedload(attribute))
        return statement

    def shown_fields(self, reading: Reading) -> list[Field]:
        if reading is Reading.ROW:
            return self.list_fields
        if reading is Reading.DETAIL:
            return self.page_fields
        return [] if reading is Reading.OWN else self.detail_fields

    @cached_property
    def one_row_statements(self) -> dict[Reading, Select[Any]]:
        """The record by key with the relations each reading shows, built once: SQLAlchemy then reuses the
        compiled statement instead of rebuilding it on every request."""
        by_key = select(self.model).where(self.key.matches())
        return {
            reading: self.with_relations(by_key, self.shown_fields(reading), whole=reading is Reading.FORM)
            for reading in Reading
        }

    async def read_related(self, session: AsyncSession, objs: Sequence[Any], reading: Reading) -> None:
        """For `objs` read by a statement of `with_relations(..., whole=False)`: the first records of each
        sampled collection the reading shows, with their count, one statement per collection."""
        if reading is Reading.FORM:
            return
        limit = samples.LIST_ITEMS if reading is Reading.ROW else samples.DETAIL_ITEMS
        relationships = inspect(self.model).relationships
        shown = {f.name for f in self.shown_fields(reading)}
        for name in sorted(self.sampled_collections & shown):
            await samples.read(session, relationships[name], objs, limit)

    def permits(self, account: Any, action: str) -> bool:
        """Whether `account` may `action` ("view", "add", "change", "delete", "export", "action:<name>") this
        model's records: its permission, and never a write on a read-only model. Every route and control asks
        here."""
        if self.read_only and action not in READ_ACTIONS:
            return False
        return account is not None and account.can(self.slug, action)

    def bulk_actions(self, account: Any) -> list[tuple[str, str]]:
        """(value, label) of the bulk actions this account may run on this model's rows."""
        if account is None:
            return []
        out = [("delete", f"Delete selected {self.name_plural}")] if self.permits(account, "delete") else []
        out += [(a.name, a.label) for a in self.actions if self.permits(account, f"action:{a.name}")]
        return out

    def row_permissions(self, account: Any) -> RowPermissions:
        """What one account may do to a row, worked out once per page rather than per row."""
        if account is None:
            return RowPermissions(False, False, False)
        return RowPermissions(
            change=self.permits(account, "change"),
            delete=self.permits(account, "delete"),
            bulk=bool(self.bulk_actions(account)),
            check=partial(self.can, account) if self.checks_objects else None,
        )

    def allows(self, account: Any, action: str, obj: Any) -> bool:
        """The model's permission and the per-object check together: whether to offer `action` on `obj`."""
        return self.permits(account, action) and self.can(account, action, obj)

    # -- scope ------------------------------------------------------------------------------------------------

    def list_query(self, statement: Select[Any], account: Any) -> Select[Any]:
        """The rows of this model `account` may reach, as Django's `get_queryset`: add WHERE clauses to
        `statement` (a SELECT of this model, or of its key). Every route that reaches a record starts from it:
        the list and its counts, detail, edit, delete, bulk actions, export, lookups, history and restore."""
        return statement

    def can(self, account: Any, action: str, obj: Any) -> bool:
        """Whether `account` may `action` ("view", "change", "delete") this record, once the model's permission
        is granted: False answers 403 and hides the row's button. Django's `has_change_permission(obj)`."""
        return True

    @cached_property
    def checks_objects(self) -> bool:
        """Whether `can` is overridden: only then is it asked once per listed row."""
        return type(self).can is not ModelAdmin.can

    @cached_property
    def is_scoped(self) -> bool:
        """Whether `list_query` is overridden: an unscoped model keeps its statements built once (the
        optimisation tests/test_request_costs.py guards), a scoped one builds them per account."""
        return type(self).list_query is not ModelAdmin.list_query

    def scoped(self, statement: Select[Any], account: Any) -> Select[Any]:
        return self.list_query(statement, account) if self.is_scoped else statement

    def list_page(self, session: AsyncSession, query: ListQuery, account: Any) -> ListPage:
        """The list page of `query` for `account`: the list, its counts, bulk "all matching" and export read
        their rows through it."""
        return self.list_page_class(self, session, query, account)

    # -- hooks: async, with the request's session, inside its transaction (webapp.admin.records) ---------------

    async def before_create(self, context: WriteContext, obj: Any) -> None:
        """Before a new (or restored) record is inserted; raise `records.Refused` to refuse it."""

    async def after_create(self, context: WriteContext, obj: Any) -> None:
        """After the insert and its audit entry, in the same transaction; `Refused` still undoes it all."""

    async def before_update(self, context: WriteContext, obj: Any, changes: dict[str, list[Any]]) -> None:
        """Before changed values (`changes`: {name: [before, after]}, a many-to-many field's as {"added": keys,
        "removed": keys}) are written; `Refused` refuses them. A password change comes here too, as the change
        {"password": ["(hidden)", "(changed)"]}."""

    async def after_update(self, context: WriteContext, obj: Any, changes: dict[str, list[Any]]) -> None:
        """After the write and its audit entry, in the same transaction (not called when nothing changed)."""

    async def before_delete(self, context: WriteContext, obj: Any) -> None:
        """Before a record is deleted (one, or each of a bulk delete); `Refused` refuses it."""

    async def after_delete(self, context: WriteContext, obj: Any) -> None:
        """After the delete and its audit entry, in the same transaction."""

    # -- presentation --------------------------------------------------------------------------------------

    def key_of(self, obj: Any) -> str:
        """The record's key as text: for its URLs, its checkbox and its audit entries (webapp.admin.keys)."""
        return self.key.text_of(obj)

    def label(self, obj: Any) -> str:
        """How a record is named in links, selects and messages (see `label_fields`). Override for a custom
        label."""
        if not self.label_fields and type(obj).__str__ is not object.__str__:
            return str(obj)
        parts = [str(value) for name in self.label_names if (value := getattr(obj, name, None)) not in (None, "")]
        if parts:
            return " ".join(parts)
        values = self.key.values_of(obj)
        return f"{humanize(self.name)} #{values[0] if len(values) == 1 else ', '.join(map(str, values))}"

    def dom_id(self, obj_or_key: Any) -> str:
        """The HTML id of a record's list row, from the record or its key's text."""
        key = obj_or_key if isinstance(obj_or_key, str) else self.key_of(obj_or_key)
        return f"{self.slug}-{self.key.dom_id(key)}"

    def url(self, key: str | None = None, action: str = "") -> str:
        """This model's admin URL for a record (by its key's text) or a page of the model (AdminSite.url)."""
        return self.site.url(self.slug, key, action)


def _joinable_collection(model: type, relationship: RelationshipProperty[Any]) -> bool:
    """A many-to-many to another model: LEFT JOINs through its link table need no aliases."""
    return (
        relationship.uselist
        and relationship.secondary is not None
        and relationship.mapper.local_table is not inspect(model).local_table
    )
