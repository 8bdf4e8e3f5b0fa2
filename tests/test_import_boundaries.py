"""engine/ is the functional core: it may import the standard library's pure modules and itself, and
nothing that does I/O, keeps time or belongs to the shell."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "engine"

FORBIDDEN_ROOTS = {
    "server",
    "clients",
    "asyncio",
    "socket",
    "time",
    "datetime",
    "logging",
    "random",
    "threading",
    "subprocess",
    "os",
    "io",
    "pathlib",
    "grpc",
    "pymongo",
    "aiohttp",
    "aiosqlite",
    "sqlite3",
    "structlog",
    "urllib",
    "http",
    "requests",
    "secrets",
    "uuid",
}


def _imported_roots(source: str) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def _engine_modules() -> list[Path]:
    return sorted(ENGINE.rglob("*.py"))


def test_engine_has_modules() -> None:
    assert _engine_modules(), "engine/ has no modules to check"


@pytest.mark.parametrize("module", _engine_modules(), ids=lambda p: p.name)
def test_engine_module_imports_nothing_that_does_io(module: Path) -> None:
    forbidden = _imported_roots(module.read_text()) & FORBIDDEN_ROOTS
    assert not forbidden, f"{module.name} imports {sorted(forbidden)}"


def test_boundary_check_catches_a_forbidden_import() -> None:
    assert _imported_roots("import asyncio\nfrom server.x import y\n") & FORBIDDEN_ROOTS == {
        "asyncio",
        "server",
    }
