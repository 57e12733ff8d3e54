"""The package's structure holds what docs/ARCHITECTURE.md says of it.

The layers themselves are import-linter's contracts (setup.cfg), which
scripts/test runs; these tests hold the rules a contract does not express.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "gateway"
LAYERS = ("crypto", "tlog", "store", "node", "peers", "exchange", "http", "cli", "ops")
MAX_FUNCTION_LINES = 100


def _modules() -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" not in path.relative_to(PACKAGE).parts:
            yield path


def _under_type_checking(tree: ast.AST) -> set[int]:
    """Line numbers of the imports under ``if TYPE_CHECKING:``."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in (
            "TYPE_CHECKING",
            "typing.TYPE_CHECKING",
        ):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    lines.add(inner.lineno)
    return lines


def test_at_most_six_modules_stay_at_the_top_of_the_package():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 6, top


def test_each_subpackage_says_what_it_is_for_and_what_it_may_import():
    for name in LAYERS:
        assert (PACKAGE / name / "__init__.py").is_file(), f"gateway.{name} is not a package"
    for init in sorted(PACKAGE.rglob("__init__.py")):
        if init.parent == PACKAGE:
            continue
        name = ".".join(init.parent.relative_to(ROOT).parts)
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert len(doc) > 80, f"{name} has no docstring saying what it is for"
        assert "may import" in doc, f"{name}'s docstring does not say what it may import"


def test_no_import_cycle_between_modules():
    graph = grimp.build_graph("gateway", "schemas", exclude_type_checking_imports=True)
    # Tarjan's strongly connected components over the module import graph.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert cycles == []


def test_no_gateway_module_is_imported_inside_a_function():
    found = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = _under_type_checking(tree)
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if getattr(node, "lineno", None) in typing_only:
                    continue
                if (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
                    "gateway",
                    "schemas",
                )) or (isinstance(node, ast.Import) and any(
                    alias.name.split(".")[0] in ("gateway", "schemas") for alias in node.names
                )):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


@pytest.mark.parametrize("folder", ["gateway", "scripts"])
def test_no_function_is_over_a_hundred_lines(folder):
    long = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                # From its first decorator (a command's options are part of it) to its end.
                start = min([d.lineno for d in node.decorator_list] + [node.lineno])
                length = (node.end_lineno or node.lineno) - start + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} {length}")
    assert long == []


def test_crypto_imports_nothing_but_itself_the_top_modules_and_tlog():
    """What the crypto-pure contract says, seen from a fresh interpreter."""
    code = (
        "import sys, pkgutil, importlib, gateway.crypto\n"
        "for m in pkgutil.iter_modules(gateway.crypto.__path__, 'gateway.crypto.'):\n"
        "    importlib.import_module(m.name)\n"
        "heavy = ('flask', 'werkzeug', 'sqlalchemy', 'alembic', 'requests', 'apscheduler')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
