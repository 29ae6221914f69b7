"""Plan reuse: trainings a sweep needs as planned vs the naive count (a count, no timing).
Each target's own IMP run is its ``same`` baseline and its level 0 its ``dense`` one
(ltsweep/sweep/plan.py); ratio = planned / naive.
"""

from __future__ import annotations

from typing import Any

from bench.common import REPO_ROOT, make_row

NAME = "plan"
PREFERRED = "grid_full"
FALLBACK = "demo"


def counts(sweep_name: str) -> tuple[int, int, int, int]:
    """(planned trainings, naive trainings, planned epochs, trials) of a shipped sweep."""
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan

    plan = build_plan(load_sweep(REPO_ROOT / "search_spaces" / f"{sweep_name}.yaml"))
    planned = sum(t.trainings for t in plan.trials)
    return planned, plan.naive_trainings(), sum(t.epochs for t in plan.trials), len(plan.trials)


def run(repeats: int = 5, quick: bool = False) -> list[dict[str, Any]]:
    name, note = PREFERRED, ""
    if not (REPO_ROOT / "search_spaces" / f"{PREFERRED}.yaml").exists():
        name = FALLBACK
        note = (
            f"search_spaces/{PREFERRED}.yaml does not exist yet: counted {FALLBACK}.yaml instead; "
        )
    planned, naive, epochs, trials = counts(name)
    notes = (
        f"{note}{trials} trials, {planned} trainings ({epochs} epochs at most) planned; "
        f"{naive - planned} trainings saved by reusing generation runs as same-target and "
        "dense baselines; a count, not a timing: one exact value"
    )
    return [
        make_row(
            f"{NAME}: trainings in {name}", "trainings", "trainings",
            "naive (baselines trained again)", [float(naive)], "planned by ltsweep",
            [float(planned)], "< 1", notes,
        )
    ]  # fmt: skip
