"""A model's `list_query` limits which rows an account sees, and a row outside it cannot be reached by any
route: not listed, counted, searched, filtered, exported, looked up, chosen in a form, shown, edited,
deleted (alone or in bulk), nor its history read or its deletion undone. `can(account, action, obj)` refuses
one action on one record. Both on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import ForeignKey, MetaData, Select, String, insert, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tests.conftest import add_account
from tests.hosts import Person, own_tables, signed_in
from webapp.admin import ModelAdmin
from webapp.admin.models import ACTIONS, AdminAccount, AdminLogEntry, AdminPermission, admin_account_permission

pytestmark = pytest.mark.anyio


class Base(DeclarativeBase):
    metadata = MetaData()


class Project(Base):
    __tablename__ = "scoped_project"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    owner: Mapped[str] = mapped_column(String(30))

    def __str__(self) -> str:
        return self.name


class Task(Base):
    __tablename__ = "scoped_task"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(40))
    done: Mapped[bool] = mapped_column(default=False)
    project_id: Mapped[int] = mapped_column(ForeignKey("scoped_project.id"))
    project: Mapped[Project] = relationship()

    def __str__(self) -> str:
        return self.title


def _own_projects(account: Any) -> Select[Any]:
    return select(Project.id).where(Project.owner == account.username)


class ProjectAdmin(ModelAdmin, model=Project):
    list_display = ("name", "owner")

    def list_query(self, statement: Select[Any], account: Any) -> Select[Any]:
        return statement if account.is_superuser else statement.where(Project.owner == account.username)


class TaskAdmin(ModelAdmin, model=Task):
    list_display = ("title", "done", "project_id")

    def list_query(self, statement: Select[Any], account: Any) -> Select[Any]:
        return statement if account.is_superuser else statement.where(Task.project_id.in_(_own_projects(account)))

    def can(self, account: Any, action: str, obj: Any) -> bool:
        return not (action == "delete" and obj.done)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    async with own_tables(database_url, Base.metadata) as sessions:
        await add_account(sessions, "boss", superuser=True)
        await add_account(sessions, "alice")
        async with sessions() as session:
            mine = Project(name="Mine", owner="alice")
            theirs = Project(name="Theirs", owner="bob")
            session.add_all([mine, theirs])
            await session.flush()
            session.add_all(
                [
                    Task(title="my task", project_id=mine.id),
                    Task(title="finished", done=True, project_id=mine.id),
                    Task(title="their task", project_id=theirs.id),
                ]
            )
            await session.commit()
        yield sessions


async def _grant_every_permission(db: Any, username: str) -> None:
    """The admin's permission rows exist once it has started: give the account every one of them."""
    async with db() as session:
        account = await session.scalar(select(AdminAccount.id).where(AdminAccount.username == username))
        codenames = [f"{slug}.{action}" for slug in ("project", "task") for action in ACTIONS]
        permissions = await session.scalars(select(AdminPermission.id).where(AdminPermission.codename.in_(codenames)))
        links = [{"account_id": account, "permission_id": p} for p in permissions]
        await session.execute(insert(admin_account_permission), links)
        await session.commit()


@asynccontextmanager
async def _signed_in(database_url: str, db: Any, username: str) -> AsyncIterator[Person]:
    async def grant() -> None:
        await _grant_every_permission(db, username)

    admins = [ProjectAdmin, TaskAdmin]
    async with signed_in(
        database_url, Base.metadata, admins, username, grant if username == "alice" else None
    ) as person:
        yield person


@pytest.fixture
async def alice(database_url: str, db: Any) -> AsyncIterator[Person]:
    async with _signed_in(database_url, db, "alice") as person:
        yield person


@pytest.fixture
async def boss(database_url: str, db: Any) -> AsyncIterator[Person]:
    async with _signed_in(database_url, db, "boss") as person:
        yield person


async def _key(db: Any, model: type, **where: Any) -> int:
    async with db() as session:
        return await session.scalar(select(model.id).filter_by(**where))


async def _titles(db: Any) -> list[str]:
    async with db() as session:
        return sorted(await session.scalars(select(Task.title)))


async def _projects(db: Any) -> list[tuple[str, str]]:
    async with db() as session:
        return sorted(tuple(row) for row in await session.execute(select(Project.name, Project.owner)))


async def test_the_list_its_count_search_and_filter_counts_show_only_the_accounts_rows(alice, boss, db):
    theirs = await _key(db, Project, name="Theirs")
    their_task = await _key(db, Task, title="their task")
    projects = await alice.get("/admin/project/")
    assert projects.status_code == 200
    assert ">Mine</a>" in projects.text and ">Theirs</a>" not in projects.text
    assert '<span id="result-count">1</span>' in projects.text
    searched = await alice.get("/admin/project/?q=Theirs")
    assert ">Theirs</a>" not in searched.text and '<span id="result-count">0</span>' in searched.text
    tasks = await alice.get("/admin/task/")
    assert ">my task</a>" in tasks.text and "their task" not in tasks.text
    assert '<span id="result-count">2</span>' in tasks.text
    # The "done" filter counts alice's tasks alone: one done, one not (bob's undone task is not counted).
    assert '?done=false">No</a>\n<span class="count">1</span>' in tasks.text
    # Filtering by bob's project finds nothing and does not name it.
    filtered = await alice.get(f"/admin/task/?project_id={theirs}")
    assert '<span id="result-count">0</span>' in filtered.text and "Theirs" not in filtered.text
    # Every row to a superuser: the scope depends on the account.
    everything = await boss.get("/admin/task/")
    assert f'href="/admin/task/{their_task}"' in everything.text
    assert '<span id="result-count">3</span>' in everything.text
    assert '?done=false">No</a>\n<span class="count">2</span>' in everything.text
    assert "Theirs" in (await boss.get(f"/admin/task/?project_id={theirs}")).text


async def test_a_row_outside_the_scope_is_a_404_on_every_record_route(alice, db):
    theirs = await _key(db, Project, name="Theirs")
    their_task = await _key(db, Task, title="their task")
    for url in (
        f"/admin/project/{theirs}",
        f"/admin/project/{theirs}/edit",
        f"/admin/project/{theirs}/delete",
        f"/admin/project/{theirs}/history",
        f"/admin/task/{their_task}",
        f"/admin/task/{their_task}/edit",
    ):
        assert (await alice.get(url)).status_code == 404, url
        assert (await alice.get(url, **{"HX-Request": "true"})).status_code == 404, url
    updated = await alice.post(f"/admin/project/{theirs}", {"name": "Stolen", "owner": "alice"})
    assert updated.status_code == 404
    assert (await alice.post(f"/admin/project/{theirs}/delete", {})).status_code == 404
    removed = await alice.client.delete(
        f"/admin/task/{their_task}",
        headers={"HX-Request": "true", "x-csrftoken": alice.client.cookies.get("csrftoken", path="/admin")},
    )
    assert removed.status_code == 404
    assert await _projects(db) == [("Mine", "alice"), ("Theirs", "bob")]
    assert await _titles(db) == ["finished", "my task", "their task"]


async def test_bulk_actions_never_reach_a_row_outside_the_scope(alice, db):
    their_task = await _key(db, Task, title="their task")
    ticked = await alice.post("/admin/task/bulk", [("action", "delete"), ("confirm", "yes"), ("ids", str(their_task))])
    assert ticked.status_code == 303
    assert await _titles(db) == ["finished", "my task", "their task"]
    # "All matching" a view means all of alice's matching rows: the undone tasks are hers and bob's.
    everything = [("action", "delete"), ("confirm", "yes"), ("select_all", "1"), ("done", "false")]
    confirm = await alice.post("/admin/task/bulk", everything[:1] + everything[2:])
    assert "1 task" in confirm.text or ">1<" in confirm.text
    assert (await alice.post("/admin/task/bulk", everything)).status_code == 303
    assert await _titles(db) == ["finished", "their task"]


async def test_export_and_lookup_leave_out_rows_outside_the_scope(alice):
    csv = await alice.get("/admin/task/export.csv")
    assert csv.status_code == 200 and "my task" in csv.text and "their task" not in csv.text
    lines = (await alice.get("/admin/task/export.jsonl")).text.splitlines()
    assert sorted(json.loads(line)["title"] for line in lines) == ["finished", "my task"]
    found = await alice.get("/admin/project/lookup?q=", accept="application/json")
    assert [r["label"] for r in found.json()["results"]] == ["Mine"]
    assert (await alice.get("/admin/project/lookup?q=The", accept="application/json")).json()["results"] == []


async def test_a_form_offers_and_accepts_only_related_rows_inside_the_scope(alice, db):
    form = await alice.get("/admin/task/new")
    assert ">Mine</option>" in form.text and "Theirs" not in form.text
    theirs = await _key(db, Project, name="Theirs")
    refused = await alice.post("/admin/task/", {"title": "sneaky", "project_id": str(theirs)})
    assert refused.status_code == 422 and "Select a valid choice." in refused.text
    assert await _titles(db) == ["finished", "my task", "their task"]


async def test_an_edit_cannot_move_a_row_to_a_related_row_outside_the_scope(alice, db):
    task, mine, theirs = (await _key(db, Task, title="my task"), await _key(db, Project, name="Mine"),
                          await _key(db, Project, name="Theirs"))  # fmt: skip
    refused = await alice.post(f"/admin/task/{task}", {"title": "moved", "project_id": str(theirs)})
    assert refused.status_code == 422 and "Select a valid choice." in refused.text
    assert 'value="moved"' in refused.text, "the form keeps what was typed"
    kept = await alice.post(f"/admin/task/{task}", {"title": "renamed", "project_id": str(mine)})
    assert kept.status_code == 303
    assert await _titles(db) == ["finished", "renamed", "their task"]


async def test_the_dashboard_counts_and_recent_actions_are_scoped(alice, boss, db):
    their_task = await _key(db, Task, title="their task")
    assert (await boss.post(f"/admin/task/{their_task}", {"title": "their renamed task"})).status_code == 303
    index = await alice.get("/admin/")
    assert "their renamed task" not in index.text
    assert "their renamed task" in (await boss.get("/admin/")).text


async def test_the_deletion_of_a_row_outside_the_scope_cannot_be_read_or_undone(alice, boss, db):
    their_task = await _key(db, Task, title="their task")
    assert (await boss.post(f"/admin/task/{their_task}/delete", {})).status_code == 303
    async with db() as session:
        entry = await session.scalar(select(AdminLogEntry.id).where(AdminLogEntry.action == "delete"))
    assert (await alice.get(f"/admin/task/{their_task}/history")).status_code == 404
    restored = await alice.post(f"/admin/task/{their_task}/restore", {"entry": str(entry)})
    assert restored.status_code == 404
    assert await _titles(db) == ["finished", "my task"]
    # Her own deletion she may undo.
    mine = await _key(db, Task, title="my task")
    assert (await alice.post(f"/admin/task/{mine}/delete", {})).status_code == 303
    async with db() as session:
        own = await session.scalar(
            select(AdminLogEntry.id).where(AdminLogEntry.action == "delete", AdminLogEntry.object_pk == str(mine))
        )
    assert (await alice.post(f"/admin/task/{mine}/restore", {"entry": str(own)})).status_code == 303
    assert await _titles(db) == ["finished", "my task"]


async def test_can_refuses_one_action_on_one_record_and_hides_its_button(alice, db):
    finished = await _key(db, Task, title="finished")
    mine = await _key(db, Task, title="my task")
    listing = await alice.get("/admin/task/")
    assert f'href="/admin/task/{finished}/delete"' not in listing.text
    assert f'href="/admin/task/{mine}/delete"' in listing.text
    assert f'href="/admin/task/{finished}/edit"' in listing.text, "only delete is refused"
    detail = await alice.get(f"/admin/task/{finished}")
    assert detail.status_code == 200 and f"/admin/task/{finished}/delete" not in detail.text
    assert (await alice.get(f"/admin/task/{finished}/delete")).status_code == 403
    assert (await alice.post(f"/admin/task/{finished}/delete", {})).status_code == 403
    bulk = await alice.post("/admin/task/bulk", [("action", "delete"), ("confirm", "yes"), ("ids", str(finished))])
    assert bulk.status_code == 409 and "You may not delete “finished”." in bulk.text
    assert await _titles(db) == ["finished", "my task", "their task"]


async def test_the_count_sent_after_an_inline_create_is_scoped(alice, db):
    mine = await _key(db, Project, name="Mine")
    created = await alice.post(
        "/admin/task/",
        {"title": "new one", "project_id": str(mine)},
        **{"HX-Request": "true", "HX-Current-URL": "http://testserver.local/admin/task/"},
    )
    assert created.status_code == 201
    assert '<span id="result-count" hx-swap-oob="true">3</span>' in created.text
