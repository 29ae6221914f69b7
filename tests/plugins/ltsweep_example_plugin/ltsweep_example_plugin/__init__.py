"""An ltsweep plugin: the ``stripes`` dataset (4 classes of striped 8x8 images, generated) and
the ``tiny_cnn`` model, registered through the entry points in pyproject.toml."""

import torch
from torch import nn

from ltsweep.core.data import DatasetSpec, TensorSplit


def read_stripes(location, split: str, size: int) -> TensorSplit:
    gen = torch.Generator().manual_seed(0 if split == "train" else 1)
    n = 64 if split == "train" else 32
    labels = torch.arange(n) % 4  # class k: stripes every k + 2 rows
    rows = torch.arange(size)
    images = torch.randint(0, 60, (n, 3, size, size), generator=gen, dtype=torch.uint8)
    for i, k in enumerate(labels.tolist()):
        images[i, :, rows % (k + 2) == 0, :] += 180
    return TensorSplit(images, labels)


stripes = DatasetSpec(
    name="stripes",
    num_classes=4,
    image_size=8,
    mean=(0.3,) * 3,
    std=(0.3,) * 3,
    flip=False,
    storage="tensor",
    reader=read_stripes,
    embedded=True,
    train_size=64,
)


class TinyCNN(nn.Module):
    output_layer_name = "head"  # the layer a transfer replaces; never pruned

    def __init__(self, num_classes: int, width: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)).mean((2, 3)))


def tiny_cnn(num_classes: int, width: int = 8) -> nn.Module:
    return TinyCNN(num_classes, width)
