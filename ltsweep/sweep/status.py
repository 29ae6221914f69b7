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
