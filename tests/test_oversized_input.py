"""Oversized forms: a body over the admin's size limit, or a form with too many fields, is refused with a 413 in the
admin's layout before it is read whole, and nothing is written; a form within the limits saves as usual."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from sqlalchemy import select

from tests.conftest import SECRET, lamp_form, snapshot
from tests.html_check import html_problems
from webapp.admin.limits import MAX_FORM_BYTES, MAX_FORM_FIELDS
from webapp.app import create_app
from webapp.demo.models import Item
from webapp.settings import Settings

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024
SMALL = {"max_form_bytes": 16 * 1024, "max_form_fields": 20}
# The same app with smaller limits (Settings, as MAX_FORM_BYTES and MAX_FORM_FIELDS set them), to post right at them.
AT_SMALL_LIMITS = pytest.mark.parametrize("app", [SMALL], indirect=True)


@pytest.fixture
def app(request, database_url):
    limits = getattr(request, "param", {})
    return create_app(
        Settings(database_url=database_url, secret_key=SECRET, create_all=database_url.startswith("sqlite"), **limits)
    )


async def _multipart(browser, url, fields):
    """A multipart/form-data post, as a browser sends a form with enctype="multipart/form-data"."""
    token = await browser._token()
    parts = [(name, (None, value)) for name, value in [*fields, ("_csrf_token", token)]]
    return await browser.client.post(url, files=parts, follow_redirects=False)


def assert_refused_page(response, *, says):
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Too large · Demo admin</title>" in response.text
    assert "<h1>Too large <small>(413)</small></h1>" in response.text
    assert says in response.text and "nothing was saved" in response.text
    assert "Traceback" not in response.text
    assert html_problems(response.text) == []


async def test_a_megabytes_long_field_on_the_edit_form_is_refused_and_nothing_changes(browser, demo, db):
    before = await snapshot(db)
    response = await browser.submit(f"/admin/item/{demo.lamp.id}", lamp_form(demo, description="x" * (2 * MIB)))
    assert_refused_page(response, says="This form is larger than the admin accepts (1 MiB)")
    assert await snapshot(db) == before
    # The server carries on: the same form at a normal size saves.
    saved = await browser.submit(f"/admin/item/{demo.lamp.id}", lamp_form(demo, description="A reading lamp"))
    assert saved.status_code == 303
    async with db() as session:
        assert (await session.get(Item, demo.lamp.id)).description == "A reading lamp"


async def test_a_megabytes_long_field_on_the_create_form_is_refused_as_multipart_too(browser, demo, db):
    before = await snapshot(db)
    fields = [("name", "Kettle"), ("price", "1"), ("owner_id", str(demo.ada.id)), ("description", "x" * (2 * MIB))]
    response = await _multipart(browser, "/admin/item/", fields)
    assert_refused_page(response, says="This form is larger than the admin accepts (1 MiB)")
    assert await snapshot(db) == before


async def test_a_multipart_form_within_the_limits_saves(browser, demo, db):
    """The limits read the form before the CSRF check: both the check and the handler see what was posted."""
    response = await _multipart(
        browser, "/admin/item/", [("name", "Kettle"), ("price", "19.90"), ("owner_id", str(demo.ada.id))]
    )
    assert response.status_code == 303
    async with db() as session:
        kettle = await session.scalar(select(Item).where(Item.name == "Kettle"))
    assert kettle.price == Decimal("19.90") and kettle.owner_id == demo.ada.id


async def test_thousands_of_fields_are_refused_url_encoded_and_multipart(browser, demo, db):
    before = await snapshot(db)
    many_tags = [("tags", str(demo.red.id))] * 5000
    plain = await browser.submit(f"/admin/item/{demo.lamp.id}", [*lamp_form(demo).items(), *many_tags])
    assert_refused_page(plain, says=f"This form has more fields than the admin accepts ({MAX_FORM_FIELDS:,})")
    junk = [(f"field{i}", "") for i in range(MAX_FORM_FIELDS + 1)]
    multipart = await _multipart(browser, "/admin/tag/", [("name", "green"), *junk])
    assert_refused_page(multipart, says=f"This form has more fields than the admin accepts ({MAX_FORM_FIELDS:,})")
    assert await snapshot(db) == before


async def test_the_sign_in_form_is_limited_too(anonymous, superuser, db):
    await anonymous.client.get("/admin/login")
    response = await anonymous.submit("/admin/login", {"username": "root", "password": "p" * (2 * MIB)})
    assert_refused_page(response, says="larger than the admin accepts")
    assert "admin_session" not in response.headers.get("set-cookie", "")


async def test_an_htmx_inline_save_over_the_limit_gets_a_message_in_the_row(htmx, demo, db):
    before = await snapshot(db)
    response = await htmx.submit(f"/admin/item/{demo.lamp.id}", {"name": "n" * (2 * MIB)}, method="PATCH")
    assert response.status_code == 413
    assert "<html" not in response.text
    assert "Too large: This form is larger than the admin accepts (1 MiB); nothing was saved." in response.text
    assert await snapshot(db) == before


@AT_SMALL_LIMITS
async def test_a_form_just_under_the_size_limit_saves_and_just_over_is_refused(browser, demo, db):
    form = lamp_form(demo)
    empty = await browser.submit(f"/admin/item/{demo.lamp.id}", form | {"description": ""})
    assert empty.status_code == 303
    body_without_description = len(empty.request.content)
    room = SMALL["max_form_bytes"] - body_without_description
    under = await browser.submit(f"/admin/item/{demo.lamp.id}", form | {"description": "u" * room})
    assert len(under.request.content) == SMALL["max_form_bytes"]
    assert under.status_code == 303
    async with db() as session:
        assert (await session.get(Item, demo.lamp.id)).description == "u" * room
    before = await snapshot(db)
    over = await browser.submit(f"/admin/item/{demo.lamp.id}", form | {"description": "o" * (room + 1)})
    assert_refused_page(over, says="This form is larger than the admin accepts (16 KiB)")
    assert await snapshot(db) == before


@AT_SMALL_LIMITS
async def test_a_form_with_as_many_fields_as_the_limit_saves_and_one_more_is_refused(browser, demo, db):
    form = list(lamp_form(demo, name="At the limit").items())  # nine fields, and the CSRF token: ten
    padding = [("tags", "")] * (SMALL["max_form_fields"] - 10)  # as the form's empty choice posts it
    at_limit = await browser.submit(f"/admin/item/{demo.lamp.id}", [*form, *padding])
    assert at_limit.request.content.count(b"&") + 1 == SMALL["max_form_fields"]
    assert at_limit.status_code == 303
    before = await snapshot(db)
    over = await browser.submit(f"/admin/item/{demo.lamp.id}", [*form, *padding, ("tags", "")])
    assert_refused_page(over, says="This form has more fields than the admin accepts (20)")
    assert await snapshot(db) == before
    async with db() as session:
        assert (await session.get(Item, demo.lamp.id)).name == "At the limit"


async def _send_raw(browser, method, path, headers, chunks):
    """Calls the app as a server does, with the body in `chunks`; returns (status, body, chunks read)."""
    token = await browser._token()
    cookie = "; ".join(f"{name}={value}" for name, value in browser.client.cookies.items())
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "client": ("127.0.0.1", 1), "server": ("testserver.local", 80),
        "headers": [
            (b"host", b"testserver.local"), (b"cookie", cookie.encode()), (b"x-csrftoken", token.encode()),
            *headers,
        ],
    }  # fmt: skip
    read = 0

    async def receive():
        nonlocal read
        read += 1
        return {"type": "http.request", "body": next(chunks), "more_body": True}

    sent = []

    async def send(message):
        sent.append(message)

    async def call_app() -> None:
        await browser.client.app(scope, receive, send)

    # On the client's own event loop, where the app's database connections live.
    await anyio.to_thread.run_sync(browser.client.blocking_portal.call, call_app)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body.decode(), read


def _endless(chunk: bytes):
    while True:
        yield chunk


async def test_a_chunked_body_without_length_is_refused_once_past_the_limit_not_read_to_its_end(browser, demo, db):
    before = await snapshot(db)
    chunk = b"description=" + b"x" * (64 * 1024)
    status, page, read = await _send_raw(
        browser,
        "PATCH",
        f"/admin/item/{demo.lamp.id}",
        [(b"content-type", b"application/x-www-form-urlencoded"), (b"transfer-encoding", b"chunked")],
        _endless(chunk),
    )
    assert status == 413
    assert "This form is larger than the admin accepts (1 MiB); nothing was saved." in page
    # Read up to the limit and one chunk past it, and no further: an endless body costs what the limit allows.
    assert read == MAX_FORM_BYTES // len(chunk) + 1
    assert await snapshot(db) == before


async def test_an_announced_length_over_the_limit_is_refused_before_reading_a_byte(browser, demo, db):
    before = await snapshot(db)
    status, page, read = await _send_raw(
        browser,
        "POST",
        "/admin/item/",
        [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", str(100 * MIB).encode())],
        _endless(b"name=" + b"x" * 1024),
    )
    assert status == 413 and "larger than the admin accepts" in page
    assert read == 0
    assert await snapshot(db) == before


def test_the_limits_come_from_the_environment(monkeypatch):
    assert Settings().max_form_bytes == MAX_FORM_BYTES == MIB
    assert Settings().max_form_fields == MAX_FORM_FIELDS == 1000
    monkeypatch.setenv("MAX_FORM_BYTES", "65536")
    monkeypatch.setenv("MAX_FORM_FIELDS", "50")
    assert (Settings().max_form_bytes, Settings().max_form_fields) == (65536, 50)
    monkeypatch.setenv("MAX_FORM_BYTES", "1MB")
    with pytest.raises(SystemExit, match="MAX_FORM_BYTES must be a positive whole number, not '1MB'"):
        Settings()
