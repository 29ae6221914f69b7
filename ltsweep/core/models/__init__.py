"""Model registry: ``create_model(name, num_classes=..., **options)``.

Every model has an ``output_layer_name`` attribute naming its final ``nn.Linear``; everything
else is the trunk. That split is what lets a ticket move to a dataset with another class count.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch.nn as nn

from ltsweep.core.models.registry import MODELS


def create_model(name: str, num_classes: int, **options: object) -> nn.Module:
    """Build a registered model; ``options`` are model-specific (e.g. ``stem`` for ResNets)."""
    from ltsweep.core.models import resnet, vgg  # noqa: F401  (registers the factories)

    return MODELS.get(name)(num_classes=num_classes, **options)


def model_names() -> list[str]:
    from ltsweep.core.models import resnet, vgg  # noqa: F401

    return MODELS.names()


def resolved_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """A model's options with the factory's defaults filled in (``num_classes`` aside)."""
    model_names()
    params = inspect.signature(MODELS.get(name)).parameters
    defaults = {
        k: p.default
        for k, p in params.items()
        if k != "num_classes" and p.default is not inspect.Parameter.empty
    }
    return {**defaults, **options}


STEM_OPTION = "stem"  # the model option that selects the input stem (ResNets: imagenet | cifar)


def stem_layer_names(model: nn.Module) -> tuple[str, ...]:
    """The modules the ``stem`` option shapes; empty for models without stem variants."""
    return tuple(getattr(model, "stem_layer_names", ()))


def output_layer(model: nn.Module) -> nn.Linear:
    layer = model.get_submodule(model.output_layer_name)
    assert isinstance(layer, nn.Linear)
    return layer


def prunable_parameter_names(model: nn.Module, include_output: bool = False) -> list[str]:
    """Weights of conv and linear layers, chosen by module type; never biases or batch norm."""
    names = []
    for module_name, module in model.named_modules():
        if not isinstance(module, nn.Conv2d | nn.Linear):
            continue
        if module_name == model.output_layer_name and not include_output:
            continue
        names.append(f"{module_name}.weight")
    return names


def reset_output_layer(model: nn.Module, num_classes: int) -> nn.Linear:
    """Replace the output layer by a fresh one of ``num_classes`` outputs (uses torch's RNG)."""
    old = output_layer(model)
    new = nn.Linear(old.in_features, num_classes).to(old.weight.device, old.weight.dtype)
    parent_name, _, attr = model.output_layer_name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, attr, new)
    return new
