"""Signing in and out: who gets in, for how long, and what happens to everyone else."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, Admin, add_account
from webapp.admin.models import AdminAccount, AdminStoreEntry

pytestmark = pytest.mark.anyio


async def test_anonymous_pages_redirect_to_login_with_next(anonymous, superuser):
    page = await anonymous.client.get("/admin/item/?q=lamp", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/admin/login?next=%2Fadmin%2Fitem%2F%3Fq%3Dlamp"
    login = await anonymous.open("/admin/login?next=/admin/item/")
    assert login.status_code == 200
    assert 'name="next" value="/admin/item/"' in login.text
    assert 'autocomplete="current-password"' in login.text


async def test_anonymous_htmx_gets_401_with_hx_redirect(anonymous, superuser):
    anonymous.htmx = True
    anonymous.last_url = "/admin/item/"
    response = await anonymous.client.get(
        "/admin/item/1/edit",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver.local/admin/item/?page=2"},
    )
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/admin/login?next=%2Fadmin%2Fitem%2F%3Fpage%3D2"


async def test_a_visitor_who_has_not_signed_in_costs_no_session_row_and_gets_no_session_cookie(
    anonymous, superuser, db
):
    for url in ("/admin/", "/admin/login", "/admin/login?next=/admin/item/", "/admin/static/admin.css"):
        response = await anonymous.client.get(url, follow_redirects=False)
        assert response.status_code in (200, 302, 303), url
        assert not [c for c in response.headers.get_list("set-cookie") if c.startswith("admin_session=")], url
    failed = await anonymous.submit("/admin/login", {"username": "root", "password": "wrong"})
    assert failed.status_code == 422
    async with db() as session:
        assert (
            await session.scalars(select(AdminStoreEntry.key).where(AdminStoreEntry.namespace == "sessions"))
        ).all() == []
    signed_in = await anonymous.submit("/admin/login", {"username": "root", "password": PASSWORD})
    assert signed_in.status_code == 303
    async with db() as session:
        assert (
            len(
                (
                    await session.scalars(select(AdminStoreEntry.key).where(AdminStoreEntry.namespace == "sessions"))
                ).all()
            )
            == 1
        )


async def test_sign_in_goes_to_next_and_sets_a_safe_session_cookie(anonymous, superuser):
    await anonymous.open("/admin/login")
    before = anonymous.client.cookies.get("admin_session")
    response = await anonymous.submit("/admin/login", {"username": "root", "password": PASSWORD, "next": "/admin/tag/"})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/tag/"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("admin_session="))
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower(), "plain HTTP here; Secure is added over HTTPS"
    assert anonymous.client.cookies.get("admin_session") != before, "a new session id at sign-in"
    page = await anonymous.open("/admin/tag/")
    assert page.status_code == 200 and "Sign out" in page.text and ">root<" in page.text


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil",
        " /admin/",
        "",
    ],
)
async def test_next_only_accepts_paths_on_this_site(anonymous, superuser, target):
    await anonymous.open("/admin/login")
    response = await anonymous.submit("/admin/login", {"username": "root", "password": PASSWORD, "next": target})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/"


async def test_wrong_password_unknown_user_and_inactive_account_are_refused_alike(anonymous, superuser, db):
    await add_account(db, "sleepy", superuser=True, active=False)
    await anonymous.open("/admin/login")
    for username, password in (("root", "wrong"), ("nobody", PASSWORD), ("sleepy", PASSWORD)):
        response = await anonymous.submit("/admin/login", {"username": username, "password": password})
        assert response.status_code == 422
        assert "Please enter a correct username and password." in response.text
        assert f'value="{username}"' in response.text
    assert (await anonymous.client.get("/admin/", follow_redirects=False)).status_code == 303


async def test_five_failures_lock_that_username_from_that_address(anonymous, superuser):
    await anonymous.open("/admin/login")
    for _ in range(5):
        assert (await anonymous.submit("/admin/login", {"username": "root", "password": "nope"})).status_code == 422
    locked = await anonymous.submit("/admin/login", {"username": "root", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed attempts. Try again in 15 minutes." in locked.text
    assert (await anonymous.client.get("/admin/", follow_redirects=False)).status_code == 303


async def test_sign_out_ends_the_session(browser):
    response = await browser.submit("/admin/logout", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login"
    assert (await browser.client.get("/admin/", follow_redirects=False)).status_code == 303


async def test_changing_a_password_ends_the_accounts_other_sessions(browser, db):
    other = await add_account(db, "editor", superuser=True)
    client = browser.client
    root_cookies = httpx.Cookies(client.cookies)

    async def as_editor(password: str = PASSWORD) -> httpx.Cookies:
        client.cookies = httpx.Cookies()
        assert (await Admin(client).sign_in("editor", password)).status_code == 303
        return httpx.Cookies(client.cookies)

    editor_cookies = await as_editor()
    assert (await client.get("/admin/", follow_redirects=False)).status_code == 200
    # root sets editor's password: editor's session ends.
    client.cookies = root_cookies
    changed = await browser.submit(
        f"/admin/account/{other}/password", {"password1": "a new secret 1", "password2": "a new secret 1"}
    )
    assert changed.status_code == 303
    client.cookies = editor_cookies
    assert (await client.get("/admin/", follow_redirects=False)).status_code == 303
    editor_cookies = await as_editor("a new secret 1")
    # Deactivating editor ends it again.
    client.cookies = root_cookies
    off = await browser.submit(f"/admin/account/{other}", {"is_active": "false"}, method="PATCH")
    assert off.status_code == 303
    client.cookies = editor_cookies
    assert (await client.get("/admin/", follow_redirects=False)).status_code == 303


async def test_changing_ones_own_password_keeps_this_session(browser, superuser, db):
    response = await browser.submit(
        f"/admin/account/{superuser}/password", {"password1": "brand new pass", "password2": "brand new pass"}
    )
    assert response.status_code == 303
    assert (await browser.open("/admin/")).status_code == 200
    async with db() as session:
        account = await session.get(AdminAccount, superuser)
        assert account.password.verify("brand new pass")


async def test_password_form_checks_length_and_match(browser, superuser):
    short = await browser.submit(f"/admin/account/{superuser}/password", {"password1": "short", "password2": "short"})
    assert short.status_code == 422
    assert "Use at least 8 characters." in short.text
    differ = await browser.submit(
        f"/admin/account/{superuser}/password", {"password1": "long enough 1", "password2": "long enough 2"}
    )
    assert differ.status_code == 422
    assert "The two passwords differ." in differ.text


async def test_password_hashes_never_appear(browser, superuser, db):
    async with db() as session:
        stored = (await session.scalar(select(AdminAccount).where(AdminAccount.id == superuser))).password.hash_string
    assert stored.startswith("$argon2id$")
    await browser.submit(
        f"/admin/account/{superuser}/password", {"password1": "another pass", "password2": "another pass"}
    )
    for url in (
        "/admin/account/",
        f"/admin/account/{superuser}",
        f"/admin/account/{superuser}/edit",
        f"/admin/account/{superuser}/history",
        "/admin/",
        "/admin/account/new",
    ):
        page = await browser.open(url)
        assert page.status_code == 200, url
        assert "$argon2" not in page.text, url
        assert 'name="password"' not in page.text, url


async def test_cookies_are_secure_over_https(app, superuser):
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=app, base_url="https://testserver.local") as secure_client:
        person = Admin(secure_client, last_url="/admin/login")
        response = await person.sign_in("root")
        cookies = response.headers.get_list("set-cookie")
        session_cookie = next(c for c in cookies if c.startswith("admin_session="))
        assert "Secure" in session_cookie and "HttpOnly" in session_cookie
        login_page = await secure_client.get("/admin/login", headers={"cookie": ""})
        csrf_cookie = next(c for c in login_page.headers.get_list("set-cookie") if c.startswith("csrftoken="))
        assert csrf_cookie.endswith("; Secure"), "the CSRF check's cookie too"


@pytest.mark.optimisation("the session cookie's header from a template (RotatingSessionBackend.store_in_message)")
async def test_every_page_renews_the_session_cookie_as_litestar_writes_it(browser):
    """The session cookie's header comes from a template (Litestar builds it anew per response); both agree."""
    from litestar.datastructures import Cookie

    page = await browser.client.get("/admin/tag/")
    renewed = next(c for c in page.headers.get_list("set-cookie") if c.startswith("admin_session="))
    session_id = browser.client.cookies["admin_session"]
    expected = Cookie(
        key="admin_session", value=session_id, httponly=True, samesite="lax", max_age=14 * 24 * 3600, path="/admin"
    )
    assert renewed == expected.to_header(header="")


def test_a_session_id_a_cookie_cannot_hold_bare_is_quoted():
    from webapp.admin.sessions import RotatingSessionConfig

    config = RotatingSessionConfig(key="admin_session", httponly=True)
    backend = config._backend_class(config=config)
    assert backend._cookie_header("a b;c").startswith('admin_session="a b\\073c";')
    assert backend._cookie_header("00ff").startswith("admin_session=00ff;")
