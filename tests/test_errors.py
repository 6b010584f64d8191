"""Error pages: in the admin layout, as a message fragment for htmx, and never a stack trace or SQL."""

from __future__ import annotations

import pytest
from litestar import Litestar

from webapp.admin.views import AdminController

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

    monkeypatch.setattr("webapp.admin.listing.fetch_page", explode)
    page = await browser.open("/admin/item/")
    assert page.status_code == 500
    assert "SELECT" not in page.text and "Traceback" not in page.text and "RuntimeError" not in page.text
    request_id = page.headers["x-request-id"]
    assert f"report request id {request_id}" in page.text
    fragment = await browser.open("/admin/item/", HX_Request="true")
    assert fragment.status_code == 500
    assert "<html" not in fragment.text and "request id" in fragment.text


def test_the_admin_controller_knows_no_demo_model():
    import inspect

    import webapp.admin as core

    for module in (inspect.getmodule(AdminController), core):
        assert "webapp.demo" not in inspect.getsource(module)
    assert isinstance(Litestar, type)
