"""The message a post leaves for the next page ("… was changed.") travels in a signed cookie, not the session:
a save is one write transaction, the page after it writes nothing, and nobody can plant a message."""

from __future__ import annotations

import base64
import json
import re

import pytest
from sqlalchemy import select

from tests.conftest import count_statements, lamp_form
from webapp.admin.messages import MAX_COOKIE_BYTES, MessageCookie
from webapp.demo.models import Item

pytestmark = pytest.mark.anyio

COOKIE = "admin_messages"
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)


def _set_cookie(response, name: str) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header
    return None


async def test_a_save_writes_its_change_and_audit_entry_and_nothing_else(browser, demo, db, database_url):
    with count_statements() as statements:
        response = await browser.submit(f"/admin/item/{demo.lamp.id}", lamp_form(demo, name="Desk lamp"))
    assert response.status_code == 303
    writes = [" ".join(s.split()[:3]).replace('"', "").replace("`", "") for s in statements if WRITES.match(s)]
    assert writes == ["UPDATE item SET", "INSERT INTO admin_log_entry"]
    if database_url.startswith("sqlite"):
        assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]
    cookie = _set_cookie(response, COOKIE)
    assert cookie is not None
    assert "HttpOnly" in cookie and "Path=/admin" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")

    with count_statements() as statements:
        page = await browser.open("/admin/item/")
    assert "The item “Desk lamp” was changed." in page.text
    assert not [s for s in statements if WRITES.match(s)], "showing the message wrote to the database"
    cleared = _set_cookie(page, COOKIE)
    assert cleared is not None and "Max-Age=0" in cleared

    again = await browser.open("/admin/item/")
    assert "was changed." not in again.text
    async with db() as session:
        assert await session.scalar(select(Item.name).where(Item.id == demo.lamp.id)) == "Desk lamp"


async def test_an_inline_save_writes_its_change_and_audit_entry_and_nothing_else(htmx, demo, db):
    with count_statements() as statements:
        saved = await htmx.submit(f"/admin/item/{demo.lamp.id}", {"name": "Floor lamp"}, method="PATCH")
    assert saved.status_code == 200
    assert "The item “Floor lamp” was changed." in saved.text  # in the fragment itself: no cookie needed
    assert _set_cookie(saved, COOKIE) is None
    writes = [" ".join(s.split()[:3]).replace('"', "").replace("`", "") for s in statements if WRITES.match(s)]
    assert writes == ["UPDATE item SET", "INSERT INTO admin_log_entry"]
    async with db() as session:
        assert await session.scalar(select(Item.name).where(Item.id == demo.lamp.id)) == "Floor lamp"


async def test_a_fragment_leaves_the_message_for_the_next_whole_page(browser, demo):
    await browser.submit(f"/admin/item/{demo.lamp.id}", lamp_form(demo, name="Desk lamp"))
    fragment = await browser.open("/admin/item/?q=desk", **{"HX-Request": "true"})
    assert "was changed" not in fragment.text
    assert _set_cookie(fragment, COOKIE) is None
    assert "The item “Desk lamp” was changed." in (await browser.open("/admin/item/")).text


async def test_two_saves_before_a_page_show_both_messages(browser, demo):
    await browser.submit(f"/admin/item/{demo.lamp.id}", lamp_form(demo, name="Desk lamp"))
    await browser.submit(f"/admin/item/{demo.lamp.id}", lamp_form(demo, name="Floor lamp"))
    page = (await browser.open("/admin/item/")).text
    assert "The item “Desk lamp” was changed." in page
    assert "The item “Floor lamp” was changed." in page


async def test_a_record_name_in_a_message_is_escaped(browser, demo):
    await browser.submit(f"/admin/item/{demo.lamp.id}", lamp_form(demo, name="<script>alert(1)</script>"))
    page = (await browser.open("/admin/item/")).text
    assert "“&lt;script&gt;alert(1)&lt;/script&gt;” was changed." in page
    assert "<script>alert(1)" not in page


async def test_a_planted_or_altered_message_cookie_shows_nothing(browser, demo, client):
    forged = base64.urlsafe_b64encode(
        json.dumps([{"message": "Your session expired: sign in at evil.example", "category": "error"}]).encode()
    ).decode()
    for value in (forged, f"{forged}.{'0' * 64}", "not a cookie at all", "."):
        client.cookies.set(COOKIE, value, path="/admin")
        page = await browser.open("/admin/item/")
        assert page.status_code == 200
        assert "evil.example" not in page.text
        assert 'class="message' not in page.text
        assert "Max-Age=0" in (_set_cookie(page, COOKIE) or "")

    other_site = MessageCookie("admin", "/admin", "another secret")
    signed_elsewhere = other_site._encode([{"message": "Signed with another key", "category": "success"}])
    client.cookies.set(COOKIE, signed_elsewhere, path="/admin")
    assert "Signed with another key" not in (await browser.open("/admin/item/")).text


async def test_many_long_messages_keep_the_cookie_small_and_the_newest_shown(browser, demo):
    for n in range(8):
        response = await browser.submit(f"/admin/item/{demo.lamp.id}", lamp_form(demo, name=f"Lamp {n} " + "x" * 180))
        assert response.status_code == 303
        cookie = _set_cookie(response, COOKIE)
        assert cookie is not None and len(cookie.split(";")[0]) <= len(COOKIE) + 1 + MAX_COOKIE_BYTES
    page = (await browser.open("/admin/item/")).text
    assert f"Lamp 7 {'x' * 180}" in page
    assert "Lamp 0 " not in page
