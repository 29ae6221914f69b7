"""Trials shorter than an actor's start-up still use every CPU (``tune/schedule.py``): with
Tune's FIFO scheduler the second actor is killed each time a trial ends and hands its actor over,
and one trial runs at a time; with ltsweep's, both actors run trials, in the order they came."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the scheduler is a Ray Tune scheduler")
from ray import tune  # noqa: E402
from ray.tune.search import Searcher  # noqa: E402

from ltsweep.tune.schedule import PENDING_ENV, OldestWithoutStartingActor  # noqa: E402

TRIALS = 30


class InOrder(Searcher):
    """A custom searcher, as ltsweep's ticket gate is: trials 0..TRIALS-1, one per ask."""

    def __init__(self) -> None:
        super().__init__()
        self.next = 0

    def suggest(self, trial_id: str):
        if self.next == TRIALS:
            return Searcher.FINISHED
        self.next += 1
        return {"i": self.next - 1}

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        pass


class Collect(tune.Callback):
    def __init__(self) -> None:
        self.results: list[dict] = []

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.results.append({k: result[k] for k in ("pid", "started", "ended")})
        self.results[-1]["i"] = trial.config["i"]


def _run(scheduler, tmp_path: Path) -> list[dict]:
    first = str(tmp_path / "first-actor")

    class ShortTrial(tune.Trainable):  # nested: Ray ships it by value to its workers
        """Trials of 0.1 s on actors slower to start (as a worker importing torch is): the
        first actor 0.3 s, every later one 1.5 s."""

        def setup(self, config: dict) -> None:
            try:
                os.close(os.open(first, os.O_CREAT | os.O_EXCL))
                time.sleep(0.3)
            except FileExistsError:
                time.sleep(1.5)

        def step(self) -> dict:
            started = time.time()
            time.sleep(0.1)
            return {"pid": os.getpid(), "started": started, "ended": time.time(), "done": True}

        def reset_config(self, new_config: dict) -> bool:
            return True

        def save_checkpoint(self, checkpoint_dir: str) -> dict:
            return {}

        def load_checkpoint(self, checkpoint: dict) -> None:
            pass

    collect = Collect()
    tmp_path.mkdir(parents=True, exist_ok=True)
    tuner = tune.Tuner(
        tune.with_resources(ShortTrial, {"cpu": 1}),
        tune_config=tune.TuneConfig(
            search_alg=InOrder(), scheduler=scheduler, num_samples=TRIALS, reuse_actors=True
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0, callbacks=[collect]),
    )
    tuner.fit()
    return collect.results


@pytest.fixture
def two_cpus(monkeypatch):
    monkeypatch.setenv(PENDING_ENV, "2")  # what runner.set_pending_window sets for a sweep
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_short_trials_use_both_actors_in_order(two_cpus, tmp_path) -> None:
    results = _run(OldestWithoutStartingActor(), tmp_path / "ours")
    assert len(results) == TRIALS and all("pid" in r for r in results), (
        f"{len(results)} of {TRIALS} trials reported"
    )
    pids = {r["pid"] for r in results}
    assert len(pids) == 2, (
        f"{TRIALS} trials of 0.1 s on 2 CPUs ran in {len(pids)} actor(s): a freed actor went to "
        "the trial whose own actor was starting, and Tune killed that one"
    )
    by_start = [r["i"] for r in sorted(results, key=lambda r: r["started"])]
    late = [i for pos, i in enumerate(by_start) if i > pos + 2]
    assert len(late) <= 1, (
        f"trials started in the order {by_start}: more than the one that waited for its own "
        "actor ran out of the order they came in"
    )
    overlaps = sum(
        1
        for a in results
        for b in results
        if a["i"] < b["i"] and a["started"] < b["ended"] and b["started"] < a["ended"]
    )
    assert overlaps > 0, "no two trials ever ran at the same time on 2 CPUs"


@pytest.mark.slow
def test_fifo_runs_short_trials_one_actor_at_a_time(two_cpus, tmp_path) -> None:
    """The premise: if Ray's FIFO stops killing the starting actor, schedule.py can go."""
    from ray.tune.schedulers import FIFOScheduler

    results = _run(FIFOScheduler(), tmp_path / "fifo")
    pids = {r["pid"] for r in results}
    print(f"FIFO: {TRIALS} trials ran in {len(pids)} actor(s)")
    assert len(pids) == 1, (
        f"Tune's FIFO scheduler now runs short trials in {len(pids)} actors: the starting actor "
        "is no longer killed, and OldestWithoutStartingActor may not be needed any more"
    )
