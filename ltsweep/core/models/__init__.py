"""Model registry: ``create_model(name, num_classes=..., **options)``.

Every model has an ``output_layer_name`` attribute naming its output layer (an ``nn.Linear``, or
a 1x1 ``nn.Conv2d``); everything else is the trunk. That split is what lets a ticket move to a
dataset with another class count. Names with a ``source:`` prefix (``torchvision:resnet18``,
``timm:...``) are built by ``external``; the rest are registered here or by plugins.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from ltsweep.core.models.external import (
    SEPARATOR,
    build_external,
    check_external,
    find_classifier,
    is_external,
    output_size,
)
from ltsweep.core.models.registry import MODELS
from ltsweep.errors import UserError

if TYPE_CHECKING:  # torch is imported where a model is built, not by the planner
    import torch.nn as nn


def create_model(name: str, num_classes: int, **options: object) -> nn.Module:
    """Build a model; ``options`` are model-specific (e.g. ``stem`` for ResNets)."""
    if is_external(name):
        return build_external(name, num_classes, **options)
    model_names()  # registers the factories (and the plugins')
    model = MODELS.get(name)(num_classes=num_classes, **options)
    if not hasattr(model, "output_layer_name"):  # a plugin's model may leave it to the rule
        model.output_layer_name = find_classifier(model, num_classes)
    return model


def model_names() -> list[str]:
    from ltsweep.core.models import resnet, vgg  # noqa: F401  (registers the factories)

    _load_plugins()
    return MODELS.names()


def _load_plugins() -> None:
    from ltsweep.plugins import load_group

    load_group("models", register_plugin)


def register_plugin(name: str, factory: object) -> None:
    """Register a plugin's model factory under ``name``."""
    if not callable(factory):
        raise UserError(f"gives a {type(factory).__name__}, not a model factory")
    if SEPARATOR in name:
        raise UserError(f"a model name cannot contain {SEPARATOR!r}")
    if name in MODELS:
        raise UserError(f"model {name!r} already exists; rename the plugin's")
    MODELS.register(name, factory)


def check_model(name: str, options: dict[str, Any] | None = None) -> None:
    """A one-line UserError unless ``name`` is a model ltsweep can build."""
    if is_external(name):
        check_external(name, options or {})
        return
    _load_plugins()  # the built-in names are declared: checking one imports no torch
    if name not in MODELS:
        MODELS.get(name)  # the one-line error, with the closest name


def resolved_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """A model's options with the factory's defaults filled in (``num_classes`` aside); an
    external model's options as given (its builder takes ``**kwargs``)."""
    if is_external(name):
        return dict(options)
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


def output_layer(model: nn.Module) -> nn.Linear | nn.Conv2d:
    import torch.nn as nn

    layer = model.get_submodule(model.output_layer_name)
    assert isinstance(layer, nn.Linear | nn.Conv2d)
    return layer


def prunable_parameter_names(model: nn.Module, include_output: bool = False) -> list[str]:
    """Weights of conv and linear layers, chosen by module type; never biases or batch norm."""
    import torch.nn as nn

    names = []
    for module_name, module in model.named_modules():
        if not isinstance(module, nn.Conv2d | nn.Linear):
            continue
        if module_name == model.output_layer_name and not include_output:
            continue
        names.append(f"{module_name}.weight")
    return names


def reset_output_layer(model: nn.Module, num_classes: int) -> nn.Module:
    """Replace the output layer by a fresh one of ``num_classes`` outputs (uses torch's RNG)."""
    import torch.nn as nn

    old = output_layer(model)
    if isinstance(old, nn.Linear):
        new: nn.Module = nn.Linear(old.in_features, num_classes)
    else:
        new = nn.Conv2d(old.in_channels, num_classes, old.kernel_size, old.stride, old.padding)
    new = new.to(old.weight.device, old.weight.dtype)
    parent_name, _, attr = model.output_layer_name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, attr, new)
    return new


__all__ = [
    "MODELS",
    "check_model",
    "create_model",
    "model_names",
    "output_layer",
    "output_size",
    "prunable_parameter_names",
    "reset_output_layer",
    "resolved_options",
]
