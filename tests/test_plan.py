"""The planner's transfer compatibility check (``sweep/plan.py``), read from model options, agrees
with the parameter shapes of the models themselves."""

from __future__ import annotations

import inspect
import itertools

import pytest
import torch

from ltsweep.core.jobs import ModelConfig
from ltsweep.core.models import MODELS, create_model, model_names, output_layer
from ltsweep.core.models.resnet import STEMS
from ltsweep.sweep.plan import _compatible

# Every value each model option can take; a new option must be listed here to be checked.
OPTION_VALUES = {"stem": STEMS}


def _variants(name: str) -> list[ModelConfig]:
    params = [p for p in inspect.signature(MODELS.get(name)).parameters if p != "num_classes"]
    missing = [p for p in params if p not in OPTION_VALUES]
    assert not missing, f"model {name} has options {missing} without values in OPTION_VALUES"
    combos = itertools.product(*(OPTION_VALUES[p] for p in params))
    return [ModelConfig(name)] + [ModelConfig(name, tuple(zip(params, c))) for c in combos]


def _trunk(model: ModelConfig) -> list[tuple[str, tuple[int, ...]]]:
    with torch.device("meta"):
        net = create_model(model.name, 10, **model.kwargs)
    head = output_layer(net)
    skip = {id(head.weight), id(head.bias)}
    return [(k, tuple(v.shape)) for k, v in net.named_parameters() if id(v) not in skip]


@pytest.mark.parametrize("name", model_names())
def test_compatible_iff_trunk_shapes_match(name: str) -> None:
    variants = _variants(name)
    trunks = {v: _trunk(v) for v in variants}
    for a, b in itertools.product(variants, repeat=2):
        same_shapes = trunks[a] == trunks[b]
        assert _compatible(a, b) == same_shapes, (
            f"{name}: plan calls {dict(a.options)} -> {dict(b.options)} "
            f"{'compatible' if _compatible(a, b) else 'incompatible'}, but their trunk shapes "
            f"{'match' if same_shapes else 'differ'}"
        )
