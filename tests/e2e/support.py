"""What the end-to-end tests and the screenshot script share: the server process, Chromium, the database.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright; `playwright install` is never needed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, selectinload

from tests.processes import APP, run_python, uvicorn_workers
from webapp.demo.models import Item, Tag, User

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # conftest skips the e2e tests with this reason, or fails them when CI is set
    expect = None
    sync_playwright = None

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Playwright

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "e2e-secret-key-not-for-production"
# The first account, made by `litestar admin ensure-superuser` from ADMIN_USERNAME/ADMIN_PASSWORD.
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "e2e-password-not-a-secret"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
VIEWPORT = {"width": 1280, "height": 900}

# axe-core from npm, pinned; installed on first use into a folder git ignores (.venv/), never committed.
AXE_VERSION = "4.14.1"
AXE_DIR = ROOT / ".venv" / "e2e-node"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"

# Chromium logs every 4xx answer as a console error; these ones are the app's expected answers.
EXPECTED_CONSOLE = re.compile(r"Failed to load resource: the server responded with a status of (404|409|422)\b")


def missing_browser() -> str | None:
    """Why the end-to-end tests cannot run here, or None."""
    if sync_playwright is None:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


@contextmanager
def launched_chromium() -> Iterator[tuple[Playwright, Browser]]:
    assert sync_playwright is not None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield playwright, browser
        finally:
            browser.close()


# -- the server ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    url: str
    database_path: Path
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running_server(directory: Path) -> Iterator[Server]:
    """Migrate and seed a fresh SQLite database in `directory`, serve it with uvicorn, stop it at the end."""
    database = directory / "e2e.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "SECRET_KEY": SECRET_KEY,
        "ADMIN_USERNAME": ADMIN_USERNAME,
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    env.pop("DEBUG", None)
    run_python(["-m", "litestar", "--app", APP, "database", "upgrade", "--no-prompt"], env)
    run_python(["-m", "webapp.demo.seed"], env)
    run_python(["-m", "litestar", "--app", APP, "admin", "ensure-superuser"], env)
    with uvicorn_workers(env, directory, ready_path="/admin/") as (url,):
        yield Server(url, database, directory / "worker-0.log")


def sign_in(page: Page) -> None:
    """Sign in as the first account on the login page the admin redirects to."""
    assert expect is not None
    page.locator("#username").fill(ADMIN_USERNAME)
    page.locator("#password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#password")).to_have_count(0)


def signed_in_state(browser: Browser, base_url: str) -> Any:
    """Cookies of a signed-in session, for `new_context(storage_state=...)`: one sign-in serves every context."""
    context = browser.new_context(base_url=base_url)
    try:
        page = context.new_page()
        page.goto("/admin/")
        sign_in(page)
        return context.storage_state()
    finally:
        context.close()


# -- the database, to arrange rows and to read what the app wrote ---------------------------------------------


class Database:
    def __init__(self, path: Path) -> None:
        self._engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 10})

    def close(self) -> None:
        self._engine.dispose()

    def add_item(
        self,
        name: str,
        *,
        price: str = "9.99",
        owner: str = "ada01",
        tags: tuple[str, ...] = (),
        description: str | None = None,
    ) -> int:
        """A new item, the newest one, so it is the first row of the default list."""
        with Session(self._engine) as session, session.begin():
            user = session.scalars(select(User).where(User.username == owner)).one()
            chosen = list(session.scalars(select(Tag).where(Tag.name.in_(tags)))) if tags else []
            item = Item(name=name, price=Decimal(price), owner=user, tags=chosen, description=description)
            session.add(item)
            session.flush()
            return item.id

    def item(self, pk: int) -> Item | None:
        with Session(self._engine, expire_on_commit=False) as session:
            return session.scalars(select(Item).options(selectinload(Item.tags)).where(Item.id == pk)).one_or_none()

    def tag_names(self, pk: int) -> list[str]:
        item = self.item(pk)
        assert item is not None, f"item {pk} is gone"
        return [tag.name for tag in item.tags]


def unique(prefix: str) -> str:
    """A name no other test uses, so tests can run in any order against one database."""
    return f"{prefix} {uuid.uuid4().hex[:8]}"


# -- what a person sees --------------------------------------------------------------------------------------


def mark(page: Page) -> None:
    """Remember this document: a full page load forgets the marker, an htmx swap keeps it."""
    page.evaluate("window.__marker = 1")


def assert_no_page_load(page: Page) -> None:
    assert page.evaluate("window.__marker") == 1, "a full page load happened where htmx should have swapped"


def settled(page: Page) -> None:
    """Wait until htmx is done: no request in flight, the new content swapped, settled and wired up.

    Chromium focuses a swapped-in `autofocus` input at once, but htmx attaches the new row's triggers
    (Enter, Escape, click) only when it settles, 20 ms later: a key pressed in between would be lost.
    """
    page.wait_for_function(
        "() => window.htmx && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def _column(page: Page, label: str) -> int:
    """Where the list column headed `label` is (the headers may be preceded by a selection column)."""
    index = page.locator("table.results > thead th").evaluate_all(
        "(headers, label) => headers.findIndex((th) => th.textContent.trim() === label)", label
    )
    assert index >= 0, f"the list has no column {label!r}"
    return index


def cell(row: Locator, label: str) -> Locator:
    """The cell of a list row in the column headed `label`."""
    return row.locator(":scope > td").nth(_column(row.page, label))


def column_texts(page: Page, label: str) -> list[str]:
    """The text of every row's cell in the column headed `label`, top to bottom."""
    return page.locator("#rows > tr").evaluate_all(
        "(rows, index) => rows.map((tr) => tr.children[index].innerText.trim())", _column(page, label)
    )


def result_count(page: Page) -> int:
    return int(page.locator("#result-count").inner_text().replace(",", ""))


def expect_count(page: Page, value: int) -> None:
    assert expect is not None
    expect(page.locator("#result-count")).to_have_text(f"{value:,}")


def run_axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now."""
    page.add_script_tag(path=str(AXE_JS))
    return page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"][:5]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node['html'][:160]}")
        if len(violation["nodes"]) > 5:
            lines.append(f"    … and {len(violation['nodes']) - 5} more")
    return "\n".join(lines)


def installed_axe_version() -> str | None:
    package = AXE_JS.parent / "package.json"
    if not package.is_file() or not AXE_JS.is_file():
        return None
    return json.loads(package.read_text())["version"]


def install_axe() -> None:
    """`npm install` the pinned axe-core into AXE_DIR; no package.json or lock file is written."""
    if installed_axe_version() == AXE_VERSION:
        return
    command = [
        "npm",
        "install",
        "--no-save",
        "--no-package-lock",
        "--no-audit",
        "--no-fund",
        "--prefix",
        str(AXE_DIR),
        f"axe-core@{AXE_VERSION}",
    ]
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode or installed_axe_version() != AXE_VERSION:
        raise RuntimeError(f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stdout}{done.stderr}")
