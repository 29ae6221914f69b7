"""The demo's price: ``ltsweep run demo`` as shipped (three seeds, compiled, transfers at levels
1/3/5) vs the demo before (two seeds, eager, every level), whole runs alternated into fresh
directories; about 20 minutes a pair on an idle 2-core machine. The compile cache is the node's
own, as for a user.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bench import procs
from bench.common import REPO_ROOT, interleave, make_row

DEMO = REPO_ROOT / "search_spaces" / "demo.yaml"


def two_seed_eager(dest: Path) -> Path:
    """The demo as it was: two seeds, eager steps, transfers at every level."""
    raw = yaml.safe_load(DEMO.read_text())
    raw.update(seeds=[0, 1], compile=False, name="demo_eager_2seeds")
    raw.get("transfer", {}).pop("levels", None)
    path = dest / "demo_eager_2seeds.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run(repeats: int = 1, quick: bool = False) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="ltsweep-bench-demo-") as tmp:
        work, load = Path(tmp), []
        sweeps = {"eager2": two_seed_eager(work), "compiled3": DEMO}
        if quick:  # one epoch, one level: checks the pair runs, says nothing of the price
            sweeps = {tag: procs.quick_variant(path, work) for tag, path in sweeps.items()}

        def one(tag: str) -> float:
            load.append(os.getloadavg()[0])
            seconds = procs.run_sweep(sweeps[tag], work / tag, work / "log.txt", timeout=5400)
            print(f"bench demo: {tag} took {seconds:.0f} s (load {load[-1]:.1f})", flush=True)
            return seconds

        base, cand = interleave(lambda: one("eager2"), lambda: one("compiled3"), repeats, 0)
        fallbacks = (work / "log.txt").read_text(errors="replace").count("compile unavailable")
    notes = (
        f"1-min load average at each start: {', '.join(f'{x:.1f}' for x in load)}; 'compile "
        f"unavailable' lines: {fallbacks}; ratio = 3-seed compiled / 2-seed eager, pair by pair"
    )
    name = f"demo: ltsweep run demo{' (quick variant)' if quick else ''}"
    before = "2 seeds, eager (the demo before)"
    shipped = "3 seeds, compiled, transfers at levels 1/3/5 (shipped)"
    return [make_row(name, "sweep wall time", "s", before, base, shipped, cand, "<= 1.1", notes)]
