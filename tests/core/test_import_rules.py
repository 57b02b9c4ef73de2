"""The layout is the architecture: folders are floors and imports run down only (design.md).

Walks the AST of every module of the packages and fails on an import that runs up or
sideways. Imports inside `workflow.unsafe.imports_passed_through()` count like any other:
a workflow may name activities only by reference, and those references are the one
sideways arrow the design allows (`workflows/` → `activities/`, passed through the sandbox).
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Package → the project packages it may import (itself always allowed).
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "db": frozenset({"core"}),
    "workflows": frozenset({"core", "activities"}),
    "activities": frozenset({"core", "db"}),
    "api": frozenset({"core", "db", "workflows"}),
    "docket": frozenset({"core", "db", "workflows", "activities", "api"}),
}
PROJECT = frozenset(ALLOWED)


def modules() -> list[Path]:
    return sorted(p for package in ALLOWED for p in (ROOT / package).rglob("*.py"))


def imported(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def violations(package: str, source: str) -> list[str]:
    allowed = ALLOWED[package] | {package}
    return [
        f"line {line} imports {name}"
        for line, name in imported(ast.parse(source))
        if name.split(".")[0] in PROJECT and name.split(".")[0] not in allowed
    ]


def test_every_package_is_walked() -> None:
    assert {p.relative_to(ROOT).parts[0] for p in modules()} == set(ALLOWED)
    assert len(modules()) > 40


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_down(path: Path) -> None:
    package = path.relative_to(ROOT).parts[0]
    assert violations(package, path.read_text()) == []


def test_an_upward_import_is_caught() -> None:
    """The checker finds arrows that run up, even inside functions (so the test can fail)."""
    source = "\n".join(
        ["from api.app import create_app", "def f():", "    import workflows.parse", "import core"]
    )
    assert violations("db", source) == ["line 1 imports api.app", "line 3 imports workflows.parse"]
    assert violations("core", "import db.pool\n") == ["line 1 imports db.pool"]
    assert violations("docket", source) == []


SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|CREATE\s+DATABASE)\b",
    re.I | re.S,
)


@pytest.mark.parametrize(
    "path",
    [p for p in modules() if p.relative_to(ROOT).parts[0] != "db"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_sql_text_outside_db(path: Path) -> None:
    """db/ owns every statement; the other packages call its functions."""
    found = [
        node.value[:60]
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)
    ]
    assert found == []
