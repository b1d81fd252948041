"""The layers hold: imports run one way, and none hides inside a function.

``lint-imports`` checks the contracts in pyproject.toml over the ``dashboard``
and ``sandbox`` packages; the design card's top-level modules, which
import-linter cannot take as roots, are checked here from their own imports.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("app", "config", "oauth_handler", "tiktok_official_api", "tiktok_research_api", "dashboard",
           "sandbox")
#: What each top-level module may import of the project (the layers below it).
TOP_LEVEL_MAY_IMPORT = {
    "tiktok_official_api": set(),
    "tiktok_research_api": {"tiktok_official_api"},
    "oauth_handler": {"tiktok_official_api", "dashboard.storage", "dashboard.urls"},
    "config": {"dashboard.urls", "sandbox"},
}
WEB_FRAMEWORK = ("flask", "flask_babel", "flask_wtf", "flask_limiter", "werkzeug")


def _imports(path: Path):
    """(module, line, inside a function) for every import in a file."""
    tree = ast.parse(path.read_text(), str(path))
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                module = child.module or ""
                if child.level:  # relative: inside the file's own package
                    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-child.level])
                    module = f"{package}.{module}".rstrip(".")
                found.append((module, child.lineno, in_function))
            visit(child, inner)

    visit(tree, False)
    return found


def _project_files():
    for name in ("app.py", "config.py", "oauth_handler.py", "tiktok_official_api.py",
                 "tiktok_research_api.py"):
        yield ROOT / name
    for package in ("dashboard", "sandbox"):
        yield from sorted((ROOT / package).rglob("*.py"))


def test_import_contracts_hold():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    result = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module", sorted(TOP_LEVEL_MAY_IMPORT))
def test_top_level_modules_import_only_the_layers_below_them(module):
    allowed = TOP_LEVEL_MAY_IMPORT[module]
    for name, line, _inside in _imports(ROOT / f"{module}.py"):
        if name.split(".")[0] in PROJECT:
            assert any(name == a or name.startswith(a + ".") for a in allowed), f"{module}.py:{line} {name}"
        if module != "config":
            assert not name.startswith(WEB_FRAMEWORK), f"{module}.py:{line} imports {name}"


def test_no_project_module_is_imported_inside_a_function():
    hidden = []
    for path in _project_files():
        lines = path.read_text().splitlines()
        for name, line, inside in _imports(path):
            if inside and name.split(".")[0] in PROJECT and "# why:" not in lines[line - 1]:
                hidden.append(f"{path.relative_to(ROOT)}:{line} {name}")
    assert hidden == []
