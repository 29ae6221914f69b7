"""The model registry the factory modules (``vgg``, ``resnet``) register into; apart from
``ltsweep.core.models`` so that they import this module, not the package that imports them."""

from __future__ import annotations

from collections.abc import Callable

import torch.nn as nn

from ltsweep.registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")
