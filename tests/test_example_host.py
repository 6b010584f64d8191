"""The README's embedding example (docs/example_host.py), run as its reader would, from the package as it
installs: the wheel is built and installed into a fresh virtualenv outside the checkout (which reuses the
checkout's installed dependencies, so nothing downloads); then migrate, make an account, serve it for real,
sign in, add a record with a form post and see the list with its CSS and htmx."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _run(*command: str | Path, **options: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=300, **options)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv outside the checkout with the wheel installed: its Python."""
    place = tmp_path_factory.mktemp("installed")
    _run(sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "--no-build-isolation", "-q", "-w", place / "dist")
    (wheel,) = (place / "dist").glob("webapp-*.whl")
    _run(sys.executable, "-m", "venv", place / "venv")
    python = place / "venv" / "bin" / "python"
    site_packages = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    # The checkout's dependencies, after the venv's own packages (so the wheel's webapp comes first).
    outer = next(p for p in sys.path if p.endswith("site-packages"))
    (Path(site_packages) / "checkout_dependencies.pth").write_text(f"import site; site.addsitedir({outer!r})\n")
    _run(python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel)
    return python


def test_the_wheel_holds_the_templates_static_files_and_migrations(installed, tmp_path):
    where = _run(installed, "-c", SHOW_RESOURCES, cwd=tmp_path).stdout.split()
    assert all("/venv/lib/" in path for path in where), where
    assert not any(path.startswith(str(ROOT)) for path in where), "read from the installed package"


SHOW_RESOURCES = """
import webapp.admin, webapp.admin.resources as r
print(webapp.admin.__file__, r.TEMPLATES_DIR / 'admin' / 'base.html', r.STATIC_DIR / 'vendor' / 'htmx.min.js')
assert (r.TEMPLATES_DIR / 'admin' / 'base.html').is_file() and (r.STATIC_DIR / 'vendor' / 'htmx.min.js').is_file()
assert list((r.MIGRATIONS_DIR / 'versions').glob('*_admin_tables_*.py'))
"""


def _litestar(python: Path, cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [python, "-m", "litestar", "--app-dir", DOCS, "--app", "example_host:app", *args]
    return subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def served(installed: Path, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}},
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/books.sqlite3",
        "SECRET_KEY": "an example secret",
    }
    migrated = _litestar(installed, tmp_path, env, "database", "upgrade", "--no-prompt")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    made = _litestar(
        installed, tmp_path, env, "admin", "create-user", "--username", "me", "--password", "a long password"
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert "Created superuser 'me'." in made.stdout
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "litestar",
            "--app-dir",
            str(DOCS),
            "--app",
            "example_host:app",
            "run",
            "--port",
            str(port),
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/admin/login", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base, env
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def test_the_example_host_serves_the_admin(served):
    base, _ = served
    with httpx.Client(base_url=base, follow_redirects=False) as browser:
        login = browser.get("/admin/login")
        token = browser.cookies["csrftoken"]
        assert 'name="_csrf_token"' in login.text
        signed_in = browser.post(
            "/admin/login", data={"username": "me", "password": "a long password", "_csrf_token": token}
        )
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/admin/"
        created = browser.post("/admin/book/", data={"title": "Dune", "pages": "412", "_csrf_token": token})
        assert created.status_code == 303 and created.headers["location"] == "/admin/book/"
        listed = browser.get("/admin/book/")
        assert listed.status_code == 200 and "Dune" in listed.text and "412" in listed.text
        for asset in re.findall(r'(?:href|src)="(/admin/static/[^"]+)"', listed.text):
            fetched = browser.get(asset)
            assert fetched.status_code == 200 and fetched.content, asset
        assert "/admin/static/admin.css" in listed.text and "/admin/static/vendor/htmx.min.js" in listed.text
        assert browser.get("/admin/static/vendor/htmx.min.js").headers["content-type"].startswith("text/javascript")
