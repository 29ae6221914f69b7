"""Real Fashion-MNIST as Debian's ``dataset-fashion-mnist`` installs it (zalando's release files
in /usr/share/datasets/fashion-mnist), found with no data root: counts, balance, the registered
normalization, pixels equal to a plain reading of the .gz files, and a short training that
reaches the accuracy band of zalando's small-CNN benchmarks.

Without the package these tests skip with the reason; with ``CI=true`` they fail instead, so
CI cannot pass without having run them (``scripts/setup.sh`` installs the package).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ltsweep.core.data import Cut, get_spec, load_split
from ltsweep.core.data.adapt import channel_stats
from ltsweep.core.data.fashion import SYSTEM_DIR

SYSTEM = Path(SYSTEM_DIR)
FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")


@pytest.fixture(autouse=True)
def _real_fashion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LTSWEEP_DATA", raising=False)  # zero configuration: the system copy
    if all((SYSTEM / f).exists() for f in FILES):
        return
    reason = f"real Fashion-MNIST not installed in {SYSTEM} (apt-get install dataset-fashion-mnist)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def _plain(name: str, offset: int) -> np.ndarray:
    return np.frombuffer(gzip.decompress((SYSTEM / name).read_bytes()), np.uint8, offset=offset)


def test_counts_and_classes_as_published() -> None:
    train, test = load_split("fashion_mnist", "train"), load_split("fashion_mnist", "test")
    assert (len(train), len(test)) == (60_000, 10_000), "split sizes differ from the release"
    assert torch.bincount(train.labels).tolist() == [6_000] * 10, "train classes unbalanced"
    assert torch.bincount(test.labels).tolist() == [1_000] * 10, "test classes unbalanced"


def test_pixels_and_labels_equal_a_plain_reading_of_the_gz_files() -> None:
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = _plain(f"{prefix}-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
        labels = _plain(f"{prefix}-labels-idx1-ubyte.gz", 8)
        native = load_split("fashion_mnist", split, image_size=28)
        assert np.array_equal(native.images[:, 0].numpy(), images), f"{split} pixels differ"
        assert np.array_equal(native.labels.numpy(), labels), f"{split} labels differ"
        padded = load_split("fashion_mnist", split)  # the model's 32 px, 3 channels
        assert np.array_equal(padded.images[:, 2, 2:30, 2:30].numpy(), images), "padding moved"


def test_registered_normalization_is_the_training_split_s() -> None:
    images = load_split("fashion_mnist", "train", image_size=28).images
    mean, std = channel_stats(images[:, :1])
    spec = get_spec("fashion_mnist")
    assert abs(mean[0] - spec.mean[0]) < 1e-3, f"mean {mean[0]:.4f} vs registered {spec.mean}"
    assert abs(std[0] - spec.std[0]) < 1e-3, f"std {std[0]:.4f} vs registered {spec.std}"


def test_halves_of_the_real_training_split() -> None:
    a = load_split("fashion_mnist", "train", cut=Cut(half="a"))
    b = load_split("fashion_mnist", "train", cut=Cut(half="b", train_subset=1000))
    assert len(a) == 30_000 and torch.bincount(a.labels).tolist() == [3_000] * 10
    assert torch.bincount(b.labels).tolist() == [100] * 10
    rows = {bytes(x) for x in a.images[:, 0].flatten(1).numpy()}
    assert not any(bytes(x) in rows for x in b.images[:, 0].flatten(1).numpy()), "a and b share"


class SmallCNN(nn.Module):
    """Two conv layers and a dense head: the smallest kind in zalando's benchmark table."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU())
        self.out = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.fc(self.features(x)))  # [B, 28, 28] -> [B, 10]


@pytest.mark.slow
def test_short_training_reaches_the_small_cnn_band() -> None:
    """zalando's table: small CNNs at 0.90-0.93; 3 epochs on 1 thread must reach 0.88.

    3 epochs, lr /10 for the last: 0.8861 here (4 epochs reached 0.8911 but cost a third more;
    2 epochs reach only 0.873, and 20,000 or 30,000 images in 3 or 2 epochs 0.857 or 0.854)."""
    from ltsweep.core.data.loading import LoaderOptions, make_loader
    from ltsweep.core.jobs import TrainConfig
    from ltsweep.core.optim import OptimizerConfig
    from ltsweep.core.train import train

    opts = dict(image_size=28, workers=0, seed=0)
    train_loader = make_loader("fashion_mnist", LoaderOptions(batch_size=128, train=True, **opts))
    test_loader = make_loader("fashion_mnist", LoaderOptions(batch_size=1000, train=False, **opts))
    config = TrainConfig(3, 128, OptimizerConfig("adam", 2e-3, weight_decay=0.0), (2,))
    state = train(SmallCNN(), train_loader, test_loader, config)
    accuracy = state.history[-1].test_accuracy
    print(f"real Fashion-MNIST, small CNN, 3 epochs: test accuracy {accuracy:.4f}")
    assert accuracy >= 0.88, f"test accuracy {accuracy:.4f} < 0.88: data or loader broken?"
