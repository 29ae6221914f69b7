"""The Tune callback of the driver: every trial event goes to the MLflow recorder and the
terminal's progress, and Tune's own trial list says what runs.

The driver's MLflow writes go to a recorder (``tracking/writer.py``: a writer process, or the
driver itself through an outbox that holds them while the tracking server is unreachable);
every call returns at once. A ``retry.Ledger`` counts recoveries and takes the errors Tune makes
by counting one worker death twice: those trials are neither FAILED nor counted failed; they
run again.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ray.tune import Callback

from ltsweep.storage.done import read_done, read_failed
from ltsweep.storage.paths import SweepPaths
from ltsweep.sweep.trial import Trial
from ltsweep.tracking.trial_runs import record_dir
from ltsweep.tracking.writer import live_metrics
from ltsweep.tune.placement import pending_placements
from ltsweep.tune.progress import Progress, note_eager_steps

RECOUNT_S = 0.5  # how often the recorder counts Tune's running trials
STARVED_S = 5.0  # how often it asks Ray which placements wait for resources


class MlflowRecorder(Callback):
    """Runs in the driver, which alone decides what is recorded."""

    def __init__(
        self,
        recorder: Any,
        by_key: dict[str, Trial],
        paths: SweepPaths,
        progress: Progress,
        outcomes: dict,
        ledger: Any = None,
    ) -> None:
        self.recorder, self.by_key, self.paths = recorder, by_key, paths
        self.progress, self.outcomes, self.ledger = progress, outcomes, ledger
        self.counted_at = -RECOUNT_S
        self.starved_at = -STARVED_S

    def on_step_end(self, iteration, trials, **info):
        # Tune's trial list is the truth for "running" (reused actors skip on_trial_start);
        # it holds every trial of the pass, so it is walked at most every RECOUNT_S, not on
        # each of Tune's steps (thousands of steps times thousands of trials on a grid).
        now = time.monotonic()
        self.recorder.tick()
        if now - self.counted_at >= RECOUNT_S:
            self.counted_at = now
            self.progress.set_running(sum(1 for t in trials if t.status == "RUNNING"))
        if now - self.starved_at >= STARVED_S:
            self.starved_at = now
            quiet = self.progress.quiet_for(STARVED_S)  # a stalled run: say what it waits on
            self.progress.set_starved(pending_placements() if quiet else 0)

    def on_trial_start(self, iteration, trials, trial, **info):
        self.recorder.start(self.by_key[trial.config["key"]])

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if not result.get("final"):
            t = self.by_key[trial.config["key"]]
            self.recorder.live(t, live_metrics(result))
            self.progress.epoch(t.key, int(result.get("step", result.get("epoch", 0))))
            note_eager_steps(self.progress, t, result.get("steps"))

    def on_trial_complete(self, iteration, trials, trial, **info):
        t = self.by_key[trial.config["key"]]
        record = read_done(self.paths, t.key)
        self.progress.running = max(self.progress.running - 1, 0)  # the next recount corrects it
        if record is None:
            return
        self.recorder.finish(t, record, record_dir(self.paths, t))
        self.outcomes[t.stage].finished += 1
        self.progress.finished(t.key)

    def on_trial_recover(self, iteration, trials, trial, **info):
        if self.ledger is not None:
            self.ledger.recovered(trial.config["key"], iteration)

    def on_trial_error(self, iteration, trials, trial, **info):
        t = self.by_key[trial.config["key"]]
        self.progress.running = max(self.progress.running - 1, 0)
        if self.ledger is not None and self.ledger.given_up_by_mistake(t.key, iteration):
            return
        failed = read_failed(self.paths, t.key)
        reason = failed["reason"] if failed else _error_line(trial)
        self.recorder.fail(t, reason)
        self.outcomes[t.stage].failed[t.key] = reason
        self.progress.failed_trial(t.key)

    def on_experiment_end(self, trials, **info):
        self.progress.close()


def _error_line(trial) -> str:
    try:
        text = Path(trial.error_file).read_text() if trial.error_file else ""
    except OSError:
        text = ""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:500] if lines else "trial failed (no error text)"
