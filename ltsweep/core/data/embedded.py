"""Datasets that ship with ltsweep, so a sweep runs with no download and no GPU.

* ``digits``: the real UCI handwritten digits that scikit-learn ships (1,797 8x8 images), with a
  fixed seeded 75/25 split, upsampled to the model's input size.
* ``shapes``: ten classes of coloured geometric shapes on noisy coloured backgrounds, generated
  deterministically from a seed: harder than digits, so tickets degrade at high sparsity, and of
  another size, so the demo has transfer in both directions.
* ``shapes_small``: a second draw of the same generator (another seed), a third of the size:
  the demo's within-domain pair (the paper's claim is about transfer *within* a domain).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ltsweep.core.data.spec import DatasetSpec, TensorSplit, register
from ltsweep.errors import UserError

DIGITS_SPLIT_SEED = 0
SHAPES_SEED = 20190602  # Morcos et al. on arXiv
SHAPES_SIZES = {"train": 3000, "test": 1000}
SHAPES_SMALL_SEED = SHAPES_SEED + 1000
SHAPES_SMALL_SIZES = {"train": 1000, "test": 500}
SHAPES_NATIVE = 32
SHAPE_NAMES = (
    "disc",
    "square",
    "triangle",
    "cross",
    "ring",
    "hbar",
    "vbar",
    "diamond",
    "x",
    "frame",
)


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits (8x8, values 0..16) and labels, read from the CSV scikit-learn ships,
    the file ``sklearn.datasets.load_digits`` parses: importing scikit-learn costs every trial
    process a second or more of CPU, reading its file a tenth of that."""
    found = importlib.util.find_spec("sklearn")  # locates the package without importing it
    if found is None or not found.submodule_search_locations:
        raise UserError("dataset 'digits' needs scikit-learn: pip install scikit-learn")
    csv = Path(found.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    table = np.loadtxt(csv, delimiter=",")  # [1797, 64 pixels + label]
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)


def read_digits(root: Path | None, split: str, size: int) -> TensorSplit:
    import torch

    from ltsweep.core.data.adapt import adapt

    pixels, target = digits_arrays()
    images = torch.from_numpy((pixels * (255.0 / 16.0)).round().astype(np.uint8))
    labels = torch.from_numpy(target)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(DIGITS_SPLIT_SEED))
    cut = int(0.75 * len(labels))
    idx = order[:cut] if split == "train" else order[cut:]
    return TensorSplit(adapt(images[idx, None], size), labels[idx])


def _shape_mask(kind: int, yy: np.ndarray, xx: np.ndarray, r: float) -> np.ndarray:
    """Boolean mask of shape ``kind`` centred at the origin of (yy, xx) with radius ``r``."""
    ay, ax, t = np.abs(yy), np.abs(xx), max(r / 3.5, 1.0)
    masks = (
        yy**2 + xx**2 <= r**2,  # disc
        (ay <= r * 0.8) & (ax <= r * 0.8),  # square
        (yy <= r * 0.7) & (yy >= -r * 0.9 + 1.8 * ax),  # triangle
        ((ay <= t) & (ax <= r)) | ((ax <= t) & (ay <= r)),  # cross
        (yy**2 + xx**2 <= r**2) & (yy**2 + xx**2 >= (r * 0.55) ** 2),  # ring
        (ay <= t) & (ax <= r),  # hbar
        (ax <= t) & (ay <= r),  # vbar
        ay + ax <= r,  # diamond
        (np.abs(yy - xx) <= t) & (ay <= r) | (np.abs(yy + xx) <= t) & (ay <= r),  # x
        ((ay <= r * 0.85) & (ax <= r * 0.85)) & ~((ay <= r * 0.45) & (ax <= r * 0.45)),  # frame
    )
    return masks[kind]


def generate_shapes(count: int, seed: int, size: int = SHAPES_NATIVE) -> TensorSplit:
    """``count`` images (balanced classes) from ``seed``: the same seed gives the same bytes."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(SHAPE_NAMES)
    rng.shuffle(labels)
    grid = np.arange(size, dtype=np.float32)
    images = np.empty((count, 3, size, size), dtype=np.uint8)
    for i, kind in enumerate(labels):
        r = rng.uniform(0.18, 0.34) * size
        cy, cx = rng.uniform(r * 0.8, size - r * 0.8, size=2)
        mask = _shape_mask(int(kind), grid[:, None] - cy, grid[None, :] - cx, r)
        bg, fg = rng.uniform(0, 255, size=3), rng.uniform(0, 255, size=3)
        while np.abs(fg - bg).sum() < 180:  # keep the shape visible
            fg = rng.uniform(0, 255, size=3)
        img = np.where(mask[None], fg[:, None, None], bg[:, None, None])
        img = img + rng.normal(0, 28, size=img.shape)
        images[i] = np.clip(img, 0, 255).astype(np.uint8)
    import torch

    return TensorSplit(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)))


def _adapt(images, size: int):
    from ltsweep.core.data.adapt import adapt  # torch: only once a split is read

    return adapt(images, size)


def read_shapes(root: Path | None, split: str, size: int) -> TensorSplit:
    seed = SHAPES_SEED + (0 if split == "train" else 1)
    data = generate_shapes(SHAPES_SIZES[split], seed)
    return TensorSplit(_adapt(data.images, size), data.labels)


def read_shapes_small(root: Path | None, split: str, size: int) -> TensorSplit:
    seed = SHAPES_SMALL_SEED + (0 if split == "train" else 1)
    data = generate_shapes(SHAPES_SMALL_SIZES[split], seed)
    return TensorSplit(_adapt(data.images, size), data.labels)


# Means/stds of the training splits, at native size; tests/test_data.py recomputes and compares.
register(
    DatasetSpec(
        name="digits",
        num_classes=10,
        image_size=16,
        mean=(0.3051, 0.3051, 0.3051),
        std=(0.3757, 0.3757, 0.3757),
        flip=False,
        storage="tensor",
        reader=read_digits,
        embedded=True,
        train_size=1347,
        test_size=450,
    )
)
register(
    DatasetSpec(
        name="shapes",
        num_classes=10,
        image_size=32,
        mean=(0.5038, 0.5041, 0.4998),
        std=(0.2981, 0.3009, 0.3020),
        flip=True,
        storage="tensor",
        reader=read_shapes,
        embedded=True,
        train_size=SHAPES_SIZES["train"],
        test_size=SHAPES_SIZES["test"],
    )
)
register(
    DatasetSpec(
        name="shapes_small",
        num_classes=10,
        image_size=32,
        mean=(0.5145, 0.4988, 0.4931),
        std=(0.3009, 0.3043, 0.2962),
        flip=True,
        storage="tensor",
        reader=read_shapes_small,
        embedded=True,
        train_size=SHAPES_SMALL_SIZES["train"],
        test_size=SHAPES_SMALL_SIZES["test"],
    )
)
