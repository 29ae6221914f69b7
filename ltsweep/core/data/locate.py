"""Where a real dataset may be: one search order per dataset, as data (``Place`` tuples).

The same tuple drives the reader (the first place that holds the dataset wins) and
``ltsweep data list`` (where it was found, or every place looked). Places relative to the data
root come first; absolute places (a system package's standard location) are searched only when
no data root is given, so an explicit root never silently reads another copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Place:
    """``path`` under the data root (or absolute: a system location); it counts as holding the
    dataset when it exists and, if ``marker`` is set, some file in it matches that glob."""

    path: str
    marker: str = ""

    @property
    def system(self) -> bool:
        return Path(self.path).is_absolute()

    def where(self, root: Path | None) -> Path | None:
        if self.system:
            return Path(self.path)
        return root / self.path if root is not None else None

    def holds(self, root: Path | None) -> bool:
        path = self.where(root)
        if path is None or not path.exists():
            return False
        return not self.marker or (path.is_dir() and any(path.glob(self.marker)))


def candidates(places: tuple[Place, ...], root: Path | None) -> list[Path]:
    """The paths searched, in order: under ``root`` when given, else the system places."""
    if root is not None:
        return [root / p.path if p.path else root for p in places if not p.system]
    return [Path(p.path) for p in places if p.system]


def locate(places: tuple[Place, ...], root: Path | None) -> Path | None:
    """The first place that holds the dataset, or None."""
    for place in places:
        if place.system != (root is None):
            continue
        if place.holds(root):
            return place.where(root)
    return None
