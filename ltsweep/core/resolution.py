"""Progressive resolution: the side length each training epoch's images have, FFCV's rule.

FFCV's ImageNet recipes (ResNet-50, 16-88 epochs) train at 160 px until a ramp starts, grow the
size linearly to 192 px over the ramp, in steps of 32 px, and hold it there; most epochs cost
(160/224)^2 or (192/224)^2 of a 224-px epoch. ``eval`` is the size the test split is read at
(docs/resolution.md: ltsweep's default is the dataset's own size, 224 for ImageNet, where FFCV's
configurations evaluate at 256).

Plain data, importable without torch: the planner prices a schedule (``sweep/cost.py``) and the
loaders read the size of each epoch from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ltsweep.strict import check, positive


def _ramp_problem(ramp: tuple[int, ...]) -> str | None:
    if len(ramp) != 2 or ramp[0] < 0 or ramp[1] < ramp[0]:
        return "must be [FIRST_EPOCH, LAST_EPOCH], 0-based, FIRST <= LAST"
    return None


@dataclass(frozen=True)
class Resolution:
    """``start`` px until epoch ``ramp[0]``, ``end`` px from epoch ``ramp[1]`` on (0-based,
    inclusive), linear in between rounded to a multiple of ``step``; the test split at ``eval``
    (None: the dataset's own size)."""

    start: int = check(positive)
    end: int = check(positive)
    ramp: tuple[int, ...] = check(_ramp_problem)
    eval: int | None = check(lambda v: None if v is None or v > 0 else "must be > 0", None)
    step: int = check(positive, 32)

    def size_at(self, epoch: int) -> int:
        """The training side length of 0-based ``epoch`` (FFCV's ``get_resolution``)."""
        first, last = self.ramp
        if epoch <= first:
            return self.start
        if epoch >= last:
            return self.end
        linear = self.start + (self.end - self.start) * (epoch - first) / (last - first)
        size = round(linear / self.step) * self.step  # Python rounds half to even, as numpy
        return min(max(size, min(self.start, self.end)), max(self.start, self.end))

    def sizes(self, epochs: int) -> list[int]:
        return [self.size_at(e) for e in range(epochs)]

    def problem(self, epochs: int) -> str | None:
        """What makes this schedule unusable for a training of ``epochs`` epochs, or None."""
        if self.end < self.start:
            return f"end ({self.end}) must be >= start ({self.start}): the size grows"
        for name, size in (("start", self.start), ("end", self.end)):
            if size % self.step:
                return f"{name} ({size}) must be a multiple of step ({self.step})"
        if self.ramp[1] >= epochs:
            return f"ramp ends at epoch {self.ramp[1]}, but training has epochs 0..{epochs - 1}"
        return None

    def pixel_factor(self, epochs: int, base: int) -> float:
        """Mean of (size / base)^2 over the epochs: the cost of this schedule's training as a
        fraction of training every epoch at ``base`` px (docs/cost.md)."""
        sizes = self.sizes(epochs)
        return sum((s / base) ** 2 for s in sizes) / max(len(sizes), 1)
