"""Trials Ray Tune gives up on by counting one worker death twice are run again.

Ray Tune 2.60 (``tune/execution/tune_controller.py``) hands a reused worker its next trial with
a ``reset`` task while that trial is still PENDING. If the worker dies then, the failed task
fires two callbacks for the one death: ``_actor_failed`` sees a PENDING trial, marks it RUNNING
and calls ``_process_trial_failure``, which counts a failure and requeues it (PENDING again);
then the ``reset`` task's own error callback calls ``_process_trial_failure`` once more, which
counts a second failure, finds the trial PENDING, skips recovery and ends it in ERROR, whatever
``max_failures`` allows. Both run within one step of Tune's loop, which is how we tell them
from two deaths: a real second death needs a new worker, so a later step.

No Tune hook can undo that ERROR, so ltsweep runs those trials again after ``fit()``, each in a
new Tune experiment with the retries it has left (``retries`` minus the deaths it already had),
generation trials before the transfers that waited on their tickets. A trial that really dies
every time still ends FAILED after ``retries + 1`` attempts, with its error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ltsweep.storage.done import has_done
from ltsweep.storage.paths import SweepPaths
from ltsweep.storage.staging import ticket_exists
from ltsweep.sweep.trial import GENERATE, Trial


@dataclass
class Ledger:
    """Per Tune experiment: the deaths Tune recovered from, and the trials it then gave up on
    in the same step (``owed``: trial key -> deaths so far, each one retry owed)."""

    deaths: dict[str, int] = field(default_factory=dict)
    recovered_in: dict[str, int] = field(default_factory=dict)
    owed: dict[str, int] = field(default_factory=dict)

    def recovered(self, key: str, iteration: int) -> None:
        self.deaths[key] = self.deaths.get(key, 0) + 1
        self.recovered_in[key] = iteration

    def given_up_by_mistake(self, key: str, iteration: int) -> bool:
        """Whether this error is Tune's second handling of the death it just recovered from."""
        if self.recovered_in.get(key) != iteration:
            return False
        self.owed[key] = self.deaths[key]
        return True


@dataclass
class PassResult:
    keys: list[str]
    owed: dict[str, int]  # trial key -> deaths in this pass
    blocked: list[str]  # transfers whose source failed before making their ticket


# (generation trials, transfer trials, max_failures, pass number) -> what came of them
RunPass = Callable[[list[Trial], list[Trial], int, int], PassResult]


def settle(
    first: PassResult,
    run_pass: RunPass,
    trials: dict[str, Trial],
    retries: int,
    paths: SweepPaths,
    failed: Callable[[str], bool],
) -> list[str]:
    """Run the trials ``first`` gave up on with retries left until none is owed; return the
    transfers blocked for good. Stops, leaving them for the next ``ltsweep run``, when a pass
    was interrupted (Ctrl-C): a trial in it then is neither done, failed, owed nor blocked."""
    owed, blocked, last, number = dict(first.owed), set(first.blocked), first, 0
    while owed and not _interrupted(last, paths, failed):
        for key in [k for k in blocked if trials[k].source_key in owed]:
            blocked.discard(key)  # blocked only by its source's mistaken failure
            owed[key] = 0
        gens = {k: d for k, d in owed.items() if trials[k].stage == GENERATE}
        batch = gens or dict(owed)  # transfers once their sources have settled
        for budget, keys in _by_budget(batch, retries):
            for key in keys:
                del owed[key]
            todo = [trials[k] for k in keys]
            if not gens:
                never = [
                    t.key
                    for t in todo
                    if not t.ticket_uri and not ticket_exists(paths, t.source_key, t.level)
                ]
                blocked.update(never)
                todo = [t for t in todo if t.key not in never]
            if not todo:
                continue
            number += 1
            print(
                f"ltsweep: {len(todo)} trial(s) left undone by a worker death that Ray Tune "
                f"counted twice: running them again ({budget} retries left each)",
                flush=True,
            )
            last = run_pass(
                [t for t in todo if t.stage == GENERATE],
                [t for t in todo if t.stage != GENERATE],
                budget,
                number,
            )
            owed.update({k: batch[k] + d for k, d in last.owed.items()})
            blocked.update(last.blocked)
            if _interrupted(last, paths, failed):
                break
    return sorted(blocked)


def _by_budget(batch: dict[str, int], retries: int) -> list[tuple[int, list[str]]]:
    """Trials grouped by the retries they have left (Tune's ``max_failures`` is per experiment)."""
    groups: dict[int, list[str]] = {}
    for key, deaths in batch.items():
        groups.setdefault(max(retries - deaths, 0), []).append(key)
    return sorted(groups.items(), reverse=True)


def _interrupted(result: PassResult, paths: SweepPaths, failed: Callable[[str], bool]) -> bool:
    settled = set(result.owed) | set(result.blocked)
    return any(k not in settled and not failed(k) and not has_done(paths, k) for k in result.keys)
