"""Which pending trial takes a free actor: the oldest (the gate's order), except one whose own
actor is already starting.

Tune's FIFO scheduler hands a freed, reused actor to the oldest pending trial, and if that trial
has an actor of its own starting on a free CPU, Tune kills that one (TuneController
``_maybe_reuse_cached_actor``, "Removing ORIGINAL ACTOR"). With trials shorter than an actor's
start-up (a worker process importing torch) the second slot's actor is killed again and again
and never runs a trial: nearly every actor started is killed and one trial runs at a time. Here
the freed actor goes to the oldest pending trial *without* a starting actor, and the starting
one lives. FIFO's scan of every trial of the experiment at each of Tune's steps (O(trials) per
step on a grid) becomes a scan of the live ones.

Reading "starting" needs two private attributes of Ray 2.60's TuneController; where they are
missing (another Ray), this is plain FIFO order over the live trials.
"""

from __future__ import annotations

import itertools
import os

from ray.tune.experiment import Trial
from ray.tune.schedulers import FIFOScheduler

# Tune's pending-trial window for a custom searcher is 1 (or max_concurrent_trials): with one
# pending trial there is nobody else to take a freed actor. Two, unless the user chose.
PENDING_ENV = "TUNE_MAX_PENDING_TRIALS_PG"
USER_PENDING = os.environ.get(PENDING_ENV)


def set_pending_window(max_concurrent_trials: int | None) -> None:
    """Before a Tuner is built (Tune reads it then)."""
    if USER_PENDING is None:
        os.environ[PENDING_ENV] = str(max(2, max_concurrent_trials or 0))


class OldestWithoutStartingActor(FIFOScheduler):
    def __init__(self) -> None:
        super().__init__()
        self._order: dict[Trial, int] = {}
        self._counter = itertools.count()

    def on_trial_add(self, tune_controller, trial: Trial) -> None:
        self._order[trial] = next(self._counter)

    def on_trial_complete(self, tune_controller, trial: Trial, result: dict) -> None:
        self._order.pop(trial, None)

    def on_trial_remove(self, tune_controller, trial: Trial) -> None:
        self._order.pop(trial, None)

    def on_trial_error(self, tune_controller, trial: Trial) -> None:
        self._order.pop(trial, None)  # a trial Tune retries is added again

    def choose_trial_to_run(self, tune_controller) -> Trial | None:
        controller = getattr(tune_controller, "_tune_controller", tune_controller)
        pending = [t for t in controller.get_live_trials() if t.status == Trial.PENDING]
        for trial in sorted(pending, key=lambda t: self._order.get(t, -1)):
            if not actor_starting(controller, trial):
                return trial
        return None

    def debug_string(self) -> str:
        return "Oldest pending trial first, unless its own actor is starting."


def actor_starting(controller, trial: Trial) -> bool:
    """Whether ``trial`` (pending) has an actor of its own that holds resources: it is starting."""
    trial_to_actor = getattr(controller, "_trial_to_actor", None)
    started = getattr(getattr(controller, "_actor_manager", None), "is_actor_started", None)
    if trial_to_actor is None or started is None:
        return False
    actor = trial_to_actor.get(trial)
    return actor is not None and started(actor)
