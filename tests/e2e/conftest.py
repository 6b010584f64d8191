"""End-to-end tests: one real server process and one Chromium for the package, a fresh browser context per test.

Without Chromium at /usr/bin/chromium or the playwright package these tests skip with the reason;
with CI set they fail instead. Every page a test opens is watched for JavaScript errors.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from .support import (
    AXE_JS,
    EXPECTED_CONSOLE,
    VIEWPORT,
    Database,
    Server,
    install_axe,
    launched_chromium,
    missing_browser,
    running_server,
    signed_in_state,
)

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the end-to-end tests must run when CI is set: {reason}", pytrace=False)
    pytest.skip(f"end-to-end tests skipped: {reason}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="package")
def browser_ready() -> None:
    reason = missing_browser()
    if reason:
        _unavailable(reason)


@pytest.fixture(scope="package")
def server(browser_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    try:
        with running_server(tmp_path_factory.mktemp("e2e")) as running:
            yield running
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="package")
def chromium(browser_ready: None) -> Iterator[Browser]:
    with launched_chromium() as (_playwright, browser):
        yield browser


@pytest.fixture(scope="package")
def signed_in(chromium: Browser, server: Server) -> Any:
    """A signed-in session (its cookies), shared by the contexts of every test."""
    return signed_in_state(chromium, server.url)


@pytest.fixture(scope="package")
def database(server: Server) -> Iterator[Database]:
    db = Database(server.database_path)
    yield db
    db.close()


@pytest.fixture(scope="package")
def axe_js() -> Path:
    """The pinned axe-core script, installed from npm on first use."""
    if shutil.which("npm") is None:
        _unavailable("npm is needed to install axe-core")
    try:
        install_axe()
    except (RuntimeError, OSError, TimeoutError) as exc:
        _unavailable(f"cannot install axe-core: {exc}")
    return AXE_JS


class JavaScriptErrors:
    """Console errors and uncaught exceptions on every page of a context, but the expected 4xx lines."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.found.append(f"uncaught exception on {page.url}: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not EXPECTED_CONSOLE.search(message.text):
            self.found.append(f"console error on {message.page.url if message.page else '?'}: {message.text}")


@contextmanager
def _context(chromium: Browser, server: Server, errors: JavaScriptErrors, **options: Any) -> Iterator[BrowserContext]:
    options = {"viewport": VIEWPORT, "locale": "en-US", **options}
    context = chromium.new_context(base_url=server.url, **options)
    context.set_default_timeout(10_000)
    context.on("page", errors.watch)
    try:
        yield context
    finally:
        context.close()
    if errors.found:
        pytest.fail("JavaScript errors:\n" + "\n".join(errors.found) + "\n--- server log ---\n" + server.log_tail())


@pytest.fixture
def js_errors() -> JavaScriptErrors:
    """What the pages of this test logged as errors; the test fails on any left at its end."""
    return JavaScriptErrors()


@pytest.fixture
def context(chromium: Browser, server: Server, signed_in: Any, js_errors: JavaScriptErrors) -> Iterator[BrowserContext]:
    with _context(chromium, server, js_errors, storage_state=signed_in) as browser_context:
        yield browser_context


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def signed_out_page(chromium: Browser, server: Server, js_errors: JavaScriptErrors) -> Iterator[Page]:
    """A person who has not signed in yet."""
    with _context(chromium, server, js_errors) as browser_context:
        yield browser_context.new_page()


@pytest.fixture
def nojs_page(chromium: Browser, server: Server, signed_in: Any, js_errors: JavaScriptErrors) -> Iterator[Page]:
    """A person with JavaScript turned off: whole pages, plain form posts."""
    options = {"java_script_enabled": False, "storage_state": signed_in}
    with _context(chromium, server, js_errors, **options) as browser_context:
        yield browser_context.new_page()
