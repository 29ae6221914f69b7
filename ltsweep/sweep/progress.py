"""Progress on the terminal and the Tune callback that records trials in MLflow (driver only)."""

from __future__ import annotations

import time
from pathlib import Path

from ltsweep.runtime.records import read_done, read_failed
from ltsweep.sweep.paths import SweepPaths
from ltsweep.sweep.plan import Trial


class Progress:
    """One line per finished trial: done / running / failed / left and an estimate of time left."""

    def __init__(self, total: int, done: int) -> None:
        self.total, self.done = total, done
        self.running = 0  # from Tune's own trial list (reused actors skip on_trial_start)
        self.failed = 0
        self.started = time.time()
        self.finished_here = 0

    def line(self) -> str:
        left = self.total - self.done - self.failed - self.running
        elapsed = time.time() - self.started
        eta = ""
        if self.finished_here:
            remaining = (self.total - self.done - self.failed) / self.finished_here * elapsed
            eta = f" · ~{_fmt(remaining)} left"
        return (
            f"[trials] {self.done}/{self.total} done · {self.running} running · "
            f"{self.failed} failed · {max(left, 0)} waiting · {_fmt(elapsed)}{eta}"
        )

    def show(self) -> None:
        print(self.line(), flush=True)


def _fmt(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s"


def make_callback(
    tracker,
    parent_id: str,
    by_key: dict[str, Trial],
    paths: SweepPaths,
    progress: Progress,
    outcomes: dict,
    writer=None,
):
    """The recorder callback; with a ``StoreWriter`` (``writer.py``) its MLflow writes run in
    the writer's thread, off Tune's control loop."""
    from ray.tune import Callback

    from ltsweep.runtime import recording

    def write(fn, *args) -> None:
        if writer is None:
            fn(*args)
        else:
            writer.submit(fn, *args)

    class MlflowRecorder(Callback):
        """Runs in the driver: the only process that writes to the tracking store."""

        def on_trial_start(self, iteration, trials, trial, **info):
            t = by_key[trial.config["key"]]
            write(recording.start_trial, tracker, t, parent_id)

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if not result.get("final"):
                write(recording.log_live, tracker, by_key[trial.config["key"]], dict(result))

        def on_trial_complete(self, iteration, trials, trial, **info):
            t = by_key[trial.config["key"]]
            record = read_done(paths.trial_dir(t.key))
            progress.running = _count_running(trials, trial)
            if record is None:
                return
            write(recording.finish_trial, tracker, t, record, parent_id, paths.trial_dir(t.key))
            progress.done += 1
            progress.finished_here += 1
            outcomes[t.stage].finished += 1
            progress.show()

        def on_trial_error(self, iteration, trials, trial, **info):
            t = by_key[trial.config["key"]]
            progress.running = _count_running(trials, trial)
            failed = read_failed(paths.trial_dir(t.key))
            reason = failed["reason"] if failed else _error_line(trial)
            write(recording.fail_trial, tracker, t, parent_id, reason)
            progress.failed += 1
            outcomes[t.stage].failed[t.key] = reason
            progress.show()

    return MlflowRecorder()


def _count_running(trials, finished) -> int:
    return sum(1 for t in trials if t.status == "RUNNING" and t is not finished)


def _error_line(trial) -> str:
    try:
        text = Path(trial.error_file).read_text() if trial.error_file else ""
    except OSError:
        text = ""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:500] if lines else "trial failed (no error text)"
