"""Imports point down: cli -> sweep -> runtime -> core, and core has no import circle.

Read from the source (lazy imports inside functions count too), so a back-edge cannot hide
behind a function-level import."""

from __future__ import annotations

import ast
from pathlib import Path

import ltsweep

PACKAGE = Path(ltsweep.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {name for name in found if name.startswith("ltsweep.")}


def _modules(layer: str) -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in sorted((PACKAGE / layer).rglob("*.py"))}


def test_runtime_and_core_never_import_the_planner_or_the_cli() -> None:
    above = ("ltsweep.sweep", "ltsweep.cli", "ltsweep.commands", "ltsweep.report")
    back_edges = [
        f"{module} imports {name}"
        for layer in ("runtime", "core")
        for module, names in _modules(layer).items()
        for name in sorted(names)
        if name.startswith(above)
    ]
    assert not back_edges, (
        "imports must point down (cli -> sweep -> runtime -> core): " + "; ".join(back_edges)
    )


def _reaches(edges: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """A path start -> ... -> goal, breadth first, or None."""
    parents, frontier = {start: start}, [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(edges[node]):
                if child not in parents:
                    parents[child] = node
                    nxt.append(child)
        if goal in parents:
            path = [goal]
            while path[-1] != start:
                path.append(parents[path[-1]])
            return path[::-1]
        frontier = nxt
    return None


def test_core_has_no_import_circle() -> None:
    graph = _modules("core")
    # ``from ltsweep.core.data import x`` names the package, ``from ltsweep.core.data.loaders
    # import y`` the module: keep the names that are modules of core.
    edges = {m: {n for n in names if n in graph and n != m} for m, names in graph.items()}
    for a in sorted(edges):
        for b in sorted(edges[a]):
            back = _reaches(edges, b, a)
            assert back is None, f"import circle in ltsweep/core: {a} -> {' -> '.join(back)}"
