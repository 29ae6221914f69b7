"""Listing an image folder: its layout, classes and files, with the messy cases decided here.

Two layouts: ``train/<class>/*`` beside ``val/<class>/*`` (or ``test/``), as torchvision's
``ImageFolder`` reads them; or ``<class>/*`` alone, split into train and test by a seeded,
class-balanced fraction (per class, a fixed permutation of the sorted file names). Classes are
the sorted names of the class folders, the same in both splits. Inside a class folder files are
found recursively, symlinks followed; hidden files and files without an image extension are
skipped (and counted), a symlink loop, a broken link, an empty class or a single class is a
one-line error that names the path. Listing touches no pixel: ``decoding`` decodes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ltsweep.errors import UserError

IMAGE_EXTENSIONS = (
    ".bmp",
    ".gif",
    ".jpeg",
    ".jpg",
    ".pgm",
    ".png",
    ".ppm",
    ".tif",
    ".tiff",
    ".webp",
)
TEST_DIRS = ("val", "test")  # the first that exists beside train/ is the test split
SPLIT_SEED = 20190602
DEFAULT_TEST_FRACTION = 0.2

Files = tuple[tuple[str, int], ...]  # (path relative to the folder, class index)


@dataclass(frozen=True)
class Listing:
    root: Path
    layout: str  # "train/val" style ("train/<test dir>") or "fraction <f>"
    classes: tuple[str, ...]
    train: Files
    test: Files
    skipped: tuple[str, ...]  # relative paths of files that are not images (or hidden)
    sha256: str  # of the class names, and every file's split, relative path and size

    def counts(self, split: str) -> list[int]:
        per = [0] * len(self.classes)
        for _, label in getattr(self, split):
            per[label] += 1
        return per


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _is_dir(entry: os.DirEntry) -> bool:
    """Whether ``entry`` is (or links to) a directory; a link that cannot be followed (a loop, a
    missing target) is a one-line error naming it."""
    try:
        return os.stat(entry.path).st_mode & 0o170000 == 0o040000
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            problem = "is a symlink loop (it leads back to itself)"
        elif exc.errno == errno.ENOENT:
            problem = "is a broken symlink"
        else:
            problem = f"cannot be read ({exc.strerror})"
        raise UserError(f"image folder: {entry.path} {problem}; remove it or fix it") from None


def _walk(folder: Path, root: Path, ancestors: frozenset[str], skipped: list[str]) -> list[str]:
    """Image files under ``folder`` (relative to ``root``), sorted, following symlinks."""
    real = os.path.realpath(folder)
    if real in ancestors:
        raise UserError(
            f"image folder: {folder} is a symlink loop (it leads back to {real}); "
            "remove the link or point it elsewhere"
        )
    found: list[str] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise UserError(
            f"image folder: cannot list {folder} ({exc.strerror}); fix its permissions"
        ) from None
    for entry in entries:
        path = Path(entry.path)
        rel = path.relative_to(root).as_posix()
        if entry.name.startswith("."):
            skipped.append(rel)
        elif _is_dir(entry):  # follows symlinks; a loop or a broken link is refused
            found += _walk(path, root, ancestors | {real}, skipped)
        elif not _is_image(entry.name):
            skipped.append(rel)
        else:
            found.append(rel)
    return found


def _class_dirs(split_dir: Path) -> list[str]:
    return sorted(
        e.name for e in os.scandir(split_dir) if not e.name.startswith(".") and _is_dir(e)
    )


def _list_split(split_dir: Path, root: Path, skipped: list[str]) -> dict[str, list[str]]:
    classes = _class_dirs(split_dir)
    if not classes:
        raise UserError(
            f"image folder: {split_dir} has no class folders; put each class's images in "
            f"{split_dir}/<class>/"
        )
    files = {}
    for name in classes:
        images = _walk(split_dir / name, root, frozenset({os.path.realpath(split_dir)}), skipped)
        if not images:
            raise UserError(
                f"image folder: class folder {split_dir / name} has no images "
                f"({', '.join(IMAGE_EXTENSIONS)}); add images or remove the folder"
            )
        files[name] = images
    skipped += sorted(
        (split_dir / e.name).relative_to(root).as_posix()
        for e in os.scandir(split_dir)
        if not e.name.startswith(".") and not _is_dir(e)
    )
    return files


def _fraction_split(
    per_class: dict[str, list[str]], fraction: float
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    train, test = {}, {}
    for name, files in per_class.items():
        if len(files) < 2:
            raise UserError(
                f"image folder: class {name!r} has {len(files)} image; a train/test split "
                "needs at least 2 per class"
            )
        n_test = min(len(files) - 1, max(1, round(fraction * len(files))))
        order = np.random.default_rng([SPLIT_SEED, zlib.crc32(name.encode())]).permutation(
            len(files)
        )
        test[name] = sorted(files[i] for i in order[:n_test])
        train[name] = sorted(files[i] for i in order[n_test:])
    return train, test


def _digest(root: Path, classes: list[str], splits: dict[str, Files]) -> str:
    h = hashlib.sha256()
    h.update(("\n".join(classes) + "\n\n").encode())
    for split, files in splits.items():
        for rel, _ in files:
            h.update(f"{split}\t{rel}\t{(root / rel).stat().st_size}\n".encode())
    return h.hexdigest()


def scan_folder(root: Path, test_fraction: float | None = None) -> Listing:
    """List ``root`` (see the module docstring); every problem is a one-line UserError."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"image folder {root} does not exist or is not a directory")
    skipped: list[str] = []
    test_dir = next((root / d for d in TEST_DIRS if (root / d).is_dir()), None)
    if (root / "train").is_dir() and test_dir is not None:
        if test_fraction is not None:
            raise UserError(
                f"image folder {root} has train/ and {test_dir.name}/: test_fraction applies "
                "only to a folder of class folders; remove test_fraction"
            )
        train = _list_split(root / "train", root, skipped)
        test = _list_split(test_dir, root, skipped)
        if set(train) != set(test):
            only = sorted(set(train) ^ set(test))
            raise UserError(
                f"image folder {root}: train/ and {test_dir.name}/ have different classes "
                f"({', '.join(only[:3])} in only one); give both the same class folders"
            )
        layout = f"train/{test_dir.name}"
    else:
        if (root / "train").is_dir():
            raise UserError(
                f"image folder {root} has train/ but no {' or '.join(TEST_DIRS)}/ beside it; "
                "add one, or point path at a folder of class folders"
            )
        fraction = DEFAULT_TEST_FRACTION if test_fraction is None else test_fraction
        train, test = _fraction_split(_list_split(root, root, skipped), fraction)
        layout = f"fraction {fraction}"
    classes = sorted(train)
    if len(classes) < 2:  # a one-way head scores 100% and means nothing
        raise UserError(
            f"image folder {root} has one class folder ({', '.join(classes)}): a classifier needs "
            "two or more; add a folder per class beside it"
        )
    index = {name: i for i, name in enumerate(classes)}
    splits = {
        split: tuple((rel, index[name]) for name in classes for rel in per[name])
        for split, per in (("train", train), ("test", test))
    }
    return Listing(
        root,
        layout,
        tuple(classes),
        splits["train"],
        splits["test"],
        tuple(skipped),
        _digest(root, classes, splits),
    )
