"""The terminal's progress: epoch-based work, the estimate of time left, plain lines off a TTY."""

from __future__ import annotations

import pytest

from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.plan import build_plan
from ltsweep.tune.progress import Progress
from tests.common.cli import REPO

TINY = REPO / "tests" / "sweeps" / "tiny.yaml"  # 2 generation (2 levels, 2 epochs) + 6 transfer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_generation_counts_every_level() -> None:
    plan = build_plan(load_sweep(TINY))
    gen, xfer = plan.generation[0], plan.transfer[0]
    assert gen.epochs == (2 + 1) * 2, "a generation trial is levels + 1 trainings"
    assert xfer.epochs == 2
    assert Progress(plan.trials, set(), live=False).total_work == 2 * 6 + 6 * 2


def test_estimate_counts_remaining_epochs(capsys) -> None:
    """At a steady 1 epoch/s after a 30 s start-up, the estimate is the true time left."""
    plan = build_plan(load_sweep(TINY))
    clock = Clock()
    progress = Progress(plan.trials, set(), clock=clock, live=False)
    clock.now = 30.0  # Ray and actor start-up: must not slow the rate down
    assert progress.seconds_left() is None, "an estimate before any rate is known"
    order = [(t, step) for t in plan.trials for step in range(t.epochs)]
    truth = []
    for i, (trial, step) in enumerate(order):
        clock.now = 30.0 + i
        progress.epoch(trial.key, step)
        if step == trial.epochs - 1:
            progress.finished(trial.key)
        truth.append((progress.seconds_left(), len(order) - 1 - i))
    for got, want in truth[1:]:
        assert got == pytest.approx(want), f"estimate {got}s, truth {want}s"
    # A trial-count estimate would say 1 generation trial (6 epochs) = 1/8 of the work.
    assert progress.work_done == progress.total_work == 24
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("[trials] 8/8 done · 0 running · 0 failed · 0 waiting")
    assert "epochs 24/24" in lines[-1]


def test_running_count_and_failures(capsys) -> None:
    plan = build_plan(load_sweep(TINY))
    gen = plan.generation
    progress = Progress(plan.trials, {plan.transfer[0].key}, live=False)
    assert progress.done == 1 and progress.work_done == 2, "an already-done trial's epochs count"
    progress.set_running(2)
    progress.epoch(gen[0].key, 0)
    progress.epoch(gen[1].key, 0)
    assert "· 2 running ·" in capsys.readouterr().out, "two concurrent trials not shown"
    progress.set_running(1)
    progress.failed_trial(gen[1].key)
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("[trials] 1/8 done · 1 running · 1 failed · 5 waiting"), out
    assert progress.total_work == 24 - 6, "a failed trial's epochs are still counted as ahead"
    progress.epoch(gen[0].key, 1)
    assert capsys.readouterr().out == "", "off a TTY an epoch alone must not print a line"


def test_waiting_placements_are_shown_and_eager_steps_said_once(capsys) -> None:
    import dataclasses

    from ltsweep.tune.progress import note_eager_steps

    plan = build_plan(load_sweep(TINY))
    progress = Progress(plan.trials, set(), live=False)
    progress.set_running(1)
    progress.set_starved(1)  # e.g. a Ray Train trial whose workers wait for CPUs
    line = capsys.readouterr().out.splitlines()[-1]
    assert "1 running" in line and "1 placement(s) waiting for busy or starting resources" in line
    gen = plan.generation[0]
    compiled = dataclasses.replace(
        gen,
        job=dataclasses.replace(gen.job, train=dataclasses.replace(gen.job.train, compile=True)),
    )
    for _ in range(3):
        note_eager_steps(progress, compiled, "eager: compile failed (no C compiler)")
    note_eager_steps(progress, gen, "eager: compile is off (sweep key compile: false)")
    note_eager_steps(progress, compiled, "compiled")
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"ltsweep: steps run eagerly, not compiled: compile failed (no C compiler) (first seen in "
        f"{gen.key}; each trial's record and MLflow tag ltsweep.steps say how its steps ran)"
    ], err


def test_waiting_placements_are_news_only_while_no_epoch_arrives() -> None:
    """Tune's queued trials hold placements too: while epochs flow the line says nothing of
    them (the "waiting" count does); after a quiet spell it does."""
    now = [100.0]
    plan = build_plan(load_sweep(TINY))
    progress = Progress(plan.trials, set(), live=False, clock=lambda: now[0])
    assert progress.quiet_for(5.0), "a run with no epoch yet is not quiet"
    progress.epoch(plan.generation[0].key, 0)
    now[0] += 1.0
    assert not progress.quiet_for(5.0), "a run whose last epoch came 1 s ago counts as quiet"
    now[0] += 5.0
    assert progress.quiet_for(5.0), "6 s without an epoch is not counted as quiet"
