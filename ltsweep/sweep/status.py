"""Where a sweep stands, from its own records: done / running / failed / left per stage.

A done record (``storage.done``) decides "done"; a failed record "failed"; "running" is what the
tracking store shows RUNNING while a live driver holds the sweep's lock, passed in by the caller
(``tracking.sweep_store.running_keys``), so this module needs neither MLflow nor Ray.
"""

from __future__ import annotations

from ltsweep.storage.done import has_done, read_failed
from ltsweep.storage.paths import SweepPaths
from ltsweep.sweep.plan import Plan
from ltsweep.sweep.trial import GENERATE, TRANSFER

StageCounts = dict[str, int]  # "done", "running", "failed", "left"


def done_keys(plan: Plan, paths: SweepPaths) -> set[str]:
    """The planned trials with a done record: asked once, then shared by the counts and the
    measured rates (on a bucket every look-up is a request)."""
    return {t.key for t in plan.trials if has_done(paths, t.key)}


def stage_counts(
    plan: Plan, paths: SweepPaths, done: set[str], running: set[str]
) -> dict[str, StageCounts]:
    """Per stage, how many planned trials are done, running, failed and left."""
    out = {}
    for stage, trials in ((GENERATE, plan.generation), (TRANSFER, plan.transfer)):
        counts = {"done": 0, "running": 0, "failed": 0, "left": 0}
        for t in trials:
            if t.key in done:
                counts["done"] += 1
            elif t.key in running:
                counts["running"] += 1
            elif read_failed(paths, t.key) is not None:
                counts["failed"] += 1
            else:
                counts["left"] += 1
        out[stage] = counts
    return out


def recorded_counts(paths: SweepPaths) -> dict[str, StageCounts] | None:
    """Counts for a store copied without its sweep file, from the plan ``run`` recorded there
    (``storage.plan_keys``); None when there is no output or it records no plan. Nothing can be
    known to run without the sweep's driver, so "running" is 0."""
    from ltsweep.storage.plan_keys import read_plan_keys
    from ltsweep.sweep.files import has_output

    if not has_output(paths):
        return None
    plan = read_plan_keys(paths)
    if plan is None:
        return None
    out = {}
    for stage, keys in ((GENERATE, list(plan.generation)), (TRANSFER, plan.transfer)):
        done = sum(1 for k in keys if has_done(paths, k))
        failed = sum(1 for k in keys if not has_done(paths, k) and read_failed(paths, k))
        out[stage] = {
            "done": done,
            "running": 0,
            "failed": failed,
            "left": len(keys) - done - failed,
        }
    return out
