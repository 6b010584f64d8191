"""What a request costs in SQL: the session is read in the request's own transaction, a record is read once
per update, and relation widgets do not re-read what the record already loaded."""

from __future__ import annotations

import gc
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import selectinload

from tests.conftest import SECRET, Admin, add_account, count_statements
from webapp.admin import AdminPlugin
from webapp.admin.fields import introspect
from webapp.admin.forms import SELECT_LIMIT, instance_form, load_choices
from webapp.admin.models import AdminAccount, AdminPermission, admin_account_permission
from webapp.admin.sizes import TableSizes
from webapp.app import create_app
from webapp.demo.models import Item, Tag, User
from webapp.settings import Settings

pytestmark = pytest.mark.anyio


def _touching(statements: list[str], table: str) -> list[str]:
    return [s for s in statements if re.search(rf"\b(FROM|UPDATE|INTO) {table}\b", s)]


async def _add_users(db, count: int) -> None:
    async with db() as session:
        session.add_all(User(username=f"extra{n}", email=f"extra{n}@example.com") for n in range(count))
        await session.commit()


@pytest.mark.optimisation("the session read rides in the request transaction (WritingStore.read_in_request)")
async def test_a_page_reads_the_session_once_in_the_request_transaction(browser, htmx, demo, database_url):
    await browser.open("/admin/item/")  # the first page of a session also writes the session back
    with count_statements() as statements:
        assert (await browser.open("/admin/item/")).status_code == 200
    assert len(_touching(statements, "admin_store")) == 1, "one read, no write-back of an unchanged session"
    with count_statements() as writing:
        saved = await htmx.submit(f"/admin/item/{demo.lamp.id}", {"name": "Desk lamp"}, method="PATCH")
    assert saved.status_code == 200
    if database_url.startswith("sqlite"):
        # PostgreSQL's BEGIN is not a statement the driver sends through a cursor; SQLite's is. A page that
        # only reads opens no transaction there (each SELECT reads its own snapshot); one that writes takes
        # the write lock once, up front, and reads the session in that same transaction.
        assert not [s for s in statements if s.startswith("BEGIN")], "no transaction for a page that reads"
        assert [s for s in writing if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]
        assert writing[1].startswith("SELECT admin_store.value"), writing[:2]


@pytest.mark.optimisation("the update flushes the loaded record instead of the service re-reading it")
async def test_an_inline_update_reads_the_record_once_and_writes_it_once(htmx, demo, db):
    await htmx.open(f"/admin/item/{demo.lamp.id}/edit")
    with count_statements() as statements:
        saved = await htmx.submit(f"/admin/item/{demo.lamp.id}", {"name": "Desk lamp"}, method="PATCH")
    assert saved.status_code == 200
    assert "Desk lamp" in saved.text and 'href="/admin/user/' in saved.text and ">ada</a>" in saved.text
    item_statements = _touching(statements, "item")
    assert [s.split()[0] for s in item_statements] == ["SELECT", "UPDATE"], item_statements
    assert len(_touching(statements, "admin_log_entry")) == 1
    async with db() as session:
        assert (await session.get(Item, demo.lamp.id)).name == "Desk lamp"


@pytest.mark.optimisation("advanced-alchemy's FileObject and cache listeners are off (database_config)")
async def test_reads_and_writes_build_no_engines_on_the_way(htmx, demo, monkeypatch):
    """advanced-alchemy's FileObject and cache listeners, which the app does not use, asked every flush and commit
    for Engine.execution_options(), a new engine each time; they are off."""
    from sqlalchemy.engine import Engine

    built = []
    original = Engine.execution_options
    monkeypatch.setattr(Engine, "execution_options", lambda self, **kw: built.append(kw) or original(self, **kw))
    await htmx.open(f"/admin/item/{demo.lamp.id}/edit")
    saved = await htmx.submit(f"/admin/item/{demo.lamp.id}", {"name": "Desk lamp"}, method="PATCH")
    assert saved.status_code == 200 and "Desk lamp" in saved.text
    assert built == []


@pytest.mark.optimisation("the site is read from the route, not injected (site_of)")
async def test_no_page_resolves_its_dependencies_in_a_task_group(browser, htmx, demo, monkeypatch):
    """Litestar resolves a handler's independent dependencies together in an anyio task group: two tasks per
    request (the site and the session) were ~10% of an edit form. The site is read from the app's state."""
    from litestar._kwargs import kwargs_model

    def refuse() -> None:
        raise AssertionError("a task group was made to resolve dependencies")

    monkeypatch.setattr(kwargs_model, "create_task_group", refuse)
    for url in ("/admin/", "/admin/item/", f"/admin/item/{demo.lamp.id}", f"/admin/item/{demo.lamp.id}/edit"):
        assert (await browser.open(url)).status_code == 200, url
    saved = await htmx.submit(f"/admin/item/{demo.lamp.id}", {"name": "Desk lamp"}, method="PATCH")
    assert saved.status_code == 200 and "Desk lamp" in saved.text
    assert (await browser.open("/admin/item/export.csv")).status_code == 200
    assert (await browser.open("/admin/user/lookup?q=a")).status_code == 200


@pytest.mark.optimisation("a to-one choice the record already has is not looked up again (forms._resolve_relations)")
async def test_an_unchanged_owner_is_not_looked_up_again(browser, demo, db):
    form = {"name": "Desk lamp", "price": "15", "quantity": "2", "owner_id": str(demo.ada.id)}
    with count_statements() as statements:
        kept = await browser.submit(f"/admin/item/{demo.lamp.id}", form)
    assert kept.status_code == 303
    owner_reads = [s for s in statements if "user_account" in s]
    assert len(owner_reads) == 1 and "FROM item" in owner_reads[0], "the owner, loaded with the item, and no more"
    with count_statements() as statements:
        moved = await browser.submit(f"/admin/item/{demo.lamp.id}", {**form, "owner_id": str(demo.alan.id)})
    assert moved.status_code == 303
    assert [s for s in statements if s.startswith("SELECT user_account.id \nFROM user_account")], "a new owner is"
    refused = await browser.submit(f"/admin/item/{demo.lamp.id}", {**form, "name": "Gone", "owner_id": "999999"})
    assert refused.status_code == 422
    assert "Select a valid choice. 999999 is not one of the available choices." in refused.text
    async with db() as session:
        lamp = await session.get(Item, demo.lamp.id)
        assert (lamp.name, lamp.owner_id) == ("Desk lamp", demo.alan.id)


async def test_an_inline_update_that_changes_the_owner_shows_the_new_owner(htmx, demo, db):
    saved = await htmx.submit(f"/admin/item/{demo.lamp.id}", {"owner_id": str(demo.alan.id)}, method="PATCH")
    assert saved.status_code == 200
    assert f'<a href="/admin/user/{demo.alan.id}">alan</a>' in saved.text
    assert ">ada</a>" not in saved.text
    async with db() as session:
        assert (await session.get(Item, demo.lamp.id)).owner_id == demo.alan.id


async def test_the_edit_form_takes_the_owner_label_from_the_loaded_record(browser, demo, db):
    await _add_users(db, SELECT_LIMIT + 1)
    await browser.open(f"/admin/item/{demo.lamp.id}/edit")
    with count_statements() as statements:
        page = (await browser.open(f"/admin/item/{demo.lamp.id}/edit")).text
    assert f'<input type="hidden" name="owner_id" value="{demo.ada.id}" id="field-owner_id-value">' in page
    assert 'value="ada"' in page
    owner_reads = [s for s in statements if "user_account" in s]
    assert len(owner_reads) == 1 and "FROM item" in owner_reads[0], "the owner, loaded with the item, and no more"


async def test_a_related_table_found_big_keeps_its_autocomplete_until_it_is_measured_again(browser, demo, db):
    sizes = browser.client.app.plugins.get(AdminPlugin).site.table_sizes
    await _add_users(db, SELECT_LIMIT + 1)
    assert 'hx-get="/admin/user/lookup"' in (await browser.open("/admin/item/new")).text
    async with db() as session:
        await session.execute(delete(User).where(User.username.startswith("extra")))
        await session.commit()
        assert len((await session.scalars(select(User))).all()) == 2
    # Remembered as big: still an autocomplete (it works on a small table too), with no query to find out.
    with count_statements() as statements:
        page = (await browser.open("/admin/item/new")).text
    assert 'hx-get="/admin/user/lookup"' in page and '<select id="field-owner_id"' not in page
    assert not _touching(statements, "user_account")
    sizes.memory = 0  # the memory has expired: the table is measured again
    page = (await browser.open("/admin/item/new")).text
    assert '<select id="field-owner_id" name="owner_id"' in page
    assert f'<option value="{demo.alan.id}">alan</option>' in page


async def test_a_chosen_row_expired_by_a_rollback_is_read_again_not_lazily(db, demo):
    """After a refused write the session's rows are expired; the autocomplete's label must not touch them."""
    sizes = TableSizes()
    sizes.found_more_than(User, SELECT_LIMIT)
    owner = introspect(Item)["owner_id"]
    form = instance_form([owner], SimpleNamespace(owner_id=demo.ada.id))
    async with db() as session:
        ada = await session.get(User, demo.ada.id)  # held, as a request holds the rows it loaded
        await session.rollback()  # expires every row in the session, the owner included
        with count_statements() as statements:
            await load_choices(session, form, lambda row: row.username, sizes)
        assert ada.username == "ada"
    assert form.lookups["owner_id"] == [(str(demo.ada.id), "ada")]
    assert len(_touching(statements, "user_account")) == 1


@pytest.mark.optimisation("the account rides along the session read (SignedInReadAlong)")
async def test_the_signed_in_account_is_read_with_the_session_and_fresh_each_time(app, client, db, demo):
    viewer_id = await add_account(db, "viewer", permissions=("item.view",))
    viewer = Admin(client)
    assert (await viewer.sign_in("viewer")).status_code == 303
    await viewer.open("/admin/item/")  # the session's first page learns whose session it is
    with count_statements() as statements:
        page = await viewer.open("/admin/item/")
    assert page.status_code == 200 and "Add item" not in page.text
    session_reads = _touching(statements, "admin_store")
    assert len(session_reads) == 1 and "admin_account" in session_reads[0] and "admin_permission" in session_reads[0]
    assert not _touching(statements, "admin_account"), "no statement of its own for the account"
    # What the account may do is read each time, not remembered: a permission given is used at once ...
    async with db() as session:
        add = await session.scalar(select(AdminPermission).where(AdminPermission.codename == "item.add"))
        await session.execute(insert(admin_account_permission).values(account_id=viewer_id, permission_id=add.id))
        await session.commit()
    assert "Add item" in (await viewer.open("/admin/item/")).text
    # ... and a deactivated account is signed out on its next request.
    async with db() as session:
        await session.execute(update(AdminAccount).where(AdminAccount.id == viewer_id).values(is_active=False))
        await session.commit()
    assert (await client.get("/admin/item/", follow_redirects=False)).status_code == 303


async def test_a_session_whose_account_hint_is_wrong_reads_its_own_account(app, client, db, demo, superuser):
    viewer_id = await add_account(db, "viewer", permissions=("item.view",))
    viewer = Admin(client)
    assert (await viewer.sign_in("viewer")).status_code == 303
    await viewer.open("/admin/item/")
    store = app.stores.get("admin_sessions")
    key = client.cookies["admin_session"]
    assert store.read_along.parameters(key) == {"account_id": viewer_id}
    store.read_along.remember(key, superuser)  # as if the session were someone else's
    with count_statements() as statements:
        page = await viewer.open("/admin/item/")
    assert page.status_code == 200 and "Add item" not in page.text, "the viewer, not the superuser"
    assert len(_touching(statements, "admin_account")) == 1, "read by itself, as on a session's first request"
    assert store.read_along.parameters(key) == {"account_id": viewer_id}


@pytest.mark.optimisation("ModelAdmin.with_relations joins a many-to-many with plain LEFT JOINs")
async def test_a_record_is_read_with_its_owner_and_tags_in_one_statement_of_plain_joins(browser, htmx, demo, db):
    async with db() as session:
        lamp = await session.get(Item, demo.lamp.id, options=[selectinload(Item.tags)])
        lamp.tags = [await session.get(Tag, demo.red.id), await session.get(Tag, demo.blue.id)]
        await session.commit()
    with count_statements() as statements:
        page = (await browser.open(f"/admin/item/{demo.lamp.id}/edit")).text
    reads = _touching(statements, "item")
    assert len(reads) == 1 and "JOIN item_tag" in reads[0] and "user_account" in reads[0]
    assert "(item_tag" not in reads[0], "no nested join, which SQLite would read whole"
    assert not [s for s in statements if re.search(r"FROM item_tag\b", s)], "no SELECT ... IN for the tags"
    tags = page[page.index('<select id="field-tags"') :].split("</select>")[0]
    assert sorted(re.findall(r'<option value="\d+" selected>(\w+)</option>', tags)) == ["blue", "red"]
    row = (await htmx.open(f"/admin/item/{demo.lamp.id}")).text
    assert re.search(r">blue</a>, <a [^>]+>red</a>", row), "in the relation's order (by name)"
    bare = (await browser.open(f"/admin/item/{demo.chair.id}/edit")).text
    tags = bare[bare.index('<select id="field-tags"') :].split("</select>")[0]
    assert "<option" in tags and " selected>" not in tags, "an item without tags: none chosen"


@pytest.mark.optimisation("gc.freeze at startup (webapp.admin.freeze, from AdminPlugin's startup)")
async def test_the_objects_alive_at_startup_are_kept_out_of_the_collectors_way(database_url):
    gc.unfreeze()  # as in a fresh process: an earlier app of the suite froze what was alive then
    app = create_app(
        Settings(database_url=database_url, secret_key=SECRET, create_all=database_url.startswith("sqlite"))
    )
    assert gc.get_freeze_count() == 0
    async with app.lifespan():
        frozen = gc.get_freeze_count()
        assert frozen > 10_000, "modules, mappers, routes: out of the full collections' traversal"
    second = create_app(
        Settings(database_url=database_url, secret_key=SECRET, create_all=database_url.startswith("sqlite"))
    )
    async with second.lifespan():
        assert gc.get_freeze_count() <= frozen, "once per process: not again for every app"


async def test_a_session_whose_account_was_deleted_is_signed_out(app, client, db, demo):
    viewer_id = await add_account(db, "viewer", permissions=("item.view",))
    viewer = Admin(client)
    assert (await viewer.sign_in("viewer")).status_code == 303
    assert (await viewer.open("/admin/item/")).status_code == 200  # the session's account is now a hint
    async with db() as session:
        await session.execute(delete(AdminAccount).where(AdminAccount.id == viewer_id))
        await session.commit()
    gone = await client.get("/admin/item/", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/admin/login")
