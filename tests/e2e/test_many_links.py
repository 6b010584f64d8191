"""A record linked to 3,000 tags, edited in Chromium: the autocomplete adds, ticked boxes remove (kept as the list
of linked tags is searched), with htmx and without JavaScript.

A server of its own: its tag table is too big for a select, which the package's shared server must not be.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, select
from sqlalchemy.orm import Session

from webapp.demo.models import Item, Tag, item_tag

from .support import (
    Database,
    Server,
    assert_no_page_load,
    describe_violations,
    expect,
    mark,
    run_axe,
    running_server,
    settled,
    signed_in_state,
)

TAGS = 3_000
SCREENSHOT = os.environ.get("MANY_LINKS_SCREENSHOT")  # a path: the panel is saved there as a PNG


@pytest.fixture(scope="module")
def crowded_server(browser_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("e2e-many-links")) as running:
        yield running


@pytest.fixture(scope="module")
def crowded_database(crowded_server: Server) -> Iterator[Database]:
    database = Database(crowded_server.database_path)
    yield database
    database.close()


def crowded_item(path: Path, name: str) -> int:
    """A new item linked to TAGS new tags ("<name> 0000" …), with "<name> spare" linked to nothing."""
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 10})
    try:
        with Session(engine) as session, session.begin():
            owner_id = session.scalars(select(Item.owner_id).limit(1)).one()
            item_id = session.scalars(
                insert(Item).values(name=name, price=1, owner_id=owner_id, version=1).returning(Item.id)
            ).one()
            names = [f"{name} {n:04d}" for n in range(TAGS)] + [f"{name} spare"]
            session.execute(insert(Tag), [{"name": tag, "version": 1} for tag in names])
            tag_ids = session.scalars(select(Tag.id).where(Tag.name.in_(names[:-1]))).all()
            session.execute(insert(item_tag), [{"item_id": item_id, "tag_id": tag_id} for tag_id in tag_ids])
        return item_id
    finally:
        engine.dispose()


@pytest.fixture
def crowded_page(chromium: Any, crowded_server: Server, js_errors: Any) -> Iterator[Any]:
    state = signed_in_state(chromium, crowded_server.url)
    context = chromium.new_context(
        base_url=crowded_server.url, viewport={"width": 1280, "height": 900}, storage_state=state
    )
    context.set_default_timeout(10_000)
    context.on("page", js_errors.watch)
    try:
        yield context.new_page()
    finally:
        context.close()
    assert not js_errors.found, js_errors.found


@pytest.fixture
def crowded_nojs_page(chromium: Any, crowded_server: Server, js_errors: Any) -> Iterator[Any]:
    state = signed_in_state(chromium, crowded_server.url)
    context = chromium.new_context(
        base_url=crowded_server.url,
        viewport={"width": 1280, "height": 900},
        storage_state=state,
        java_script_enabled=False,
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_add_with_the_autocomplete_and_remove_ticked_tags_across_searches(
    crowded_page, crowded_server, crowded_database
):
    page = crowded_page
    pk = crowded_item(crowded_server.database_path, "Crowded lamp")
    page.goto(f"/admin/item/{pk}/edit")
    mark(page)
    expect(page.locator(".links-summary")).to_have_text(
        "3,000 tags linked, among them Crowded lamp 0000, Crowded lamp 0001, Crowded lamp 0002, Crowded lamp 0003,"
        " Crowded lamp 0004 and 2,995 more."
    )

    # Add: the autocomplete's pick becomes a chip.
    page.locator("#field-tags").press_sequentially("Crowded lamp spare", delay=20)
    option = page.locator("#field-tags-results [data-lookup-option]", has_text="Crowded lamp spare")
    option.click()
    expect(page.locator("#field-tags-adding li")).to_have_text(["Crowded lamp spare \u00d7"])
    # The search keeps the focus for another pick, and looks up again; Escape closes its results for good.
    page.keyboard.press("Escape")
    settled(page)
    expect(page.locator("#field-tags-results [data-lookup-option]")).to_have_count(0)

    # Remove: tick one on the first page, then search for another; the first stays ticked, above the list.
    panel = page.locator("#field-tags-panel")
    listed = page.locator("#field-tags-linked")
    listed.get_by_label("Crowded lamp 0001", exact=True).check()
    page.locator("#field-tags-q").press_sequentially("2718", delay=20)
    expect(listed.locator("li")).to_have_count(1)
    listed.get_by_label("Crowded lamp 2718", exact=True).check()
    expect(page.locator("#field-tags-removing input:checked")).to_have_count(1)
    # Back to every linked tag: the one ticked on this page shows ticked in its place, not twice.
    page.locator("#field-tags-q").fill("")
    expect(listed.locator("li").first).to_have_text("Crowded lamp 0000")
    expect(listed.get_by_label("Crowded lamp 0001", exact=True)).to_be_checked()
    expect(page.locator("#field-tags-removing li")).to_have_text(["Crowded lamp 2718"])
    # The next page, by the list's own button; the ticked boxes stay ticked.
    listed.get_by_role("button", name="Next").click()
    expect(listed.locator("li").first).to_have_text("Crowded lamp 0020")
    expect(panel.locator("input[name='tags__remove']:checked")).to_have_count(2)
    assert_no_page_load(page)
    if SCREENSHOT:
        page.locator(".field", has=panel).screenshot(path=SCREENSHOT)

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("The item “Crowded lamp” was changed.")
    names = set(crowded_database.tag_names(pk))
    assert len(names) == TAGS - 1
    assert "Crowded lamp spare" in names and not names & {"Crowded lamp 0001", "Crowded lamp 2718"}


def test_without_javascript_a_linked_tag_is_found_by_search_and_removed(
    crowded_nojs_page, crowded_server, crowded_database
):
    page = crowded_nojs_page
    pk = crowded_item(crowded_server.database_path, "Quiet lamp")
    page.goto(f"/admin/item/{pk}/edit")
    page.locator("#field-tags-q").fill("1234")
    page.locator("#field-tags-q").press("Enter")
    expect(page).to_have_url(re.compile(r"/edit\?tags__q=1234#field-tags-panel$"))
    page.locator("#field-tags-linked").get_by_label("Quiet lamp 1234", exact=True).check()
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Save", exact=True).click()
    assert answer.value.status == 303
    expect(page.locator("#messages")).to_contain_text("The item “Quiet lamp” was changed.")
    names = set(crowded_database.tag_names(pk))
    assert len(names) == TAGS - 1 and "Quiet lamp 1234" not in names


def test_the_panel_has_no_serious_accessibility_violation(crowded_page, crowded_server, axe_js):
    pk = crowded_item(crowded_server.database_path, "Audited lamp")
    crowded_page.goto(f"/admin/item/{pk}/edit")
    crowded_page.locator("#field-tags-linked").get_by_label("Audited lamp 0003", exact=True).check()
    blocking = [v for v in run_axe(crowded_page) if v["impact"] in {"serious", "critical"}]
    assert not blocking, describe_violations(blocking)
