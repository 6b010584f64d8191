"""The vendored htmx: the version and checksum the README records, served to the browser."""

from __future__ import annotations

import hashlib
import re

import pytest

from webapp.admin.resources import STATIC_DIR

pytestmark = pytest.mark.anyio

README = (STATIC_DIR.parent / "README.md").read_text()


def test_vendored_htmx_matches_the_readme():
    data = (STATIC_DIR / "vendor" / "htmx.min.js").read_bytes()
    recorded = re.search(r"htmx\.org@(2\.\d+\.\d+).*?sha256 `([0-9a-f]{64})`", README, re.S)
    assert recorded, "README must record the htmx version and sha256"
    version, digest = recorded.groups()
    assert hashlib.sha256(data).hexdigest() == digest
    assert (
        f'version:"{version}"' in data.decode() or f"version: '{version}'" in data.decode() or version in data.decode()
    )


async def test_pages_load_htmx_and_the_stylesheet(browser):
    page = await browser.open("/admin/")
    assert '<script src="/admin/static/vendor/htmx.min.js" defer></script>' in page.text
    script = await browser.open("/admin/static/vendor/htmx.min.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    css = await browser.open("/admin/static/admin.css")
    assert css.status_code == 200


async def test_pages_configure_htmx_to_swap_422(browser):
    page = await browser.open("/admin/")
    assert '{"code":"422","swap":true}' in page.text
    assert 'hx-headers=\'{"x-csrftoken": "' in page.text
