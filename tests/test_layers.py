"""The package layout, read from the source: imports point down, no import circle anywhere, Ray
only inside ``ltsweep.tune`` and MLflow only inside ``ltsweep.tracking``.

Lazy imports inside functions and ``TYPE_CHECKING`` blocks count too, so a back-edge cannot hide
behind a function-level import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ltsweep

PACKAGE = Path(ltsweep.__file__).parent
# Bottom up. "base" is the package's top-level modules (errors, hashing, fsio, strict, ...).
LAYERS = ("base", "core", "storage", "sweep", "tracking", "tune", "report", "commands", "cli")
OWNERS = {"ray": "tune", "mlflow": "tracking"}  # third-party library -> the one package using it


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "base"
    if parts[1] in ("cli", "__main__"):
        return "cli"
    return parts[1] if parts[1] in LAYERS else "base"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


GRAPH = {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _edges() -> dict[str, set[str]]:
    """Module -> the ltsweep modules it imports (names of packages count as the package)."""
    return {m: {n for n in names if n in GRAPH and n != m} for m, names in GRAPH.items()}


def test_the_graph_is_read_from_every_package() -> None:
    layers = {_layer(m) for m in GRAPH}
    assert layers == set(LAYERS), f"expected modules in every layer {LAYERS}, found {layers}"


def test_imports_point_down() -> None:
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    upward = [
        f"{module} ({_layer(module)}) imports {name} ({_layer(name)})"
        for module, names in _edges().items()
        for name in sorted(names)
        if rank[_layer(name)] > rank[_layer(module)]
    ]
    assert not upward, "imports must point down (" + " <- ".join(LAYERS) + "): " + "; ".join(upward)


def test_ray_and_mlflow_are_imported_only_in_their_own_packages() -> None:
    strays = [
        f"{module} imports {name}"
        for module, names in GRAPH.items()
        for name in sorted(names)
        if name.split(".")[0] in OWNERS and _layer(module) != OWNERS[name.split(".")[0]]
    ]
    assert not strays, "Ray belongs in ltsweep.tune, MLflow in ltsweep.tracking: " + "; ".join(
        strays
    )
    for library, owner in OWNERS.items():
        users = [m for m, names in GRAPH.items() if any(n.split(".")[0] == library for n in names)]
        assert users, f"no module imports {library}: the check above means nothing ({owner})"


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


def test_no_import_circle_anywhere() -> None:
    edges = _edges()
    for module in sorted(edges):
        # a package's __init__ importing its own modules is not a circle through them
        for name in sorted(edges[module]):
            if name.startswith(module + "."):
                continue
            back = _reaches(
                {m: {n for n in ns if not n.startswith(m + ".")} for m, ns in edges.items()},
                name,
                module,
            )
            assert back is None, f"import circle: {module} -> {' -> '.join(back)}"


def test_every_package_says_what_belongs_in_it() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.split()) >= 12, (
            f"{init.relative_to(PACKAGE.parent)} needs a docstring saying what belongs there"
        )
