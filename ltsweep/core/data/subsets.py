"""Seeded, class-balanced cuts of a training split: ``half`` (a | b) and ``train_subset`` (N).

Per class, the images are put in one fixed order (numpy's PCG64 from ``SUBSET_SEED``, stable
across machines and numpy versions); half ``a`` is the first half of that order and ``b`` the
second, so the halves are disjoint and balanced (the paper's CIFAR-10a -> CIFAR-10b control).
A subset of N takes N // C images per class (the first N % C classes one more) from the front
of the half or the full order, so a smaller subset is inside a larger one. The test split is
never cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ltsweep.errors import UserError

SUBSET_SEED = 20190602
HALVES = ("a", "b")


@dataclass(frozen=True)
class Cut:
    half: str | None = None  # "a" | "b" | None (the whole split)
    train_subset: int | None = None  # images kept, class-balanced; None keeps all

    @property
    def whole(self) -> bool:
        return self.half is None and self.train_subset is None


def cut_size(train_size: int, cut: Cut) -> int:
    """Images a cut asks for, for the plan-time check against the registered split size."""
    pool = train_size // 2 if cut.half else train_size
    return cut.train_subset if cut.train_subset is not None else pool


def check_cut(dataset: str, train_size: int | None, cut: Cut) -> str | None:
    """A problem with ``cut`` on a training split of ``train_size`` images, or None."""
    if cut.half is not None and cut.half not in HALVES:
        return f"half must be one of {', '.join(HALVES)} (got {cut.half!r})"
    if train_size is None or cut.train_subset is None:
        return None
    pool = train_size // 2 if cut.half else train_size
    if cut.train_subset > pool:
        where = f"half {cut.half!r} of " if cut.half else ""
        return (
            f"train_subset {cut.train_subset} is larger than {where}{dataset}'s training split "
            f"({pool} images); use at most {pool}"
        )
    return None


def balanced_indices(labels: np.ndarray, cut: Cut, dataset: str = "dataset") -> np.ndarray:
    """Sorted indices into ``labels`` that ``cut`` keeps; a one-line UserError if too few."""
    problem = check_cut(dataset, len(labels), cut)
    if problem:
        raise UserError(problem)
    classes = np.unique(labels)
    rng = np.random.default_rng(SUBSET_SEED)
    pools = []
    for c in classes:
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        if cut.half is not None:
            mid = len(idx) // 2
            idx = idx[:mid] if cut.half == "a" else idx[mid : 2 * mid]
        pools.append(idx)
    if cut.train_subset is not None:
        base, extra = divmod(cut.train_subset, len(classes))
        wanted = [base + (1 if i < extra else 0) for i in range(len(classes))]
        short = [int(c) for c, p, w in zip(classes, pools, wanted) if len(p) < w]
        if short:
            raise UserError(
                f"train_subset {cut.train_subset} needs {max(wanted)} images per class but "
                f"{dataset} has fewer in class {short[0]}; use a smaller train_subset"
            )
        pools = [p[:w] for p, w in zip(pools, wanted)]
    return np.sort(np.concatenate(pools))
