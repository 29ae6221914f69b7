"""The demo's price: ``ltsweep run demo`` as shipped (three seeds, compiled, transfers at levels
1/3/5) vs the demo before (two seeds, eager, every level), whole runs alternated into fresh
directories; wall seconds, target ratio <= 1.1; about 20 minutes a pair on an idle 2-core machine
(bench/README.md, "demo"). The compile cache is the node's own, as for a user.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bench import procs
from bench.common import REPO_ROOT, interleave, make_row

NAME = "demo"
DEMO = REPO_ROOT / "search_spaces" / "demo.yaml"


def two_seed_eager(dest: Path) -> Path:
    """The demo as it was: two seeds, eager steps, transfers at every level."""
    raw = yaml.safe_load(DEMO.read_text())
    raw["seeds"] = [0, 1]
    raw["compile"] = False
    raw.get("transfer", {}).pop("levels", None)
    raw["name"] = "demo_eager_2seeds"
    path = dest / "demo_eager_2seeds.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run(repeats: int = 1, quick: bool = False) -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="ltsweep-bench-demo-"))
    log = work / "log.txt"
    baseline_sweep = two_seed_eager(work)
    sweeps = {"eager2": baseline_sweep, "compiled3": DEMO}
    if quick:  # one epoch, one level: checks the pair runs, says nothing of the price
        sweeps = {tag: procs.quick_variant(path, work) for tag, path in sweeps.items()}
    load: list[float] = []

    def one(tag: str) -> float:
        out = work / tag
        shutil.rmtree(out, ignore_errors=True)
        load.append(os.getloadavg()[0])
        seconds = procs.run_cli(["run", str(sweeps[tag]), "--out", str(out)], log, timeout=5400)
        shutil.rmtree(out, ignore_errors=True)
        print(f"bench demo: {tag} took {seconds:.0f} s (load {load[-1]:.1f})", flush=True)
        return seconds

    try:
        base, cand = interleave(lambda: one("eager2"), lambda: one("compiled3"), repeats, warmup=0)
        fallbacks = log.read_text(errors="replace").count("compile unavailable")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    notes = (
        f"1-min load average at each start: {', '.join(f'{x:.1f}' for x in load)}; 'compile "
        f"unavailable' lines: {fallbacks}; ratio = 3-seed compiled / 2-seed eager, pair by pair"
    )
    return [
        make_row(
            f"{NAME}: ltsweep run demo{' (quick variant)' if quick else ''}", "sweep wall time",
            "s", "2 seeds, eager (the demo before)", base,
            "3 seeds, compiled, transfers at levels 1/3/5 (shipped)", cand, "<= 1.1", notes,
        )
    ]  # fmt: skip
