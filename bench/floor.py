"""The floor: the admin's three hottest pages written by hand, with none of the admin's machinery.

Same database, same SQLite pragmas, same app-level middleware as `webapp.app.create_app()` (cookie session, CSRF,
gzip) and SQLAlchemy async; no ModelAdmin, no introspection, no forms layer, no template lookup chain. What the
admin does in less than 1/0.7 of this time meets the target.

Signed in (`create_floor_app()`, the default), each page also does by hand the work issue #4 asks of every admin
request: it reads the admin's session (the `admin_session` cookie's row in `admin_store`) and its account in one
statement, as the admin does, and answers 401/403 unless the account is active, the session current and the
permission held; the update reads the row's old values and writes the admin's audit entry. Bare
(`create_floor_app(signed_in=False)`) it does neither: the floor as issue #3 first defined it, before the admin
had sign-in or an audit log.

GET   /floor/item/            count (capped like the admin's) + the 50 newest items with their owner's username
                              + their tags
GET   /floor/item/{pk}/edit   one item, its owner's name joined, in a bare form, its fields drawn as the admin
                              draws them for this data: the owner (1,000 users) as an autocomplete shows it (the
                              current one; choices come from a lookup URL) and the tags (10) as a select of every
                              tag, the item's selected
PATCH /floor/item/{pk}        UPDATE name/price (the fields sent) and render the one row back; signed in, the row
                              (owner, tags) is read first, as the admin reads it, and an audit entry written
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from jinja2 import DictLoader, Environment
from litestar import Litestar, MediaType, Request, Response, get, patch
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.logging.config import LoggingConfig
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.params import FromPath
from litestar.utils.empty import value_or_default
from litestar.utils.scope.state import ScopeState
from sqlalchemy import Row, bindparam, event, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from webapp.admin.auth import ACCOUNT_KEY, EPOCH_KEY
from webapp.admin.db import SQLITE_PRAGMAS
from webapp.admin.models import AdminAccount, AdminLogEntry, AdminStoreEntry
from webapp.admin.sessions import SESSION_COOKIE
from webapp.admin.signed_in import ACCOUNT_BY_ID, ACCOUNT_COLUMNS
from webapp.demo.models import Item, Status, Tag, User, item_tag
from webapp.settings import Settings

PER_PAGE = 50
try:  # show the count the way the admin does: exact up to its cap, then "10,000+"
    from webapp.admin.listing import COUNT_CAP
except ImportError:  # an admin that counts everything
    COUNT_CAP = None
MAX_PRICE = Decimal("99999999.99")

TEMPLATES = {
    "base.html": """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{% block title %}{% endblock %}</title></head>
<body><main>{% block content %}{% endblock %}</main></body></html>
""",
    "list.html": """{% extends "base.html" %}{% block title %}Items{% endblock %}{% block content %}
<h1>Items</h1>
<p>{% if cap and total > cap %}{{ "{:,}".format(cap) }}+{% else %}{{ "{:,}".format(total) }}{% endif %} items
· showing 1&ndash;{{ rows|length }}</p>
<table>
<thead><tr><th>Name</th><th>Price</th><th>Quantity</th><th>Status</th><th>Available from</th><th>Owner</th>
<th>Tags</th><th></th></tr></thead>
<tbody>
{% for row in rows %}{% include "row.html" %}{% endfor %}
</tbody>
</table>
{% if total > rows|length %}<a href="?page=2" rel="next">Next</a>{% endif %}
{% endblock %}
""",
    "row.html": """<tr id="item-{{ row.id }}"><td><a href="/floor/item/{{ row.id }}">{{ row.name }}</a></td>
<td>{{ row.price }}</td><td>{{ row.quantity }}</td><td>{{ row.status.value }}</td>
<td>{{ row.available_from or "—" }}</td><td><a href="/floor/user/{{ row.owner_id }}">{{ row.username }}</a></td>
<td>{% for tag in tags.get(row.id, ()) %}<a href="/floor/tag/{{ tag.id }}">{{ tag.name }}</a>{% if not loop.last %}, \
{% endif %}{% else %}—{% endfor %}</td>
<td><a href="/floor/item/{{ row.id }}/edit">Edit</a></td></tr>
""",
    "edit.html": """{% extends "base.html" %}{% block title %}Edit {{ item.name }}{% endblock %}{% block content %}
<h1>Edit {{ item.name }}</h1>
<form method="post" action="/floor/item/{{ item.id }}">
<input type="hidden" name="_csrf_token" value="{{ csrf_token }}">
<label>Name <input name="name" value="{{ item.name }}" maxlength="200" required></label>
<label>Description <textarea name="description" rows="6">{{ item.description or "" }}</textarea></label>
<label>Price <input type="number" name="price" value="{{ item.price }}" step="0.01" min="0" required></label>
<label>Quantity <input type="number" name="quantity" value="{{ item.quantity }}" min="0" required></label>
<label>Status <select name="status">{% for s in statuses %}<option value="{{ s.value }}"\
{% if s == item.status %} selected{% endif %}>{{ s.value }}</option>{% endfor %}</select></label>
<label>Available from <input type="date" name="available_from" value="{{ item.available_from or "" }}"></label>
<label>Owner <input type="hidden" name="owner_id" value="{{ item.owner_id }}">\
<input type="search" value="{{ owner }}" autocomplete="off" data-lookup="/floor/user/lookup"></label>
<label>Tags <select name="tags" multiple>{% for tag in tags %}<option value="{{ tag.id }}"\
{% if tag.chosen %} selected{% endif %}>{{ tag.name }}</option>{% endfor %}</select></label>
<button type="submit">Save</button>
</form>
{% endblock %}
""",
}

templates = Environment(loader=DictLoader(TEMPLATES), autoescape=True)

ROW_COLUMNS = (
    Item.id,
    Item.name,
    Item.price,
    Item.quantity,
    Item.status,
    Item.available_from,
    Item.owner_id,
    User.username,
)


# The admin's session row and, joined by the account id an earlier request of the session found, its account: the
# columns and permission codenames the admin reads, in the statement the admin sends.
SESSION_AND_ACCOUNT = (
    select(AdminStoreEntry.value, *ACCOUNT_COLUMNS)
    .outerjoin(AdminAccount, AdminAccount.id == bindparam("account_id"))
    .where(
        AdminStoreEntry.key == bindparam("key"),
        AdminStoreEntry.namespace == bindparam("namespace"),
        AdminStoreEntry.expires_at.is_(None) | (AdminStoreEntry.expires_at > bindparam("now")),
    )
)
AUDIT_ENTRY = insert(AdminLogEntry.__table__)


async def _signed_in(state: State, session: AsyncSession, request: Request[Any, Any, Any], permission: str) -> Any:
    """The signed-in account that may do `permission` (401/403 otherwise); None for the bare floor."""
    if not state.signed_in:
        return None
    key = request.cookies.get(SESSION_COOKIE)
    if not key:
        raise NotAuthorizedException()
    hints: dict[str, int] = state.account_hints
    parameters = {"key": key, "namespace": "sessions", "now": datetime.now(UTC), "account_id": hints.get(key)}
    row: Row[Any] | None = (await session.execute(SESSION_AND_ACCOUNT, parameters)).one_or_none()
    if row is None:
        raise NotAuthorizedException()
    data = json.loads(row.value)
    account_id = data.get(ACCOUNT_KEY)
    if row.id != account_id:  # the session's first request: read its account, and join it from now on
        row = (await session.execute(ACCOUNT_BY_ID, {"id": account_id})).one_or_none()
        hints[key] = account_id
    if row is None or not row.is_active or row.session_epoch != data.get(EPOCH_KEY):
        raise NotAuthorizedException()
    if not row.is_superuser and permission not in (row.codenames or "").split("\n"):
        raise PermissionDeniedException()
    return row


def _html(name: str, status_code: int = 200, **context: Any) -> Response[str]:
    return Response(templates.get_template(name).render(context), media_type=MediaType.HTML, status_code=status_code)


def _sessions(state: State) -> async_sessionmaker[AsyncSession]:
    return state.sessions


async def _tags_of(session: AsyncSession, ids: list[int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = defaultdict(list)
    statement = (
        select(item_tag.c.item_id, Tag.id, Tag.name)
        .join(Tag, Tag.id == item_tag.c.tag_id)
        .where(item_tag.c.item_id.in_(ids))
        .order_by(Tag.name)
    )
    for item_id, tag_id, name in await session.execute(statement):
        found[item_id].append({"id": tag_id, "name": name})
    return found


@get("/floor/item/")
async def list_items(state: State, request: Request[Any, Any, Any]) -> Response[str]:
    async with _sessions(state)() as session:
        await _signed_in(state, session, request, "item.view")
        counted = select(Item.id) if COUNT_CAP is None else select(Item.id).limit(COUNT_CAP + 1)
        total = await session.scalar(select(func.count()).select_from(counted.subquery())) or 0
        # Pick the 50 rows on `item` alone (a top-N sort), then join their owners: joining first makes SQLite join
        # every row before sorting. (A derived table: MariaDB refuses a LIMIT directly inside IN.)
        newest = select(Item.id).order_by(Item.created_at.desc(), Item.id.desc()).limit(PER_PAGE).subquery()
        statement = (
            select(*ROW_COLUMNS)
            .join(User, User.id == Item.owner_id)
            .where(Item.id.in_(select(newest.c.id)))
            .order_by(Item.created_at.desc(), Item.id.desc())
        )
        rows = (await session.execute(statement)).all()
        tags = await _tags_of(session, [row.id for row in rows])
    return _html("list.html", total=total, cap=COUNT_CAP, rows=rows, tags=tags)


@get("/floor/item/{pk:int}/edit")
async def edit_item(state: State, request: Request[Any, Any, Any], pk: FromPath[int]) -> Response[str]:
    async with _sessions(state)() as session:
        await _signed_in(state, session, request, "item.change")
        # The owner's name joined to the item, as the admin loads it.
        found = (
            await session.execute(select(Item, User.username).join(User, User.id == Item.owner_id).where(Item.id == pk))
        ).first()
        if found is None:
            raise NotFoundException()
        item, owner = found
        chosen = exists().where(item_tag.c.item_id == pk, item_tag.c.tag_id == Tag.id)
        tags = (await session.execute(select(Tag.id, Tag.name, chosen.label("chosen")).order_by(Tag.id))).all()
    return _html(
        "edit.html",
        item=item,
        owner=owner,
        tags=tags,
        statuses=list(Status),
        csrf_token=value_or_default(ScopeState.from_scope(request.scope).csrf_token, ""),
    )


def _parse(form: Any) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    errors: list[str] = []
    if "name" in form:
        name = str(form["name"]).strip()
        if 0 < len(name) <= 200:
            values["name"] = name
        else:
            errors.append("name: 1 to 200 characters")
    if "price" in form:
        try:
            price = Decimal(str(form["price"])).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            errors.append("price: a number")
        else:
            if 0 <= price <= MAX_PRICE:
                values["price"] = price
            else:
                errors.append("price: between 0 and 99999999.99")
    return values, errors


@patch("/floor/item/{pk:int}")
async def update_item(state: State, request: Request[Any, Any, Any], pk: FromPath[int]) -> Response[str]:
    if state.signed_in:
        return await _update_audited(state, request, pk)
    values, errors = _parse(await request.form())
    if errors:
        return Response("; ".join(errors), media_type=MediaType.TEXT, status_code=422)
    async with _sessions(state).begin() as session:
        if values:
            statement = (
                update(Item)
                .where(Item.id == pk)
                .values(**values, updated_at=datetime.now(UTC))
                .execution_options(synchronize_session=False)
            )
            await session.execute(statement)
        row = (
            await session.execute(select(*ROW_COLUMNS).join(User, User.id == Item.owner_id).where(Item.id == pk))
        ).first()
        if row is None:
            raise NotFoundException()
        tags = await _tags_of(session, [pk])
    return _html("row.html", row=row, tags=tags)


async def _update_audited(state: State, request: Request[Any, Any, Any], pk: int) -> Response[str]:
    """The update as the admin does it: signed in first, then the form, the row read (its old values go in the
    audit entry, and it is what is drawn back), UPDATE and the entry."""
    tag_columns = (Tag.id.label("tag_id"), Tag.name.label("tag_name"))
    statement = (
        select(*ROW_COLUMNS, *tag_columns)
        .join(User, User.id == Item.owner_id)
        .outerjoin(item_tag, item_tag.c.item_id == Item.id)
        .outerjoin(Tag, Tag.id == item_tag.c.tag_id)
        .where(Item.id == pk)
        .order_by(Tag.name)
    )
    async with _sessions(state).begin() as session:
        account = await _signed_in(state, session, request, "item.change")
        values, errors = _parse(await request.form())
        if errors:
            return Response("; ".join(errors), media_type=MediaType.TEXT, status_code=422)
        read = (await session.execute(statement)).all()
        if not read:
            raise NotFoundException()
        before = read[0]._asdict()
        changes = {name: [str(before[name]), str(value)] for name, value in values.items() if before[name] != value}
        if changes:
            await session.execute(
                update(Item)
                .where(Item.id == pk)
                .values(**values, updated_at=datetime.now(UTC))
                .execution_options(synchronize_session=False)
            )
            entry = {
                "account_id": account.id, "username": account.username, "model": "item", "object_pk": str(pk),
                "object_label": str(values.get("name", before["name"]))[:255], "action": "update",
                "changes": changes, "snapshot": None,
            }  # fmt: skip
            await session.execute(AUDIT_ENTRY, entry)
    tags = {pk: [{"id": r.tag_id, "name": r.tag_name} for r in read if r.tag_id is not None]}
    return _html("row.html", row={**before, **values}, tags=tags)


def create_floor_app(settings: Settings | None = None, *, signed_in: bool = True) -> Litestar:
    settings = settings or Settings()
    sqlite = settings.database_url.startswith("sqlite")
    engine = create_async_engine(settings.database_url, pool_pre_ping=not sqlite)
    if sqlite:

        def pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        event.listen(engine.sync_engine, "connect", pragmas)

    async def dispose() -> None:
        await engine.dispose()

    return Litestar(
        route_handlers=[list_items, edit_item, update_item],
        middleware=[CookieBackendConfig(secret=settings.secret_key, httponly=True, samesite="lax").middleware],
        csrf_config=CSRFConfig(secret=settings.secret_key.hex(), cookie_samesite="lax"),
        compression_config=CompressionConfig(backend="gzip", minimum_size=500),
        openapi_config=None,
        logging_config=LoggingConfig(log_exceptions="always"),
        state=State(
            {
                "sessions": async_sessionmaker(engine, expire_on_commit=False),
                "signed_in": signed_in,
                "account_hints": {},  # session id -> its account's id (see _signed_in)
            }
        ),
        on_shutdown=[dispose],
        debug=False,
    )
