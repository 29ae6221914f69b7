"""The order in which the ticket gate hands trials to Tune: longest first, ticket makers first.

On a few slots the sweep's wall time is its work over the slots plus what is left running alone
at the end. So: the generation trials that transfers wait on start first (their tickets unblock
the rest), the other generation trials next (they only add a `same` baseline), and among trials
of one kind the costliest first (longest-processing-time order), so the last trials to start are
the short ones and no slot runs a long trial alone at the end. Cost is in image-epochs, read
from the plan (the training-set size its typed record gives: the registered split, or its
subset/half), so that no trial
has to run before the order is known.
"""

from __future__ import annotations

from collections.abc import Iterable

from ltsweep.sweep.trial import Trial


def trial_cost(trial: Trial) -> float:
    """Image-epochs a trial trains (test passes are a fixed fraction: left out)."""
    return float(trial.epochs * (trial.trains_on.train_size or 1))


def generation_order(generation: Iterable[Trial], transfer: Iterable[Trial]) -> list[Trial]:
    """Generation trials whose tickets some transfer trains first, then the rest; costliest
    first within each group (ties keep plan order)."""
    sources = {t.source_key for t in transfer}
    return sorted(generation, key=lambda t: (t.key not in sources, -trial_cost(t)))
