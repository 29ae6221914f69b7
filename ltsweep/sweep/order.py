"""The order in which the ticket gate hands trials to Tune: longest first, ticket makers first.

On a few slots the sweep's wall time is its work over the slots plus what is left running alone
at the end. So: the generation trials that transfers wait on start first (their tickets unblock
the rest), the other generation trials next (they only add a `same` baseline), and among trials
of one kind the costliest first (longest-processing-time order), so the last trials to start are
the short ones and no slot runs a long trial alone at the end. Cost is in image-epochs, read
from the plan (the dataset's registered training size, or its subset/half), so that no trial
has to run before the order is known.
"""

from __future__ import annotations

from collections.abc import Iterable

from ltsweep.core.data import get_spec
from ltsweep.core.data.subsets import Cut, cut_size
from ltsweep.errors import UserError
from ltsweep.sweep.trial import Trial


def trial_cost(trial: Trial) -> float:
    """Image-epochs a trial trains (test passes are a fixed fraction: left out)."""
    data = trial.job.data
    try:
        size = data.folder.train_size if data.folder else get_spec(data.name).train_size
    except UserError:  # an unknown name is refused at plan time: ordering need not fail on it
        size = None
    if size is not None:
        size = cut_size(size, Cut(data.half, data.train_subset))
    return float(trial.epochs * (size or 1))


def generation_order(generation: Iterable[Trial], transfer: Iterable[Trial]) -> list[Trial]:
    """Generation trials whose tickets some transfer trains first, then the rest; costliest
    first within each group (ties keep plan order)."""
    sources = {t.source_key for t in transfer}
    return sorted(generation, key=lambda t: (t.key not in sources, -trial_cost(t)))
