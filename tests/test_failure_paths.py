"""Failure paths the other files do not reach: a restore whose linked row is gone, a password form for a model
without one, and malformed filters on export and bulk actions. Each is refused clearly and writes nothing."""

from __future__ import annotations

import pytest

from tests.conftest import snapshot
from webapp.demo.models import Tag

pytestmark = pytest.mark.anyio


async def test_restore_is_refused_when_a_linked_row_is_gone(browser, demo, db):
    await browser.submit(f"/admin/item/{demo.lamp.id}/delete", {})
    history = (await browser.open(f"/admin/item/{demo.lamp.id}/history")).text
    entry = history.split('name="entry" value="', 1)[1].split('"', 1)[0]
    async with db() as session:
        await session.delete(await session.get(Tag, demo.red.id))
        await session.commit()
    before = await snapshot(db)
    refused = await browser.submit(f"/admin/item/{demo.lamp.id}/restore", {"entry": entry})
    assert refused.status_code == 409
    assert "a linked tags record no longer exists" in refused.text
    assert await snapshot(db) == before


async def test_password_form_of_a_model_without_passwords_is_a_404(browser, demo, db):
    before = await snapshot(db)
    assert (await browser.open(f"/admin/tag/{demo.red.id}/password")).status_code == 404
    posted = await browser.submit(f"/admin/tag/{demo.red.id}/password", {"password1": "x" * 9, "password2": "x" * 9})
    assert posted.status_code == 404
    assert await snapshot(db) == before


async def test_malformed_filters_on_export_and_bulk_are_a_400(browser, demo, db):
    export = await browser.client.get("/admin/item/export.csv?price__gte=cheap")
    assert export.status_code == 400
    assert "must be a number" in export.text
    before = await snapshot(db)
    bulk = await browser.submit(
        "/admin/item/bulk", {"action": "delete", "select_all": "1", "status": "sold", "confirm": "yes"}
    )
    assert bulk.status_code == 400
    assert await snapshot(db) == before
