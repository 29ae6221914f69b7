"""Models by name from the ecosystem: ``torchvision:<name>`` and ``timm:<name>``.

Built from a random initialization with the target's class count (``weights`` is refused:
a lottery ticket is a subnetwork of its own initialization). The output layer, which
``output_layer_name`` names and a transfer replaces, is found by one rule (``find_classifier``):
timm's ``get_classifier()`` where the model has it; else the last ``nn.Linear``, or 1x1
``nn.Conv2d`` (SqueezeNet), in definition order whose output count is the class count (torchvision's
``fc``, ``classifier[-1]``, ``heads.head``). torchvision and timm are imported only when a sweep
names such a model: ``plan`` of the registered models stays quick. GoogLeNet and Inception-v3
are built without their auxiliary heads (``aux_logits: false``) unless the options say otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ltsweep.errors import UserError
from ltsweep.registry import Registry

if TYPE_CHECKING:  # the planner checks names without torch; a model is built with it
    import torch.nn as nn

SEPARATOR = ":"
REFUSED_OPTIONS = {
    "weights": "ltsweep trains from a random initialization (a ticket is a subnetwork of it)",
    "pretrained": "ltsweep trains from a random initialization (a ticket is a subnetwork of it)",
    "num_classes": "the class count comes from the dataset",
}


def _torchvision_names() -> list[str]:
    import torchvision.models as tvm

    return tvm.list_models(module=tvm)  # classification models only (not detection, video…)


AUX_HEADS = ("googlenet", "inception_v3")  # their auxiliary heads return a tuple when training


def _torchvision_build(name: str, num_classes: int, **options: object) -> nn.Module:
    import torchvision.models as tvm

    if name in AUX_HEADS:
        options = {"aux_logits": False, "init_weights": True, **options}
    return tvm.get_model(name, weights=None, num_classes=num_classes, **options)


def _timm():
    try:
        import timm
    except ImportError:
        raise UserError(
            "timm: models need the timm package: pip install 'ltsweep[timm]' (or pip install timm)"
        ) from None
    return timm


def _timm_names() -> list[str]:
    return _timm().list_models()


def _timm_build(name: str, num_classes: int, **options: object) -> nn.Module:
    return _timm().create_model(name, pretrained=False, num_classes=num_classes, **options)


SOURCES: Registry[tuple[Callable[[], list[str]], Callable[..., nn.Module]]] = Registry(
    "model source"
)
SOURCES.register("torchvision", (_torchvision_names, _torchvision_build))
SOURCES.register("timm", (_timm_names, _timm_build))


def is_external(name: str) -> bool:
    return SEPARATOR in name


def check_external(name: str, options: dict[str, object]) -> None:
    """A one-line UserError unless ``source:model`` names a model that source can build."""
    source, _, model = name.partition(SEPARATOR)
    names, _ = SOURCES.get(source)
    known = names()
    if model not in known:
        import difflib

        close = difflib.get_close_matches(model, known, n=1)
        hint = f" (did you mean {source}:{close[0]}?)" if close else ""
        raise UserError(f"{source} has no classification model {model!r}{hint}")
    for key in options:
        if key in REFUSED_OPTIONS:
            raise UserError(f"model {name}: option {key!r} is not allowed: {REFUSED_OPTIONS[key]}")


def output_size(layer: nn.Module) -> int:
    import torch.nn as nn

    return layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels  # type: ignore[return-value]


def _is_head(module: nn.Module, num_classes: int) -> bool:
    import torch.nn as nn

    if isinstance(module, nn.Linear):
        return module.out_features == num_classes
    if isinstance(module, nn.Conv2d):
        return module.out_channels == num_classes and module.kernel_size == (1, 1)
    return False


def find_classifier(model: nn.Module, num_classes: int) -> str:
    """The output layer's module name, by the rule in the module docstring."""
    get_classifier = getattr(model, "get_classifier", None)
    if callable(get_classifier):
        head = get_classifier()
        for module_name, module in model.named_modules():
            if module is head and _is_head(module, num_classes):
                return module_name
    heads = [n for n, m in model.named_modules() if _is_head(m, num_classes)]
    if not heads:
        raise UserError(
            f"{type(model).__name__} has no nn.Linear (or 1x1 nn.Conv2d) with {num_classes} "
            "outputs to use as its output layer; register it with output_layer_name instead"
        )
    return heads[-1]


def build_external(name: str, num_classes: int, **options: object) -> nn.Module:
    """Build ``source:model`` and name its output layer (``output_layer_name``)."""
    check_external(name, options)
    source, _, model_name = name.partition(SEPARATOR)
    _, build = SOURCES.get(source)
    model = build(model_name, num_classes, **options)
    model.output_layer_name = find_classifier(model, num_classes)
    return model
