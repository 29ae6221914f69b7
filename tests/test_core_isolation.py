"""The core engine is plain PyTorch: importing it pulls in neither Ray nor MLflow; the storage
layer below the planner runs without the engine (no torch, no ``ltsweep.core``)."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import ltsweep

CORE = Path(ltsweep.__file__).parent / "core"
FORBIDDEN = ("ray", "mlflow")
UPPER = ("storage", "sweep", "tracking", "tune", "commands", "cli", "report", "bench")  # above core

PROBE = """
import json, sys
{imports}
print(json.dumps(sorted({{m if {ours} and m.startswith('ltsweep.') else m.split('.')[0]
                         for m in sys.modules}})))
"""


def _top_level_modules_after(imports: str, ours: bool = False) -> set[str]:
    """Top-level packages a fresh process holds after ``imports``; with ``ours``, every
    ``ltsweep`` module by its full name too."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(imports=imports, ours=ours)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_ray_and_mlflow_are_installed_so_the_check_means_something() -> None:
    assert all(importlib.util.find_spec(name) is not None for name in FORBIDDEN)


def test_importing_the_engine_imports_neither_ray_nor_mlflow() -> None:
    imports = "\n".join(
        [
            "import ltsweep.core.imp, ltsweep.core.transfer",
            "import ltsweep.core.tickets, ltsweep.core.checkpoint, ltsweep.core.jobs",
            "from ltsweep.core.models import create_model",
            "from ltsweep.core.data import get_spec, dataset_names",
            "create_model('vgg_tiny', num_classes=10); dataset_names(); get_spec('digits')",
        ]
    )
    loaded = _top_level_modules_after(imports)
    assert "torch" in loaded  # the probe really imported the engine
    assert not loaded & set(FORBIDDEN), loaded & set(FORBIDDEN)


def test_importing_the_package_is_cheap() -> None:
    """Ray imports ltsweep in every worker: the package itself must not import torch."""
    loaded = _top_level_modules_after("import ltsweep, ltsweep.errors, ltsweep.registry")
    assert not loaded & {"torch", "ray", "mlflow", "torchvision"}


def test_storage_imports_neither_torch_nor_the_engine() -> None:
    """Every storage module, the trial-directory layout it mirrors included, in a fresh process:
    the driver and ``status`` read stores without paying for torch."""
    root = CORE.parent
    storage = sorted(
        ".".join(p.relative_to(root.parent).with_suffix("").parts)
        for p in (root / "storage").rglob("*.py")
        if p.stem != "__init__"
    )
    imports = "\n".join(["import ltsweep.trial_layout"] + [f"import {name}" for name in storage])
    loaded = _top_level_modules_after(imports, ours=True)
    assert {"ltsweep.storage.staging", "ltsweep.storage.leases.gcs"} <= loaded, (
        "the probe did not import the storage layer"
    )
    engine = sorted(m for m in loaded if m == "torch" or m.startswith("ltsweep.core"))
    assert engine == [], f"importing ltsweep.storage loaded {engine}"


def test_core_source_imports_nothing_above_it() -> None:
    """No Ray or MLflow import anywhere in core, lazy ones inside functions included (the
    subprocess check cannot see those), and no import of the layers above core."""
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] in FORBIDDEN or (
                    parts[0] == "ltsweep" and parts[1:2] and parts[1] in UPPER
                ):
                    offenders.append(f"{path.relative_to(CORE)}: import {name}")
    assert offenders == []
