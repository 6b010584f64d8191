"""The admin mounts on another application, over models it has never seen, by one plugin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar, get
from litestar.config.csrf import CSRFConfig
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from litestar.testing import AsyncTestClient
from sqlalchemy import MetaData, String, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tests.conftest import PASSWORD, SECRET, Admin, add_account
from webapp.admin import AdminPlugin, ModelAdmin
from webapp.admin.models import AdminAccount

pytestmark = pytest.mark.anyio


class Base(DeclarativeBase):
    metadata = MetaData()


class Gadget(Base):
    __tablename__ = "embedded_gadget"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    weight: Mapped[float | None]


class Widget(Base):
    __tablename__ = "embedded_widget"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(30))


class GadgetAdmin(ModelAdmin, model=Gadget):
    list_display = ("code", "weight")
    labels = {"code": "Gadget code"}


ROW_OVERRIDE = """<tr id="{{ admin.dom_id(obj) }}" class="host-gadget-row">{{ admin_row_cells(site, admin, obj) }}\
<td>weighed {{ obj.weight }}</td></tr>{% if oob %}{% include "admin/_messages_oob.html" %}{% endif %}"""


@get("/hello")
async def hello() -> str:
    return "the host app's own route"


@pytest.fixture
async def host_client(database_url: str, tmp_path: Path) -> AsyncIterator[Admin]:
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
        # The admin's own tables (accounts, permissions, log) live beside the host's.
        await conn.run_sync(AdminAccount.metadata.create_all)
    await add_account(async_sessionmaker(engine), "host-admin", superuser=True)
    await engine.dispose()
    db = SQLAlchemyAsyncConfig(
        connection_string=database_url, metadata=Base.metadata, before_send_handler="autocommit_include_redirects"
    )

    async def dispose() -> None:
        await db.get_engine().dispose()

    # The host's own templates, where a per-model row template overrides the admin's row for gadgets only.
    overrides = tmp_path / "admin" / "gadget"
    overrides.mkdir(parents=True)
    (overrides / "_row.html").write_text(ROW_OVERRIDE)

    app = Litestar(
        route_handlers=[hello],
        plugins=[SQLAlchemyPlugin(config=db), AdminPlugin([GadgetAdmin, Widget], path="/backoffice", title="Host")],
        middleware=[CookieBackendConfig(secret=SECRET).middleware],
        csrf_config=CSRFConfig(secret="host-secret"),
        template_config=TemplateConfig(directory=tmp_path, engine=JinjaTemplateEngine),
        on_shutdown=[dispose],
    )
    async with AsyncTestClient(app=app) as client:
        person = Admin(client, last_url="/backoffice/login")
        await client.get("/backoffice/login")
        signed_in = await person.submit("/backoffice/login", {"username": "host-admin", "password": PASSWORD})
        assert signed_in.headers["location"] == "/backoffice/"
        yield person
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
    await engine.dispose()


async def test_admin_mounts_under_its_path_beside_the_host_routes(host_client):
    assert (await host_client.open("/hello")).text == "the host app's own route"
    dashboard = await host_client.open("/backoffice/")
    assert dashboard.status_code == 200
    assert '<a href="/backoffice/gadget/">Gadgets</a>' in dashboard.text
    assert '<a href="/backoffice/widget/">Widgets</a>' in dashboard.text
    assert "/backoffice/static/vendor/htmx.min.js" in dashboard.text


async def test_crud_on_the_host_models(host_client, database_url):
    created = await host_client.submit("/backoffice/gadget/", {"code": "G-1", "weight": "2.5"})
    assert created.status_code == 303
    assert created.headers["location"] == "/backoffice/gadget/"
    listing = await host_client.open("/backoffice/gadget/")
    assert "Gadget code" in listing.text and "G-1" in listing.text
    duplicate = await host_client.submit("/backoffice/gadget/", {"code": "G-1"})
    assert duplicate.status_code == 422
    assert "A gadget with this gadget code already exists." in duplicate.text
    widget = await host_client.submit("/backoffice/widget/", {"label": "plain"})
    assert widget.status_code == 303
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        assert (await conn.execute(select(Gadget.code, Gadget.weight))).all() == [("G-1", 2.5)]
    await engine.dispose()


async def test_a_per_model_row_template_draws_that_models_rows_on_the_page_and_in_fragments(host_client):
    for code in ("G-1", "G-2"):
        assert (await host_client.submit("/backoffice/gadget/", {"code": code, "weight": "2.5"})).status_code == 303
    assert (await host_client.submit("/backoffice/widget/", {"label": "plain"})).status_code == 303
    gadgets = await host_client.open("/backoffice/gadget/")
    assert gadgets.text.count('class="host-gadget-row"') == 2
    assert gadgets.text.count("weighed 2.5") == 2
    assert ">G-1</a></td>" in gadgets.text
    widgets = await host_client.open("/backoffice/widget/")
    assert "host-gadget-row" not in widgets.text and "<td>plain</td>" in widgets.text
    # The row a htmx request gets back (after an inline edit, or on Cancel) is drawn by the same override.
    row = await host_client.open("/backoffice/gadget/1", HX_Request="true")
    assert row.text.startswith('<tr id="gadget-1" class="host-gadget-row">') and "weighed 2.5" in row.text


async def test_the_health_probe_lives_under_the_admins_path_outside_the_hosts_csrf_and_sessions(host_client):
    probe = await host_client.client.get("/backoffice/health")
    assert (probe.status_code, probe.text) == (200, "ok\n")
    assert "set-cookie" not in probe.headers
    assert (await host_client.client.get("/admin/health")).status_code == 404
