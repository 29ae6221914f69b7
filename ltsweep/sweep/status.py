"""Where a sweep stands, from its own records: done / running / failed / left per stage.

A done record (``storage.done``) decides "done"; a failed record "failed"; "running" is what the
tracking store shows RUNNING while a live driver holds the sweep's lock, passed in by the caller
(``tracking.sweep_store.running_keys``), so this module needs neither MLflow nor Ray.
"""

from __future__ import annotations

from collections.abc import Iterable

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
    return {
        GENERATE: _counts((t.key for t in plan.generation), paths, done, running),
        TRANSFER: _counts((t.key for t in plan.transfer), paths, done, running),
    }


def _counts(
    keys: Iterable[str], paths: SweepPaths, done: set[str], running: set[str]
) -> StageCounts:
    counts = {"done": 0, "running": 0, "failed": 0, "left": 0}
    for key in keys:
        if key in done:
            counts["done"] += 1
        elif key in running:
            counts["running"] += 1
        elif read_failed(paths, key) is not None:
            counts["failed"] += 1
        else:
            counts["left"] += 1
    return counts


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
    done = {k for k in plan.trial_keys if has_done(paths, k)}  # asked once per key
    return {
        GENERATE: _counts(plan.generation, paths, done, set()),
        TRANSFER: _counts(plan.transfer, paths, done, set()),
    }
