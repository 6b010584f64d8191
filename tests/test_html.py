"""Every page and fragment is well-formed HTML (the pages a person sees, the fragments htmx swaps)."""

from __future__ import annotations

import pytest

from tests.html_check import html_problems

pytestmark = pytest.mark.anyio


async def test_every_page_is_well_formed(browser, demo):
    lamp, ada = demo.lamp.id, demo.ada.id
    pages = [
        "/admin/",
        "/admin/item/",
        "/admin/item/?q=zzz",
        "/admin/item/?sort=-price&per_page=25",
        "/admin/user/",
        "/admin/tag/",
        "/admin/item/new",
        "/admin/user/new",
        f"/admin/item/{lamp}",
        f"/admin/item/{lamp}?tags_page=2",
        f"/admin/user/{ada}",
        f"/admin/item/{lamp}/edit",
        f"/admin/item/{lamp}/delete",
        f"/admin/user/{ada}/edit",
        "/admin/item/424242",
        "/admin/item/?sort=nope",
    ]
    for url in pages:
        page = await browser.open(url)
        assert html_problems(page.text) == [], url
    refused = await browser.submit("/admin/item/", {"name": "", "price": "x", "owner_id": "0"})
    assert refused.status_code == 422
    assert html_problems(refused.text) == []


async def test_every_fragment_is_well_formed(htmx, demo):
    lamp = demo.lamp.id
    responses = [
        await htmx.open("/admin/item/"),
        await htmx.open("/admin/item/new"),
        await htmx.open(f"/admin/item/{lamp}"),
        await htmx.open(f"/admin/user/{demo.ada.id}/related/items"),
        await htmx.open(f"/admin/item/{lamp}/related/tags?tags_page=x"),
        await htmx.open(f"/admin/item/{lamp}/edit"),
        await htmx.open(f"/admin/item/{lamp}/delete"),
        await htmx.open("/admin/item/424242"),
        await htmx.submit("/admin/item/", {"name": "", "price": "-1"}),
        await htmx.submit("/admin/item/", {"name": "Ok", "price": "1", "owner_id": str(demo.ada.id)}),
        await htmx.submit(f"/admin/item/{lamp}", {"name": ""}, method="PATCH"),
        await htmx.submit(f"/admin/item/{lamp}", {"name": "Fine"}, method="PATCH"),
        await htmx.submit(f"/admin/item/{lamp}", {}, method="DELETE"),
    ]
    for response in responses:
        # A lone <tr> is checked as the table row it becomes.
        body = response.text
        wrapped = f"<table><tbody>{body}</tbody></table>" if body.lstrip().startswith("<tr") else body
        assert html_problems(wrapped, fragment=True) == [], (response.request.method, response.request.url)
