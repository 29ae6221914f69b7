"""A sweep whose first trial's worker dies while Ray Tune hands it the next trial.

``python -m tests.common.handoff_death SWEEP OUT RESULT`` runs ``run_trials`` on a private local Ray
with ``dies_at_handoff`` as the trial body and writes what came of it to ``RESULT`` (JSON).
Used by tests/test_retry.py; a module of its own so that Ray workers import it by name.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

MARKER = "handoff-death.json"  # in the sweep's output: written once, by the trial that dies


def dies_at_handoff(config: dict[str, Any], trials: dict, out: str, uri: str = "") -> None:
    """``tune_trainable``, except that the first trial to finish kills its worker process at
    the moment Tune hands that (reused) worker its next trial.

    How the moment is caught, with no timing: the trial reports ``done`` instead of returning,
    so its thread stays parked in ``tune.report`` while Tune caches the worker. Handing the
    worker a new trial runs Tune's ``reset`` on it, whose ``reset_config`` wakes that thread
    with ``SystemExit`` and waits for it to end: the thread exits the process right there, in
    the middle of ``reset``. The working directory then already names the trial handed over.
    """
    from ray import tune

    from ltsweep.tune.trainable import tune_trainable

    tune_trainable(config, trials, out, uri)
    try:
        fd = os.open(Path(out) / MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return  # one death per sweep: every later trial (the retries too) ends normally
    try:
        tune.report({"final": 1, "done": True})
    except SystemExit:
        os.write(fd, json.dumps({"died_in": config["key"], "handing_over": os.getcwd()}).encode())
        os.close(fd)
        os._exit(1)


def main(sweep_file: str, out: str, result: str) -> int:
    from ltsweep.storage.paths import SweepPaths
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.files import tracking_uri
    from ltsweep.sweep.plan import build_plan
    from ltsweep.tracking.client import Tracker
    from ltsweep.tune.driver import connect_ray, run_trials

    plan = build_plan(load_sweep(Path(sweep_file)))
    paths = SweepPaths(Path(out))
    paths.out.mkdir(parents=True, exist_ok=True)
    tracker = Tracker(tracking_uri(paths), plan.sweep.name, paths.artifacts)
    parent = tracker.find_or_create(f"sweep:{plan.sweep.name}", "sweep", {})
    connect_ray(2)
    outcomes = run_trials(plan, paths, tracker, parent, trainable_fn=dies_at_handoff)
    summary = {
        "finished": sum(o.finished for o in outcomes),
        "failed": {k: v for o in outcomes for k, v in o.failed.items()},
        "blocked": [k for o in outcomes for k in o.blocked],
        "keys": [t.key for t in plan.trials],
    }
    Path(result).write_text(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
