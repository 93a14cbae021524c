"""The package's import graph: no cycles, and the core never imports the widgets or the workflow.

Every ``import`` of a posekit module counts, at the top of a module or inside a
function (a lazy import still ties the two modules together). Importing a package
counts as importing its ``__init__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "posekit"
# Layers that may import the widgets (the widgets themselves, and the verbs that show them).
UPPER = ("posekit.widgets", "posekit.workflow")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The posekit modules ``path`` imports (``from a.b import c`` -> a.b.c if a module, else a.b)."""
    found = set()
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: the package, up level - 1 steps, then the module
                parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parents + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    return {name: _imports(path, modules) - {name} for name, path in files.items()}


def test_core_never_imports_widgets_or_workflow(graph):
    bad = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module != "posekit" and not module.startswith(UPPER)
        for target in targets
        if target.startswith(UPPER)
    )
    assert not bad, "\n".join(bad)


def test_widgets_never_import_the_workflow(graph):
    bad = sorted(f"{m} imports {t}" for m, ts in graph.items() if m.startswith("posekit.widgets")
                 for t in ts if t.startswith("posekit.workflow"))
    assert not bad, "\n".join(bad)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a list of modules), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles(graph):
    # A package's __init__ re-exporting its own modules is not a cycle of logic: leave
    # out edges from a package to its submodules.
    edges = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    cycle = _cycle(edges)
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
