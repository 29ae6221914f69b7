"""The weight initialization every built-in model shares (VGG and ResNet alike):
He-normal convolutions (fan-out, ReLU gain), batch norms at scale 1 and shift 0; linear layers
keep torch's default."""

from __future__ import annotations

import torch.nn as nn


def init_weights(model: nn.Module) -> None:
    """Initialize ``model``'s convolutions and batch norms in place, in module order (so a seed
    gives the same weights as it always did)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
