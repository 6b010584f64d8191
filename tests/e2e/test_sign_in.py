"""Every admin page asks a person who has not signed in to sign in, then takes them where they were going."""

from __future__ import annotations

import re

from .support import ADMIN_USERNAME, expect, sign_in


def test_sign_in_then_land_on_the_page_asked_for(signed_out_page):
    page = signed_out_page
    page.goto("/admin/item/?q=lamp")
    expect(page).to_have_url(re.compile(r"/admin/login\?next="))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sign in")
    expect(page.locator("#username")).to_be_focused()

    sign_in(page)
    expect(page).to_have_url(re.compile(r"/admin/item/\?q=lamp$"))
    expect(page.locator("#q")).to_have_value("lamp")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/admin/login"))
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login\?next="))


def test_wrong_password_is_refused(signed_out_page):
    page = signed_out_page
    page.goto("/admin/login")
    page.locator("#username").fill(ADMIN_USERNAME)
    page.locator("#password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".form-errors")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/admin/login"))
