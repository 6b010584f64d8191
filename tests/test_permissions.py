"""Permissions are enforced on the server for every route and fragment; pages show only what one may do."""

from __future__ import annotations

import pytest
from litestar import Litestar
from sqlalchemy import select

from tests.conftest import Admin, add_account, snapshot
from webapp.admin.models import AdminPermission

pytestmark = pytest.mark.anyio


def _admin_routes(app: Litestar) -> list[tuple[str, str]]:
    routes = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.opt.get("admin_public") or not route.path.startswith("/admin"):
                continue
            for method in sorted(handler.http_methods):
                routes.append((method, route.path))
    return routes


def _concrete(path: str) -> str:
    return path.replace("{model:str}", "item").replace("{pk:str}", "1").replace("{file_path:path}", "x")


async def test_every_admin_route_needs_a_signed_in_account(app, anonymous, demo):
    routes = _admin_routes(app)
    assert len(routes) > 12, routes
    token = (await anonymous.client.get("/admin/login")).cookies.get("csrftoken") or anonymous.client.cookies[
        "csrftoken"
    ]
    for method, path in routes:
        url = _concrete(path)
        plain = await anonymous.client.request(method, url, headers={"x-csrftoken": token}, follow_redirects=False)
        assert plain.status_code == 303, (method, url)
        assert plain.headers["location"].startswith("/admin/login?next="), (method, url)
        htmx = await anonymous.client.request(
            method, url, headers={"x-csrftoken": token, "HX-Request": "true"}, follow_redirects=False
        )
        assert htmx.status_code == 401, (method, url)
        assert htmx.headers["hx-redirect"].startswith("/admin/login"), (method, url)


@pytest.fixture
async def viewer(app, client, db, demo) -> Admin:
    await add_account(db, "viewer", permissions=("item.view", "tag.view", "tag.change"))
    person = Admin(client)
    assert (await person.sign_in("viewer")).status_code == 303
    return person


async def test_a_viewer_sees_only_what_they_may_do(viewer, demo):
    dashboard = await viewer.open("/admin/")
    assert "/admin/item/" in dashboard.text and "/admin/tag/" in dashboard.text
    assert "/admin/user/" not in dashboard.text and "/admin/account/" not in dashboard.text
    items = await viewer.open("/admin/item/")
    assert items.status_code == 200
    assert "Add item" not in items.text and ">Edit<" not in items.text and ">Delete<" not in items.text
    tags = await viewer.open("/admin/tag/")
    assert ">Edit<" in tags.text and ">Delete<" not in tags.text and "Add tag" not in tags.text


async def test_forbidden_routes_and_fragments_give_403_and_write_nothing(viewer, demo, db):
    before = await snapshot(db)
    lamp = demo.lamp.id
    forbidden = [
        ("GET", "/admin/user/"),
        ("GET", f"/admin/user/{demo.ada.id}"),
        ("GET", "/admin/item/new"),
        ("GET", f"/admin/item/{lamp}/edit"),
        ("GET", f"/admin/item/{lamp}/delete"),
        ("GET", "/admin/account/"),
    ]
    for method, url in forbidden:
        page = await viewer.client.request(method, url)
        assert page.status_code == 403, url
        assert "Forbidden" in page.text and "<!doctype html>" in page.text
        fragment = await viewer.client.request(method, url, headers={"HX-Request": "true"})
        assert fragment.status_code == 403 and "<html" not in fragment.text
    writes = [
        ("/admin/item/", {"name": "x", "price": "1", "owner_id": str(demo.ada.id)}, "POST"),
        (f"/admin/item/{lamp}", {"name": "hacked"}, "POST"),
        (f"/admin/item/{lamp}", {"name": "hacked"}, "PATCH"),
        (f"/admin/item/{lamp}/delete", {}, "POST"),
        (f"/admin/item/{lamp}", {}, "DELETE"),
        (f"/admin/tag/{demo.red.id}/delete", {}, "POST"),
        ("/admin/account/1/password", {"password1": "aaaaaaaaa", "password2": "aaaaaaaaa"}, "POST"),
    ]
    for url, data, method in writes:
        response = await viewer.submit(url, data, method=method)
        assert response.status_code == 403, (method, url)
    assert await snapshot(db) == before
    allowed = await viewer.submit(f"/admin/tag/{demo.red.id}", {"name": "crimson"}, method="PATCH")
    assert allowed.status_code == 303


async def test_the_accounts_admin_is_for_superusers_and_never_shows_passwords(browser, demo, db):
    page = await browser.open("/admin/account/new")
    assert page.status_code == 200
    assert 'name="password"' not in page.text and 'name="session_epoch"' not in page.text
    assert 'name="permissions"' in page.text and "Can change items" in page.text
    async with db() as session:
        permission = await session.scalar(select(AdminPermission).where(AdminPermission.codename == "tag.view"))
    created = await browser.submit(
        "/admin/account/",
        {"username": "helper", "is_active": "true", "is_superuser": "false", "permissions": ["", str(permission.id)]},
    )
    assert created.status_code == 303
    assert created.headers["location"].endswith("/password")


async def test_only_superusers_manage_accounts(client, db, demo):
    from webapp.admin.models import AdminPermission as Permission

    async with db() as session:
        codenames = set(await session.scalars(select(Permission.codename)))
    assert codenames and not any(c.startswith("account.") for c in codenames), "accounts cannot be granted"
    await add_account(db, "staff", permissions=("item.view",))
    person = Admin(client)
    await person.sign_in("staff")
    assert (await person.client.get("/admin/account/")).status_code == 403
