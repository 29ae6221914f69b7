"""VGG as in the lottery-ticket papers: conv + BN + ReLU trunk, global average pool, one linear.

Not torchvision's VGG19 (three-layer head, 224 px): Frankle & Carbin's CIFAR VGG19 ends in a single
linear layer after pooling, and so does every member here, small ones included.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ltsweep.core.models.initialization import init_weights
from ltsweep.core.models.registry import MODELS

POOL = "M"
VGG19_PLAN = (
    64,
    64,
    POOL,
    128,
    128,
    POOL,
    256,
    256,
    256,
    256,
    POOL,
    512,
    512,
    512,
    512,
    POOL,
    512,
    512,
    512,
    512,
)
VGG_TINY_PLAN = (16, 16, POOL, 32, 32)


class VGG(nn.Module):
    output_layer_name = "fc"

    def __init__(self, plan: tuple[int | str, ...], num_classes: int, in_channels: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for item in plan:
            if item == POOL:
                layers.append(nn.MaxPool2d(2))
                continue
            layers += [
                nn.Conv2d(channels, int(item), 3, padding=1, bias=False),
                nn.BatchNorm2d(int(item)),
                nn.ReLU(inplace=True),
            ]
            channels = int(item)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # [B, C, H', W']
        return self.fc(torch.flatten(self.pool(x), 1))  # [B, num_classes]


@MODELS.register("vgg19")
def vgg19(num_classes: int) -> VGG:
    return VGG(VGG19_PLAN, num_classes)


@MODELS.register("vgg_tiny")
def vgg_tiny(num_classes: int) -> VGG:
    """Four conv layers (16, 16, 32, 32 channels): the CPU member used by the demo and tests."""
    return VGG(VGG_TINY_PLAN, num_classes)
