"""A record linked to thousands of others through a many-to-many (the lamp and its 3,000 tags): its edit form
counts the links and names a few, the person adds with the autocomplete and ticks linked records to remove, and
the form posts those changes only. Every other link stays as it is, and the save keeps the form's promises: the
version check, the history with its undo, permissions, CSRF, and a message on the field for a bad key."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import insert, select

from tests.conftest import LINKED, Admin, Demo, add_account, field_error, form_as_drawn, input_value, snapshot
from tests.html_check import html_problems
from webapp.admin import links
from webapp.admin.limits import MAX_FORM_FIELDS
from webapp.admin.models import AdminLogEntry
from webapp.demo.models import Item, Tag, item_tag

pytestmark = pytest.mark.anyio

PAGE_BUDGET = 40_000
# The panel itself: a count, five names, the autocomplete, a page of twenty linked tags to tick.
PANEL_BUDGET = 10_000
PANEL = re.compile(r'<div class="links" id="field-tags-panel">.*?</fieldset>\n</div>', re.S)
LINKED_BOX = re.compile(r'<input type="checkbox" name="tags__remove" value="(\d+)"> ([^<]+)</label>')


@pytest.fixture
async def spare(db, crowded: Demo) -> dict[str, int]:
    """Two tags nothing links yet, "amber" and "teal", by name."""
    async with db() as session:
        await session.execute(insert(Tag), [{"name": "amber", "version": 1}, {"name": "teal", "version": 1}])
        await session.commit()
    return await tag_ids(db, "amber", "teal")


async def tag_ids(db, *names: str) -> dict[str, int]:
    async with db() as session:
        rows = await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names)))
        return dict(rows.all())


async def lamp_tags(db, demo: Demo) -> set[str]:
    async with db() as session:
        statement = select(Tag.name).join(item_tag, item_tag.c.tag_id == Tag.id)
        return set((await session.scalars(statement.where(item_tag.c.item_id == demo.lamp.id))).all())


async def lamp(db, demo: Demo) -> Item:
    async with db() as session:
        return await session.get(Item, demo.lamp.id)


def everything_but_tags() -> set[str]:
    return {f"tag {n:04d}" for n in range(1, LINKED)} | {"red"}


def edited(form: list[tuple[str, str]], **typed: Any) -> list[tuple[str, str]]:
    """The drawn form with what the person typed: a field's value replaced, or (a list) more values added, as
    the autocomplete's chips and the ticked boxes add theirs."""
    out = [(name, value) for name, value in form if not (name in typed and not isinstance(typed[name], list))]
    for name, value in typed.items():
        out += [(name, str(v)) for v in value] if isinstance(value, list) else [(name, str(value))]
    return out


async def open_form(person, demo: Demo) -> tuple[str, list[tuple[str, str]]]:
    page = (await person.open(f"/admin/item/{demo.lamp.id}/edit")).text
    return page, form_as_drawn(page)


# -- the form ----------------------------------------------------------------------------------------------


async def test_the_edit_form_counts_3000_links_names_five_and_lists_twenty_to_tick(browser, crowded):
    page, form = await open_form(browser, crowded)
    panel = PANEL.search(page).group(0)
    assert "<strong>3,000</strong> tags linked, among them red, tag 0001, tag 0002, tag 0003, tag 0004" in panel
    assert " and 2,995 more.</p>" in panel
    assert [label for _, label in LINKED_BOX.findall(panel)] == ["red", *(f"tag {n:04d}" for n in range(1, 20))]
    assert "1\u201320 of 3,000" in panel and 'name="tags__page" value="2"' in panel and ">Next</button>" in panel
    assert 'hx-get="/admin/tag/lookup"' in panel, "adding goes through the autocomplete"
    assert len(panel) < PANEL_BUDGET and len(page) < PAGE_BUDGET
    assert html_problems(page) == []
    names = [name for name, _ in form]
    assert "tags" not in names, "nothing posts the whole set"
    assert names.count("tags__add") == 1 and "tags__remove" not in names, "nothing is added or removed yet"
    assert len(form) < 15, "the other fields, the version and the token: a handful"


async def test_names_in_the_panel_are_escaped(browser, htmx, db, crowded):
    async with db() as session:
        odd = await session.scalar(insert(Tag).values(name="!<i>odd</i> & co", version=1).returning(Tag.id))
        await session.execute(insert(item_tag).values(item_id=crowded.lamp.id, tag_id=odd))
        await session.commit()
    page, _ = await open_form(browser, crowded)
    escaped = "!&lt;i&gt;odd&lt;/i&gt; &amp; co"
    assert f"among them {escaped}, red," in page and f"> {escaped}</label>" in page and "<i>odd" not in page
    assert html_problems(page) == []
    fragment = (await htmx.open(f"/admin/item/{crowded.lamp.id}/links/tags?tags__q=odd")).text
    assert f"> {escaped}</label>" in fragment and html_problems(fragment, fragment=True) == []


async def test_below_the_limit_the_form_draws_every_link_as_a_chip_and_posts_them_all(browser, db, crowded):
    """The chair, with blue and 39 more of the 3,000 tags (the limit): chips, as before the panel existed."""
    async with db() as session:
        ids = (await session.scalars(select(Tag.id).where(Tag.name <= "tag 0039", Tag.name.startswith("tag ")))).all()
        await session.execute(insert(item_tag), [{"item_id": crowded.chair.id, "tag_id": i} for i in ids])
        await session.commit()
    url = f"/admin/item/{crowded.chair.id}/edit"
    page = (await browser.open(url)).text
    form = form_as_drawn(page)
    chips = [value for name, value in form if name == "tags" and value]
    assert len(chips) == links.CHIPS_LIMIT and 'class="links"' not in page and "tags__add" not in page
    assert 'data-chip-remove aria-label="Remove tag 0039"' in page and html_problems(page) == []

    # The person removes blue's chip (its button drops its hidden input) and saves: the set posted is the set kept.
    blue = str(crowded.blue.id)
    saved = await browser.submit(f"/admin/item/{crowded.chair.id}", [p for p in form if p != ("tags", blue)])
    assert saved.status_code == 303
    async with db() as session:
        chair = await session.get(Item, crowded.chair.id)
        await session.refresh(chair, ["tags"])
        assert len(chair.tags) == links.CHIPS_LIMIT - 1 and "blue" not in {t.name for t in chair.tags}

    one_more = await tag_ids(db, "tag 0040")
    async with db() as session:
        await session.execute(insert(item_tag), [{"item_id": crowded.chair.id, "tag_id": one_more["tag 0040"]}])
        await session.execute(insert(item_tag), [{"item_id": crowded.chair.id, "tag_id": crowded.blue.id}])
        await session.commit()
    page = (await browser.open(url)).text
    assert "<strong>41</strong> tags linked" in page and 'name="tags" value="' not in page, "one past: the panel"


async def test_adding_two_and_removing_two_changes_exactly_those_links(browser, db, crowded, spare):
    page, form = await open_form(browser, crowded)
    first, second = LINKED_BOX.findall(page)[1:3]
    assert (first[1], second[1]) == ("tag 0001", "tag 0002")
    posted = edited(
        form,
        name="Desk lamp",
        tags__add=[spare["amber"], spare["teal"]],  # two picks in the autocomplete
        tags__remove=[first[0], second[0]],  # two ticked boxes
    )
    assert len(posted) < 20 < MAX_FORM_FIELDS
    saved = await browser.submit(f"/admin/item/{crowded.lamp.id}", posted)
    assert saved.status_code == 303, saved.text
    assert await lamp_tags(db, crowded) == everything_but_tags() - {"tag 0001", "tag 0002"} | {"amber", "teal"}
    now = await lamp(db, crowded)
    assert (now.name, now.version) == ("Desk lamp", 2)
    listed = (await browser.open(saved.headers["location"])).text
    assert "The item “Desk lamp” was changed." in listed


async def test_a_change_of_links_only_moves_the_version_on(browser, db, crowded, spare):
    _, form = await open_form(browser, crowded)
    saved = await browser.submit(f"/admin/item/{crowded.lamp.id}", edited(form, tags__add=[spare["teal"]]))
    assert saved.status_code == 303
    assert (await lamp(db, crowded)).version == 2, "a form opened before this save is now stale"
    assert "teal" in await lamp_tags(db, crowded)


async def test_removing_a_record_beyond_the_first_page_finds_it_by_search_without_javascript(browser, db, crowded):
    """No JavaScript: the list's Search button reloads the edit page with the query, the box is ticked there."""
    url = f"/admin/item/{crowded.lamp.id}/edit"
    found = (await browser.open(f"{url}?tags__q=2718")).text
    assert LINKED_BOX.findall(found)[0][1] == "tag 2718" and len(LINKED_BOX.findall(found)) == 1
    assert input_value(found, "field-tags-q") == "2718" and html_problems(found) == []
    assert '<form id="field-tags-links" method="get" action="/admin/item/1/edit#field-tags-panel"' in found
    key = LINKED_BOX.findall(found)[0][0]
    saved = await browser.submit(f"/admin/item/{crowded.lamp.id}", edited(form_as_drawn(found), tags__remove=[key]))
    assert saved.status_code == 303
    assert await lamp_tags(db, crowded) == everything_but_tags() - {"tag 2718"}

    second_page = (await browser.open(f"{url}?tags__page=2")).text
    assert [label for _, label in LINKED_BOX.findall(second_page)][:2] == ["tag 0020", "tag 0021"]
    assert "21\u201340 of 2,999" in second_page and 'name="tags__page" value="1"' in second_page


async def test_the_list_pages_and_searches_as_a_fragment_for_htmx(htmx, crowded):
    url = f"/admin/item/{crowded.lamp.id}/links/tags?id=field-tags"
    fragment = (await htmx.open(f"{url}&tags__q=tag+00&tags__page=3")).text
    assert [label for _, label in LINKED_BOX.findall(fragment)] == [f"tag {n:04d}" for n in range(41, 61)]
    assert fragment.startswith('<div class="links-page" id="field-tags-linked"')
    assert 'name="tags__page" value="4"' in fragment and 'name="tags__page" value="2"' in fragment
    assert html_problems(fragment, fragment=True) == []
    control = (await htmx.open(f"{url}&tags__q=%00tag%0A+2718")).text
    assert [label for _, label in LINKED_BOX.findall(control)] == ["tag 2718"], "searched as the list searches"
    nothing = (await htmx.open(f"{url}&tags__q=%3Cb%3E")).text
    assert "No linked tags match “&lt;b&gt;”." in nothing and "<b>" not in nothing
    for page in ("%C2%B2", "0", "-1", "99999999", "x"):
        first = (await htmx.open(f"{url}&tags__page={page}")).text
        assert LINKED_BOX.findall(first)[0][1] == "red", f"page {page}: the first page"
    odd = (await htmx.open(f"/admin/item/{crowded.lamp.id}/links/tags?id=%22%3E%3Cscript%3E")).text
    assert 'id="field-tags-linked"' in odd, "an id that is not one is not written into the page"
    assert (await htmx.open(f"/admin/item/{crowded.lamp.id}/links/name")).status_code == 404
    assert (await htmx.open("/admin/item/999999/links/tags")).status_code == 404


async def test_a_list_row_counts_the_links_and_its_save_leaves_them(htmx, db, crowded):
    row = (await htmx.open(f"/admin/item/{crowded.lamp.id}/edit")).text
    assert '<div class="links links-compact" id="item-1-tags">' in row
    assert f'<a href="/admin/item/{crowded.lamp.id}/edit">change them on its page</a>' in row
    assert 'name="tags' not in row and html_problems(row, fragment=True) == []
    saved = await htmx.submit(f"/admin/item/{crowded.lamp.id}", {"name": "Desk lamp", "_version": "1"}, "PATCH")
    assert saved.status_code == 200
    assert await lamp_tags(db, crowded) == everything_but_tags()


# -- what is refused ---------------------------------------------------------------------------------------


async def test_a_stale_form_is_a_conflict_that_keeps_the_changes_typed_and_writes_nothing(browser, db, crowded, spare):
    page, form = await open_form(browser, crowded)
    first = LINKED_BOX.findall(page)[1][0]
    # Meanwhile someone else unlinks "tag 0003" from a form of their own: links only, the version moves on.
    _, theirs = await open_form(browser, crowded)
    tag_0003 = (await tag_ids(db, "tag 0003"))["tag 0003"]
    assert (
        await browser.submit(f"/admin/item/{crowded.lamp.id}", edited(theirs, tags__remove=[tag_0003]))
    ).status_code == 303
    before = await snapshot(db)

    mine = edited(form, name="Desk lamp", tags__add=[spare["amber"]], tags__remove=[first])
    stale = await browser.submit(f"/admin/item/{crowded.lamp.id}", mine)
    assert stale.status_code == 409
    assert "Someone else changed this item after you opened it." in stale.text
    assert await snapshot(db) == before, "nothing was written"
    assert input_value(stale.text, "field-name") == "Desk lamp"
    assert f'<input type="hidden" name="tags__add" value="{spare["amber"]}">amber' in stale.text
    assert f'<input type="checkbox" name="tags__remove" value="{first}" checked> tag 0001' in stale.text
    assert "<strong>2,999</strong> tags linked" in stale.text, "their change is counted"
    assert html_problems(stale.text) == []

    again = await browser.submit(f"/admin/item/{crowded.lamp.id}", form_as_drawn(stale.text))
    assert again.status_code == 303, "saved again: mine on top of theirs"
    assert await lamp_tags(db, crowded) == everything_but_tags() - {"tag 0001", "tag 0003"} | {"amber"}


BAD_KEYS = {
    "a key no tag has": "999999",
    "a key that is not a number": "tag 0001",
    "a 5,000-digit key": "9" * 5000,
}


@pytest.mark.parametrize("where", ["tags__add", "tags__remove"])
@pytest.mark.parametrize("bad", BAD_KEYS.values(), ids=BAD_KEYS.keys())
async def test_a_bad_key_is_refused_on_the_field_and_nothing_is_written(browser, db, crowded, spare, where, bad):
    _, form = await open_form(browser, crowded)
    before = await snapshot(db)
    posted = [*edited(form, name="Desk lamp", tags__add=[spare["teal"]]), (where, bad)]
    refused = await browser.submit(f"/admin/item/{crowded.lamp.id}", posted)
    assert refused.status_code == 422
    message = field_error(refused.text, "field-tags")
    assert message == f"Select a valid choice. {bad} is not one of the available choices."
    assert input_value(refused.text, "field-name") == "Desk lamp", "what was typed is kept"
    assert f'<input type="hidden" name="tags__add" value="{spare["teal"]}">teal' in refused.text
    assert await snapshot(db) == before
    assert html_problems(refused.text) == []


async def test_a_key_both_added_and_removed_is_refused(browser, db, crowded, spare):
    _, form = await open_form(browser, crowded)
    before = await snapshot(db)
    posted = edited(form, tags__add=[spare["teal"]], tags__remove=[spare["teal"]])
    refused = await browser.submit(f"/admin/item/{crowded.lamp.id}", posted)
    assert refused.status_code == 422
    assert field_error(refused.text, "field-tags") == f"{spare['teal']} is both added and removed; choose one."
    assert await snapshot(db) == before


async def test_an_account_that_may_only_view_cannot_list_or_change_links(client, db, crowded, spare):
    await add_account(db, "viewer", permissions=("item.view", "tag.view"))
    viewer = Admin(client)
    assert (await viewer.sign_in("viewer")).status_code == 303
    assert (await viewer.open(f"/admin/item/{crowded.lamp.id}/links/tags")).status_code == 403
    before = await snapshot(db)
    posted = {"tags__add": str(spare["teal"]), "tags__remove": str(crowded.red.id), "_version": "1"}
    assert (await viewer.submit(f"/admin/item/{crowded.lamp.id}", posted)).status_code == 403
    assert await snapshot(db) == before


async def test_changes_without_the_csrf_token_are_refused(browser, db, crowded, spare):
    before = await snapshot(db)
    refused = await browser.client.post(
        f"/admin/item/{crowded.lamp.id}",
        data={"tags__add": str(spare["teal"]), "_version": "1"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert await snapshot(db) == before


# -- history and undo --------------------------------------------------------------------------------------


async def test_the_history_names_what_was_added_and_removed_and_undo_puts_it_back(browser, db, crowded, spare):
    page, form = await open_form(browser, crowded)
    (red, _), (first, _) = LINKED_BOX.findall(page)[:2]
    posted = edited(form, tags__add=[spare["teal"], spare["amber"]], tags__remove=[red, first])
    assert (await browser.submit(f"/admin/item/{crowded.lamp.id}", posted)).status_code == 303

    async with db() as session:
        entry = await session.scalar(select(AdminLogEntry).where(AdminLogEntry.action == "update"))
    added, removed = sorted([spare["teal"], spare["amber"]]), sorted([int(red), int(first)])
    assert entry.changes == {"tags": {"added": added, "removed": removed}}, "the change, not 3,000 keys twice"

    history = (await browser.open(f"/admin/item/{crowded.lamp.id}/history")).text
    assert f"Added {added[0]}, {added[1]}; removed {removed[0]}, {removed[1]}</td>" in history
    assert ">Undo this change</button>" in history and html_problems(history) == []
    undone = await browser.submit(f"/admin/item/{crowded.lamp.id}/undo", {"entry": str(entry.id)})
    assert undone.status_code == 303
    assert await lamp_tags(db, crowded) == everything_but_tags(), "every link back as it was"
    assert (await lamp(db, crowded)).version == 3

    history = (await browser.open(undone.headers["location"])).text
    assert "The change to the item “Lamp” was undone." in history
    assert f"Added {removed[0]}, {removed[1]}; removed {added[0]}, {added[1]}</td>" in history, "the undo's own"
    assert "Undone since." in history and len(history) < PAGE_BUDGET
    again = await browser.submit(f"/admin/item/{crowded.lamp.id}/undo", {"entry": str(entry.id)})
    assert again.status_code == 409 and "This change has been undone already." in again.text


async def test_an_undo_is_refused_when_the_links_changed_again_since(browser, db, crowded, spare):
    _, form = await open_form(browser, crowded)
    assert (
        await browser.submit(f"/admin/item/{crowded.lamp.id}", edited(form, tags__add=[spare["teal"]]))
    ).status_code == 303
    async with db() as session:
        entry = await session.scalar(select(AdminLogEntry).where(AdminLogEntry.action == "update"))
    _, form = await open_form(browser, crowded)
    assert (
        await browser.submit(f"/admin/item/{crowded.lamp.id}", edited(form, tags__remove=[spare["teal"]]))
    ).status_code == 303
    before = await snapshot(db)
    refused = await browser.submit(f"/admin/item/{crowded.lamp.id}/undo", {"entry": str(entry.id)})
    assert refused.status_code == 409
    assert "Cannot undo: the field “Tags” has changed again since." in refused.text
    assert await snapshot(db) == before


async def test_a_deleted_record_comes_back_with_its_3000_links(browser, db, crowded):
    deleted = await browser.submit(f"/admin/item/{crowded.lamp.id}/delete", {})
    assert deleted.status_code == 303
    assert await lamp_tags(db, crowded) == set()
    async with db() as session:
        entry = await session.scalar(select(AdminLogEntry).where(AdminLogEntry.action == "delete"))
    restored = await browser.submit(f"/admin/item/{crowded.lamp.id}/restore", {"entry": str(entry.id)})
    assert restored.status_code == 303
    assert await lamp_tags(db, crowded) == everything_but_tags()
    history = (await browser.open(f"/admin/item/{crowded.lamp.id}/history")).text
    assert " and 2,980 more" in history and len(history) < PAGE_BUDGET and html_problems(history) == []
