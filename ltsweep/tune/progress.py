"""Progress on the terminal (driver only; ``tune/callback.py`` feeds it from Tune's events).

The estimate counts epochs (``Trial.epochs``), not trials: a generation trial is ``levels + 1``
trainings, a transfer trial one, so a trial count would be off by the IMP depth. On a TTY the progress is one
live line (tqdm); otherwise a plain line whenever a count changes.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable

from ltsweep.sweep.trial import Trial


class Progress:
    """Trials done / running / failed / waiting, epochs done, and an estimate of time left.

    The rate is the epochs finished between the first and the last epoch report of this run,
    over the time between them: start-up (Ray, actors, data) does not slow it down.
    """

    def __init__(
        self,
        trials: Iterable[Trial],
        done: set[str],
        clock: Callable[[], float] = time.monotonic,
        live: bool | None = None,
    ) -> None:
        trials = list(trials)
        self.epochs = {t.key: t.epochs for t in trials}
        self.total, self.done = len(trials), sum(1 for t in trials if t.key in done)
        self.total_work = sum(self.epochs.values())
        self.finished_work = sum(self.epochs[k] for k in done if k in self.epochs)
        self.partial: dict[str, int] = {}  # trial key -> epochs done (in flight)
        self.running = 0  # from Tune's own trial list, every step of its loop
        self.starved = 0  # placements waiting for busy or starting resources (placement.py)
        self.failed = 0
        self.clock = clock
        self.started = clock()
        self.reports = 0  # epoch reports received in this run
        self.first = self.last = None  # times of the first and the latest epoch report
        self.live = _terminal() if live is None else live
        self._bar = None
        self._shown: tuple[int, int, int, int] | None = None
        self._notes: set[str] = set()

    # -- events ---------------------------------------------------------------------------
    def epoch(self, key: str, step: int) -> None:
        """A trial reported its epoch ``step`` (0-based, across IMP levels for generation)."""
        now = self.clock()
        self.first = now if self.first is None else self.first
        self.last = now
        self.reports += 1
        self.partial[key] = min(step + 1, self.epochs.get(key, step + 1))
        self._refresh(force=False)

    def finished(self, key: str) -> None:
        self.partial.pop(key, None)
        self.finished_work += self.epochs.get(key, 0)
        self.done += 1
        self._refresh(force=True)

    def failed_trial(self, key: str) -> None:
        self.partial.pop(key, None)
        self.total_work -= self.epochs.get(key, 0)  # a failed trial's epochs are not ahead of us
        self.failed += 1
        self._refresh(force=True)

    def note(self, message: str) -> None:
        """One line for the user, said once per run, above the live line if there is one (a
        Ray worker's own console output does not reach this terminal)."""
        if message in self._notes:
            return
        self._notes.add(message)
        if self._bar is not None:
            self._bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr, flush=True)

    def set_running(self, n: int) -> None:
        if n != self.running:
            self.running = n
            self._refresh(force=False)

    # -- figures --------------------------------------------------------------------------
    @property
    def work_done(self) -> int:
        return self.finished_work + sum(self.partial.values())

    def seconds_left(self) -> float | None:
        """Epochs left over the epochs-per-second of this run; None until two reports."""
        if self.reports < 2 or self.last is None or self.last <= self.first:
            return None
        rate = (self.reports - 1) / (self.last - self.first)
        return max(self.total_work - self.work_done, 0) / rate

    def quiet_for(self, seconds: float) -> bool:
        """No epoch report in the last ``seconds`` (or none yet): only then is a waiting
        placement news; while epochs flow, Tune's queued trials are the "waiting" count."""
        return self.last is None or self.clock() - self.last >= seconds

    def set_starved(self, n: int) -> None:
        """``n`` placements wait for busy or starting resources (Tune's queued trials, or a
        Ray Train trial whose workers wait: "1 running" with no epoch would say nothing)."""
        if n != self.starved:
            self.starved = n
            self._refresh(force=False)

    def counts(self) -> str:
        waiting = max(self.total - self.done - self.failed - self.running, 0)
        starved = (
            f" · {self.starved} placement(s) waiting for busy or starting resources"
            if self.starved
            else ""
        )
        return (
            f"{self.done}/{self.total} done · {self.running} running · {self.failed} failed · "
            f"{waiting} waiting{starved}"
        )

    def line(self) -> str:
        left = self.seconds_left()
        eta = f" · ~{_fmt(left)} left" if left is not None else ""
        return (
            f"[trials] {self.counts()} · epochs {self.work_done}/{self.total_work} · "
            f"{_fmt(self.clock() - self.started)}{eta}"
        )

    # -- output ---------------------------------------------------------------------------
    def show(self) -> None:
        self._refresh(force=True)

    def _refresh(self, force: bool) -> None:
        if self.live:
            self._draw()
            return
        state = (self.done, self.failed, self.running, self.starved)
        if force or state != self._shown:
            self._shown = state
            print(self.line(), flush=True)

    def _draw(self) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total_work,
                unit="epoch",
                dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} epochs{postfix}",
                desc="[trials]",
            )
        left = self.seconds_left()
        eta = f"~{_fmt(left)} left" if left is not None else "estimating"
        self._bar.total = self.total_work
        self._bar.n = self.work_done
        self._bar.set_postfix_str(
            f"{self.counts()} · {_fmt(self.clock() - self.started)} · {eta}", refresh=False
        )
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _terminal() -> bool:
    """A live line needs a terminal with a width (a pty with none would draw nothing)."""
    try:
        return sys.stdout.isatty() and os.get_terminal_size(sys.stdout.fileno()).columns > 0
    except (OSError, ValueError):
        return False


def _fmt(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s"


def note_eager_steps(progress: Progress, trial: Trial, steps: object) -> None:
    """Say once per reason that a trial asked to compile trains eagerly, and why."""
    if trial.job.train.compile and isinstance(steps, str) and steps.startswith("eager"):
        why = steps.partition(":")[2].strip() or "no reason given"
        progress.note(
            f"ltsweep: steps run eagerly, not compiled: {why} (first seen in {trial.key}; "
            "each trial's record and MLflow tag ltsweep.steps say how its steps ran)"
        )
