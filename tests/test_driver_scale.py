"""What made ``plan``/``status`` and the driver fast at grid scale must not change what they mean:
grid_full's trial keys stay byte-identical, and the option-based trunk check agrees with the
parameter shapes of the models themselves."""

from __future__ import annotations

import hashlib
import inspect
import itertools

import pytest
import torch

from ltsweep.core.jobs import ModelConfig
from ltsweep.core.models import MODELS, create_model, model_names, output_layer
from ltsweep.core.models.resnet import STEMS
from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.paths import resolve_sweep_file
from ltsweep.sweep.plan import _compatible, build_plan

# sha256 of grid_full's trial keys, one per line in plan order, before the driver-scale work.
GRID_FULL_KEYS_SHA256 = "bde47fcba54b01313f8c70bfc481b2acbf7787e970668450ddfc81e4b96ec419"
# Every value each model option can take; a new option must be listed here to be checked.
OPTION_VALUES = {"stem": STEMS}


def test_grid_full_trial_keys_are_unchanged() -> None:
    plan = build_plan(load_sweep(resolve_sweep_file("grid_full")))
    digest = hashlib.sha256("\n".join(t.key for t in plan.trials).encode()).hexdigest()
    assert (len(plan.trials), plan.skipped_incompatible) == (11352, 2496), (
        f"grid_full now plans {len(plan.trials)} trials ({plan.skipped_incompatible} skipped as "
        "incompatible); it planned 11352 (2496 skipped)"
    )
    assert digest == GRID_FULL_KEYS_SHA256, (
        "grid_full's trial keys changed: every finished trial of an existing sweep would rerun"
    )


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
