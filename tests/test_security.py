"""Hostile input: markup in every kind of field is shown escaped everywhere; SQL in parameters is just text."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import snapshot
from webapp.demo.models import Item, Tag, User

pytestmark = pytest.mark.anyio

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"


async def test_markup_in_every_text_field_renders_escaped_everywhere(browser, htmx, demo, db):
    created = await browser.submit(
        "/admin/user/", {"username": XSS[:64], "email": "x@example.com", "full_name": XSS[:128], "is_active": "true"}
    )
    assert created.status_code == 303
    tag = await browser.submit("/admin/tag/", {"name": "<b>t</b>"})
    assert tag.status_code == 303
    async with db() as session:
        user = await session.scalar(select(User).where(User.email == "x@example.com"))
        tag_id = await session.scalar(select(Tag.id).where(Tag.name == "<b>t</b>"))
    item = await browser.submit(
        "/admin/item/", {"name": XSS, "description": XSS, "price": "1", "owner_id": str(user.id), "tags": [str(tag_id)]}
    )
    assert item.status_code == 303
    async with db() as session:
        item_id = await session.scalar(select(Item.id).where(Item.name == XSS))
    await browser.submit(f"/admin/item/{item_id}", {"description": XSS + " changed"}, method="PATCH")
    urls = [
        "/admin/",
        "/admin/item/",
        "/admin/user/",
        "/admin/tag/",
        f"/admin/item/{item_id}",
        f"/admin/item/{item_id}/edit",
        f"/admin/item/{item_id}/delete",
        f"/admin/item/{item_id}/history",
        f"/admin/user/{user.id}",
        f"/admin/user/{user.id}/edit",
        "/admin/item/new",
        f"/admin/item/?q={XSS[:20]}",
    ]
    for url in urls:
        page = await browser.open(url)
        assert page.status_code == 200, url
        assert "<script>" not in page.text.replace('<script src="/admin/static/vendor/htmx.min.js" defer></script>', "")
        assert "<img src=x" not in page.text and "<b>t</b>" not in page.text, url
    for url in (f"/admin/item/{item_id}", f"/admin/item/{item_id}/edit", f"/admin/item/{item_id}/delete"):
        fragment = await htmx.open(url)
        assert "<script>" not in fragment.text and "<img src=x" not in fragment.text, url
    assert ESCAPED in (await browser.open(f"/admin/item/{item_id}")).text
    # Messages carry labels too.
    deleted = await htmx.submit(f"/admin/item/{item_id}", {}, method="DELETE")
    assert "<script>" not in deleted.text and "&lt;script&gt;" in deleted.text


@pytest.mark.parametrize(
    "evil",
    ["'", '"', "; DROP TABLE item; --", "' OR '1'='1", "%", "_", "\\", "%%'", "name desc", "-name;", "1)--", "\x00"],
)
async def test_sql_metacharacters_in_parameters_are_only_text(browser, demo, db, evil):
    before = await snapshot(db)
    for params in ({"q": evil}, {"sort": evil}, {"page": evil}, {"per_page": evil}, {"status": evil}):
        response = await browser.client.get("/admin/item/", params=params)
        assert response.status_code in {200, 400}, (params, response.status_code)
        if "q" in params and evil.isprintable():
            # A literal match only: nothing here contains these characters.
            assert response.status_code == 200
            assert not re.findall(r'<tr id="item-', response.text), params
    assert await snapshot(db) == before
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Item)) == 2
