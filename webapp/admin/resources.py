"""Where the admin's templates, static files and migrations live: inside the package in a wheel, at the
repository root (templates/, static/) in a checkout."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _resolve(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"{name}/ not found in {_PACKAGE} or at the repository root")


TEMPLATES_DIR = _resolve("templates")
STATIC_DIR = _resolve("static")
MIGRATIONS_DIR = _PACKAGE / "migrations"
