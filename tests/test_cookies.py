"""The admin's Set-Cookie headers come from a template (webapp/admin/cookies.py); each is the header Litestar itself
would send for that cookie and value."""

from __future__ import annotations

import dataclasses

import pytest
from litestar.datastructures import Cookie

from webapp.admin.cookies import CookieTemplate
from webapp.admin.messages import MessageCookie

SESSION = Cookie(key="admin_session", value="", path="/admin", httponly=True, samesite="lax", max_age=1209600)
MESSAGES = Cookie(key="admin_messages", value="", path="/admin", httponly=True, samesite="lax")
VALUES = [
    "00ff" * 16,  # a session id
    "eyJtZXNzYWdlIjoiT2sifQ.9f86d081884c7d65",  # a message cookie's payload and signature
    "a-b_c.d",
    "",  # SimpleCookie quotes an empty value
    "a b;c",  # a space and a semicolon: quoted and escaped
    'say "hi"',
    "ünïcode",
    "a,b",
]


@pytest.mark.optimisation("Set-Cookie headers from a template (webapp.admin.cookies.CookieTemplate)")
@pytest.mark.parametrize("cookie", [SESSION, MESSAGES, dataclasses.replace(MESSAGES, max_age=0)], ids=str)
@pytest.mark.parametrize("value", VALUES)
def test_a_templated_header_is_litestars_own(cookie, value):
    assert CookieTemplate(cookie).header(value) == dataclasses.replace(cookie, value=value).to_header(header="")


def test_the_message_cookie_and_its_removal_are_litestars_headers():
    messages = MessageCookie("admin", "/admin", "a secret")
    assert messages.cleared() == dataclasses.replace(MESSAGES, max_age=0).to_header(header="")
    assert "Max-Age=0" in messages.cleared()
    value = messages._encode([{"message": "Saved.", "category": "success"}])
    assert messages._template.header(value) == dataclasses.replace(MESSAGES, value=value).to_header(header="")
