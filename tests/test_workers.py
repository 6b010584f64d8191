"""Two workers, as production runs them: separate uvicorn processes of the demo app over one PostgreSQL database
and one Redis, with the same SECRET_KEY. A person's requests reach either one, as behind a load balancer, and
see one admin: the session, the CSRF token, the lost-update check, the sign-in throttle and the list's count."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from tests.conftest import PASSWORD, WORKERS_REDIS_URL, add_account, require_redis, scratch_postgres
from tests.processes import APP, run_python, uvicorn_workers
from webapp.admin.filters import COUNT_CAP

USERNAME, OTHER = "admin", "bea"
# One more than the cap: the list shows "10,000+" (or PostgreSQL's estimate) and remembers that it is big.
TAGS = COUNT_CAP + 1


@dataclass(frozen=True)
class Workers:
    a: str
    b: str
    database_url: str

    def sql(self, statement: str, **params: Any) -> list[Any]:
        """Runs `statement` in the database the workers share (as another program would), its rows."""

        async def run() -> list[Any]:
            engine = create_async_engine(self.database_url)
            try:
                async with engine.begin() as conn:
                    result = await conn.execute(text(statement), params)
                    return list(result) if result.returns_rows else []
            finally:
                await engine.dispose()

        return asyncio.run(run())


async def _seed(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO tag (name, version, created_at, updated_at)"
                    " SELECT 'tag ' || lpad(n::text, 5, '0'), 1, now(), now() FROM generate_series(1, :n) AS n"
                ),
                {"n": TAGS},
            )
            # Statistics as the rows are: the list over the cap shows the estimate ("about" that many rows).
            await conn.execute(text("ANALYZE tag"))
        await add_account(async_sessionmaker(engine), OTHER, superuser=True)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    require_redis()
    shared = redis.Redis.from_url(WORKERS_REDIS_URL)
    shared.flushdb()
    try:
        with scratch_postgres("admin_workers") as database_url:
            env = {
                **os.environ,
                "DATABASE_URL": database_url,
                "REDIS_URL": WORKERS_REDIS_URL,
                "SECRET_KEY": "workers-test-secret-key",
                "ADMIN_USERNAME": USERNAME,
                "ADMIN_PASSWORD": PASSWORD,
            }
            env.pop("DEBUG", None)
            run_python(["-m", "litestar", "--app", APP, "database", "upgrade", "--no-prompt"], env)
            run_python(["-m", "litestar", "--app", APP, "admin", "ensure-superuser"], env)
            asyncio.run(_seed(database_url))
            logs: Path = tmp_path_factory.mktemp("workers")
            with uvicorn_workers(env, logs, count=2) as (a, b):
                yield Workers(a, b, database_url)
    finally:
        shared.flushdb()
        shared.close()


class Person:
    """A browser: one cookie jar, whichever worker answers (cookies name a host, not a port)."""

    def __init__(self) -> None:
        self.client = httpx.Client(follow_redirects=False, timeout=10, trust_env=False)

    def open(self, worker: str, path: str) -> httpx.Response:
        return self.client.get(worker + path)

    def submit(self, worker: str, path: str, data: dict[str, str]) -> httpx.Response:
        token = self.client.cookies.get("csrftoken") or self._token(worker)
        return self.client.post(worker + path, data={**data, "_csrf_token": token})

    def sign_in(self, worker: str, username: str = USERNAME, password: str = PASSWORD) -> httpx.Response:
        self.open(worker, "/admin/login")
        return self.submit(worker, "/admin/login", {"username": username, "password": password})

    def _token(self, worker: str) -> str:
        self.open(worker, "/admin/login")
        return self.client.cookies["csrftoken"]

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def person() -> Iterator[Person]:
    someone = Person()
    yield someone
    someone.close()


def _tag_id(workers: Workers, name: str) -> int:
    ((tag_id,),) = workers.sql("SELECT id FROM tag WHERE name = :name", name=name)
    return tag_id


def _version(html: str) -> str:
    found = re.search(r'name="_version" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def _count_shown(html: str) -> str:
    found = re.search(r'<span id="result-count">([^<]+)</span> tags', html)
    assert found, html[:2000]
    return found.group(1)


def test_signed_in_through_one_worker_a_person_carries_on_through_the_other(workers, person):
    assert person.sign_in(workers.a).status_code == 303
    listed = person.open(workers.b, "/admin/tag/?q=tag 00001")
    assert listed.status_code == 200 and "tag 00001" in listed.text, "worker B knows the session worker A began"
    tag = _tag_id(workers, "tag 00001")
    form = person.open(workers.b, f"/admin/tag/{tag}/edit")
    saved = person.submit(workers.b, f"/admin/tag/{tag}", {"name": "renamed on B", "_version": _version(form.text)})
    assert saved.status_code == 303, "worker B accepts the CSRF token worker A gave"
    assert workers.sql("SELECT name, version FROM tag WHERE id = :id", id=tag) == [("renamed on B", 2)]
    assert person.submit(workers.a, "/admin/logout", {}).status_code == 303
    assert person.open(workers.b, "/admin/").status_code == 303, "signed out through A: B asks to sign in"


def test_two_editors_on_two_workers_lose_no_update(workers):
    ann, bob = Person(), Person()
    try:
        assert ann.sign_in(workers.a).status_code == 303 and bob.sign_in(workers.b).status_code == 303
        tag = _tag_id(workers, "tag 00002")
        anns_form = ann.open(workers.a, f"/admin/tag/{tag}/edit").text
        bobs_form = bob.open(workers.b, f"/admin/tag/{tag}/edit").text
        assert _version(anns_form) == _version(bobs_form)
        saved = ann.submit(workers.a, f"/admin/tag/{tag}", {"name": "Ann's", "_version": _version(anns_form)})
        assert saved.status_code == 303
        stale = bob.submit(workers.b, f"/admin/tag/{tag}", {"name": "Bob's", "_version": _version(bobs_form)})
        assert stale.status_code == 409
        assert "Someone else changed this tag after you opened it." in stale.text
        assert "Saved meanwhile: Ann&#39;s" in stale.text, "Bob sees what Ann saved beside his own"
        assert workers.sql("SELECT name, version FROM tag WHERE id = :id", id=tag) == [("Ann's", 2)]
    finally:
        ann.close()
        bob.close()


def test_a_sign_in_throttled_through_one_worker_stays_throttled_on_the_other(workers, person):
    for _ in range(5):
        refused = person.sign_in(workers.a, OTHER, "not the password")
        assert refused.status_code == 422 and "Please enter a correct username and password." in refused.text
    locked = person.sign_in(workers.b, OTHER, PASSWORD)
    assert locked.status_code == 429 and "Too many failed attempts. Try again in 15 minutes." in locked.text
    assert person.open(workers.b, "/admin/").status_code == 303, "the right password did not sign in"
    assert workers.sql("SELECT last_login_at FROM admin_account WHERE username = :u", u=OTHER) == [(None,)]


def test_a_write_through_one_worker_makes_the_other_count_its_list_again(workers, person):
    assert person.sign_in(workers.a).status_code == 303
    # Worker B finds the tags over the cap and remembers it ...
    over_the_cap = _count_shown(person.open(workers.b, "/admin/tag/").text)
    assert over_the_cap in {f"{COUNT_CAP:,}+", f"about {TAGS:,}"}
    # ... so a delete by another program is not seen while that memory lasts.
    workers.sql("DELETE FROM tag WHERE name IN ('tag 09999', 'tag 10000')")
    assert _count_shown(person.open(workers.b, "/admin/tag/").text) == over_the_cap, "remembered"
    # A delete through worker A forgets it in every worker: B counts again and shows what is there.
    deleted = person.submit(workers.a, f"/admin/tag/{_tag_id(workers, 'tag 10001')}/delete", {})
    assert deleted.status_code == 303
    ((left,),) = workers.sql("SELECT count(*) FROM tag")
    assert left == TAGS - 3 < COUNT_CAP
    assert _count_shown(person.open(workers.b, "/admin/tag/").text) == f"{left:,}"
