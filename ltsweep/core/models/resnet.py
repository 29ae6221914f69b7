"""Bottleneck ResNets: torchvision's ResNet50 layout, with a CIFAR stem option and tiny members.

``resnet50`` has exactly torchvision's parameter names and shapes (a test checks); ``stem="cifar"``
swaps the 7x7/stride-2 conv and max-pool for a 3x3/stride-1 conv, for 32x32 data
(docs/design.md#training-defaults).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ltsweep.core.models.initialization import init_weights
from ltsweep.core.models.registry import MODELS
from ltsweep.errors import UserError

STEMS = ("imagenet", "cifar")


class Bottleneck(nn.Module):
    """torchvision's bottleneck block (1x1, 3x3 with the stride, 1x1 x4; same names and layer
    order, so the same RNG draws), defined here: importing torchvision for it cost ``plan`` and
    every Ray worker seconds."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet(nn.Module):
    output_layer_name = "fc"
    # The input stem: what the ``stem`` option changes (conv1's shape; bn1 follows conv1). A
    # ticket moving between stems has these re-initialised (``transfer.restem_ticket``).
    stem_layer_names = ("conv1", "bn1")

    def __init__(
        self, layers: tuple[int, ...], widths: tuple[int, ...], num_classes: int, stem: str
    ) -> None:
        super().__init__()
        if stem not in STEMS:
            raise UserError(f"unknown ResNet stem {stem!r}; allowed: {', '.join(STEMS)}")
        self.inplanes = widths[0]
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
            self.maxpool: nn.Module = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            self.conv1 = nn.Conv2d(3, widths[0], kernel_size=3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        for i, (blocks, width) in enumerate(zip(layers, widths), start=1):
            setattr(self, f"layer{i}", self._make_layer(width, blocks, stride=1 if i == 1 else 2))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1] * Bottleneck.expansion, num_classes)
        self.num_stages = len(layers)
        init_weights(self)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        out = planes * Bottleneck.expansion
        downsample = None
        if stride != 1 or self.inplanes != out:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, out, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out),
            )
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = out
        layers += [Bottleneck(out, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # [B, w0, H/s, W/s]
        for i in range(1, self.num_stages + 1):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))  # [B, num_classes]


@MODELS.register("resnet50")
def resnet50(num_classes: int, stem: str = "imagenet") -> ResNet:
    return ResNet((3, 4, 6, 3), (64, 128, 256, 512), num_classes, stem)


@MODELS.register("resnet_tiny")
def resnet_tiny(num_classes: int, stem: str = "cifar") -> ResNet:
    """One bottleneck block per stage, widths 8..32: the same code path as resnet50, CPU-sized."""
    return ResNet((1, 1, 1), (8, 16, 32), num_classes, stem)
