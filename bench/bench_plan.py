"""Plan reuse: trainings search_spaces/grid_full.yaml needs as planned vs the naive count (a
count, no timing). Each target's own IMP run is its ``same`` baseline and its level 0 its
``dense`` one (ltsweep/sweep/plan.py); ratio = planned / naive.
"""

from __future__ import annotations

from typing import Any

from bench.common import REPO_ROOT, make_row
from bench.procs import load_plan


def run(repeats: int = 5, quick: bool = False) -> list[dict[str, Any]]:
    plan = load_plan(REPO_ROOT / "search_spaces" / "grid_full.yaml")
    planned, naive = sum(t.trainings for t in plan.trials), plan.naive_trainings()
    notes = (
        f"{len(plan.trials)} trials, {planned} trainings ({sum(t.epochs for t in plan.trials)} "
        f"epochs at most) planned; {naive - planned} trainings saved by reusing generation runs "
        "as same-target and dense baselines; a count, not a timing: one exact value"
    )
    name, naive_label = "plan: trainings in grid_full", "naive (baselines trained again)"
    figures = naive_label, [float(naive)], "planned by ltsweep", [float(planned)]
    return [make_row(name, "trainings", "trainings", *figures, "< 1", notes)]
