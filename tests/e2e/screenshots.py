"""Regenerate docs/screenshots/*.png from a freshly seeded demo database: `make screenshots`.

python -m tests.e2e.screenshots [output directory]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .support import ROOT, expect, launched_chromium, missing_browser, running_server, settled, signed_in_state

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

WIDE = {"width": 1300, "height": 900}
NARROW = {"width": 375, "height": 812}
# A seeded item with tags and a description (the seed is deterministic).
DETAIL_PK = 996


def list_with_refused_edit(page: Page) -> None:
    """The item list with its first row in inline edit, showing the message for a refused price."""
    page.goto("/admin/item/")
    row = page.locator("#rows > tr").first
    pk = (row.get_attribute("id") or "").removeprefix("item-")
    row.get_by_role("link", name="Edit").click()
    settled(page)
    page.locator(f"#item-{pk}-price").fill("-3")
    page.keyboard.press("Enter")
    settled(page)
    expect(page.locator(f"#item-{pk}-price-error")).to_be_visible()
    expect(page.locator(f"#item-{pk}-price")).to_be_focused()
    # Opening the row scrolls it to the top of the window (htmx scrolls boosted swaps into view); show the page.
    page.evaluate("window.scrollTo(0, 0)")


def shoot(browser: Browser, base_url: str, path: Path, open_page: Any, full_page: bool = False, **options: Any) -> None:
    context = browser.new_context(base_url=base_url, locale="en-US", **{"viewport": WIDE, **options})
    try:
        page = context.new_page()
        open_page(page)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    finally:
        context.close()
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def main(out: Path) -> None:
    reason = missing_browser()
    if reason:
        sys.exit(f"cannot take screenshots: {reason}")
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="screenshots-") as tmp,
        running_server(Path(tmp)) as server,
        launched_chromium() as (_playwright, browser),
    ):
        url = server.url
        session = {"storage_state": signed_in_state(browser, url)}
        shoot(browser, url, out / "dashboard.png", lambda page: page.goto("/admin/"), **session)
        shoot(browser, url, out / "list.png", list_with_refused_edit, **session)
        detail, edit = f"/admin/item/{DETAIL_PK}", f"/admin/item/{DETAIL_PK}/edit"
        shoot(browser, url, out / "detail.png", lambda page: page.goto(detail), full_page=True, **session)
        shoot(browser, url, out / "form.png", lambda page: page.goto(edit), full_page=True, **session)
        shoot(browser, url, out / "dark.png", lambda page: page.goto("/admin/item/"), color_scheme="dark", **session)
        narrow = {"viewport": NARROW, "is_mobile": True, "has_touch": True}
        shoot(browser, url, out / "narrow.png", lambda page: page.goto("/admin/item/"), **narrow, **session)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
