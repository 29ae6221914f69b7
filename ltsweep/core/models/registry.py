"""The model registry the factory modules (``vgg``, ``resnet``) register into; apart from
``ltsweep.core.models`` so that they import this module, not the package that imports them.

The built-in names are declared here with the module that registers them, so that a sweep's
model names are checked without importing those modules (and torch with them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ltsweep.registry import Registry

if TYPE_CHECKING:
    import torch.nn as nn

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")
MODELS.declare("ltsweep.core.models.vgg", "vgg19", "vgg_tiny")
MODELS.declare("ltsweep.core.models.resnet", "resnet50", "resnet_tiny")
