"""Error pages: in the admin layout, as a message fragment for htmx, and never a stack trace or SQL."""

from __future__ import annotations

import logging

import anyio
import pytest
from litestar import Litestar

from webapp.admin.views import AdminController
from webapp.demo.models import Item

pytestmark = pytest.mark.anyio


async def test_unknown_model_and_record_give_the_404_page(browser, demo):
    for url in (
        "/admin/nope/",
        "/admin/nope/1",
        "/admin/item/999999",
        "/admin/item/abc",
        "/admin/item/-1",
        "/admin/item/99999999999999999999999",
        "/admin/no/such/page/here",
    ):
        page = await browser.open(url)
        assert page.status_code == 404, url
        assert page.text.startswith("<!doctype html>"), url
        assert "Not found" in page.text and 'class="site-header"' in page.text


async def test_unknown_model_message_names_it_escaped(browser, demo):
    page = await browser.open("/admin/%3Cb%3Ex%3C%2Fb%3E/")
    assert page.status_code == 404
    assert "<b>x</b>" not in page.text


async def test_wrong_method_gives_405_page(browser, demo):
    response = await browser.submit("/admin/item/new", {}, method="PUT")
    assert response.status_code == 405
    assert "Method not allowed" in response.text


async def test_a_crash_shows_a_request_id_and_no_details(browser, demo, monkeypatch):
    async def explode(*args, **kwargs):
        raise RuntimeError("SELECT secret FROM passwords")

    monkeypatch.setattr("webapp.admin.list_page.ListPage.page", explode)
    page = await browser.open("/admin/item/")
    assert page.status_code == 500
    assert "SELECT" not in page.text and "Traceback" not in page.text and "RuntimeError" not in page.text
    request_id = page.headers["x-request-id"]
    assert f"report request id {request_id}" in page.text
    fragment = await browser.open("/admin/item/", HX_Request="true")
    assert fragment.status_code == 500
    assert "<html" not in fragment.text and "request id" in fragment.text


async def test_a_client_that_hangs_up_mid_body_is_no_server_error(browser, demo, db, caplog):
    """A closed tab or a stopped load generator: nothing written, and no ERROR with a traceback in the log."""
    token = await browser._token()
    cookie = "; ".join(f"{name}={value}" for name, value in browser.client.cookies.items())
    body = b"name=Half+sent&price=1.00"
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "PATCH", "scheme": "http",
        "path": f"/admin/item/{demo.lamp.id}", "raw_path": f"/admin/item/{demo.lamp.id}".encode(),
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1), "server": ("testserver.local", 80),
        "headers": [
            (b"host", b"testserver.local"), (b"cookie", cookie.encode()), (b"x-csrftoken", token.encode()),
            (b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", str(len(body)).encode()),
        ],
    }  # fmt: skip
    messages = iter([{"type": "http.request", "body": body[:5], "more_body": True}, {"type": "http.disconnect"}])

    async def receive():
        return next(messages)

    sent = []

    async def send(message):
        sent.append(message)

    async def call_app() -> None:
        await browser.client.app(scope, receive, send)

    with caplog.at_level(logging.INFO, logger="webapp.admin.errors"):
        # On the client's own event loop, where the app's database connections live.
        await anyio.to_thread.run_sync(browser.client.blocking_portal.call, call_app)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "client left" in caplog.text
    async with db() as session:
        assert (await session.get(Item, demo.lamp.id)).name == demo.lamp.name


def test_the_admin_controller_knows_no_demo_model():
    import inspect

    import webapp.admin as core

    for module in (inspect.getmodule(AdminController), core):
        assert "webapp.demo" not in inspect.getsource(module)
    assert isinstance(Litestar, type)
