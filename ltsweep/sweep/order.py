"""The order in which the ticket gate hands trials to Tune: longest first, ticket makers first.

On a few slots the sweep's wall time is its work over the slots plus what is left running alone
at the end. So: the generation trials that transfers wait on start first (their tickets unblock
the rest), the other generation trials next (they only add a `same` baseline), and among trials
of one kind the longest first (longest-processing-time order), so the last trials to start are
the short ones and no slot runs a long trial alone at the end. Length is counted in
image-epochs (``image_epochs``), read from the plan (the dataset's registered training size, or
its subset/half), so that no trial has to run before the order is known; it is a relative
measure for ordering, not the GPU-seconds ``sweep/cost.py`` prices a plan in.
"""

from __future__ import annotations

from collections.abc import Iterable

from ltsweep.core.data import get_spec
from ltsweep.core.data.subsets import Cut, cut_size
from ltsweep.errors import UserError
from ltsweep.sweep.trial import Trial


def image_epochs(trial: Trial) -> float:
    """Training images a trial processes over all its epochs (test passes are a fixed fraction:
    left out); the ordering's measure of a trial's length."""
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
    return sorted(generation, key=lambda t: (t.key not in sources, -image_epochs(t)))
