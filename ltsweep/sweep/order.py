"""The order in which the ticket gate hands trials to Tune: longest first, ticket makers first.

On a few slots the sweep's wall time is its work over the slots plus what is left running alone
at the end. So: the generation trials that transfers wait on start first (their tickets unblock
the rest), the other generation trials next (they only add a `same` baseline), and among trials
of one kind the longest first (longest-processing-time order), so the last trials to start are
the short ones and no slot runs a long trial alone at the end. Length is counted in
image-epochs (``image_epochs``), read from the plan (the training-set size its typed record
gives: the registered split, or its subset/half), so that no trial has to run before the order
is known; it is a relative measure for ordering, not the GPU-seconds ``sweep/cost.py`` prices a
plan in.
"""

from __future__ import annotations

from collections.abc import Iterable

from ltsweep.sweep.trial import Trial


def image_epochs(trial: Trial) -> float:
    """Training images a trial processes over all its epochs (test passes are a fixed fraction:
    left out); the ordering's measure of a trial's length."""
    return float(trial.epochs * (trial.trains_on.train_size or 1))


def generation_order(generation: Iterable[Trial], transfer: Iterable[Trial]) -> list[Trial]:
    """Generation trials whose tickets some transfer trains first, then the rest; costliest
    first within each group (ties keep plan order)."""
    sources = {t.source_key for t in transfer}
    return sorted(generation, key=lambda t: (t.key not in sources, -image_epochs(t)))
