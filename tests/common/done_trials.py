"""Trials done on disk without training, for the tracking and report tests: real tickets, done
records and MLflow runs, as ``ltsweep run`` leaves them."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path

from ltsweep.storage.paths import SweepPaths
from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.plan import Plan, build_plan
from ltsweep.sweep.trial import TrialAxes


def recorded_trials(tmp_path: Path) -> tuple:
    """One generation trial and one of its transfers, done on disk by the benchmark's
    no-training body (real tickets and done records), in a fresh SQLite store."""
    from bench.bench_driver import null_execute, sweep_yaml
    from ltsweep.storage.done import read_done
    from ltsweep.storage.paths import SweepPaths

    sweep = tmp_path / "scale.yaml"
    sweep.write_text(sweep_yaml(42))
    plan = build_plan(load_sweep(sweep))
    gen = plan.generation[0]
    xfer = next(t for t in plan.transfer if t.source_key == gen.key)
    paths = SweepPaths(tmp_path / "out")
    for trial in (gen, xfer):
        null_execute(trial, paths)
    return paths, [(t, read_done(paths, t.key)) for t in (gen, xfer)]


Accuracy = Callable[[TrialAxes], float]


def _with_accuracy(record: dict, axes: TrialAxes, accuracy: Accuracy) -> dict:
    """The record with every history's test accuracy set to ``accuracy(axes of that result)``."""
    record = copy.deepcopy(record)
    if "levels" not in record:
        for h in record["history"]:
            h["test_accuracy"] = accuracy(axes)
        return record
    for level in record["levels"]:
        lv = int(level["level"])
        kind = "dense" if lv == 0 else "same"
        source = None if kind == "dense" else axes.source
        result = dataclasses.replace(axes, kind=kind, level=lv, source=source)
        for h in level["history"]:
            h["test_accuracy"] = accuracy(result)
    return record


def record_plan(plan: Plan, paths: SweepPaths, uri: str, accuracy: Accuracy | None = None) -> None:
    """Every trial of ``plan`` done without training (``bench_driver.null_execute``: real tickets
    and done records), recorded in the MLflow store at ``uri`` as ``ltsweep run`` records them,
    and the plan's keys written to the store as ``run`` writes them. ``accuracy``: each result's
    test accuracy from its typed axes (default: the null body's 0.9 / 0.8)."""
    from bench.bench_driver import null_execute
    from ltsweep.storage.plan_keys import write_plan_keys
    from ltsweep.tracking import trial_runs
    from ltsweep.tracking.client import Tracker

    write_plan_keys(paths, plan.keys())
    tracker = Tracker(uri, plan.sweep.name, paths.artifacts)
    parent = tracker.find_or_create(f"sweep:{plan.sweep.name}", "sweep", {})
    for trial in plan.trials:
        record = null_execute(trial, paths)
        if accuracy is not None:
            record = _with_accuracy(record, trial.axes, accuracy)
        trial_dir = trial_runs.record_dir(paths, trial)
        trial_runs.finish_trial(tracker, trial, record, parent, trial_dir)
    tracker.flush_held()
