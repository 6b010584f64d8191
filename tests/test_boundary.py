"""The admin core is a library: nothing under webapp/admin/ imports the app around it."""

from __future__ import annotations

import ast
from pathlib import Path

ADMIN = Path(__file__).resolve().parent.parent / "webapp" / "admin"


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append((node.lineno, "." * node.level + (node.module or "")))
    return found


def test_the_admin_core_imports_nothing_of_the_app_around_it():
    modules = sorted(ADMIN.rglob("*.py"))
    assert len(modules) > 20, "the walk found the package"
    outside = [
        f"{path.relative_to(ADMIN.parent.parent)}:{line} imports {name}"
        for path in modules
        for line, name in _imports(path)
        if name.startswith("..") or (name.split(".")[0] == "webapp" and name.split(".")[:2] != ["webapp", "admin"])
    ]
    assert outside == []


def test_the_walk_sees_an_import_of_the_host(tmp_path):
    """The check above can fail: a module that imports the demo is reported."""
    module = tmp_path / "bad.py"
    module.write_text(
        "import os\nfrom webapp.demo.models import Item\nimport webapp.db\nfrom webapp.admin import site\n"
    )
    names = [name for _, name in _imports(module)]
    assert names == ["os", "webapp.demo.models", "webapp.db", "webapp.admin"]
