"""Pruned weights stay exactly zero through training: weights, gradients and optimizer state."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn as nn

from ltsweep.core.jobs import TrainConfig
from ltsweep.core.masks import Mask, MaskApplier
from ltsweep.core.models import create_model, prunable_parameter_names
from ltsweep.core.optim import OptimizerConfig, build_optimizer
from ltsweep.core.pruning import prune_global, random_mask_like
from ltsweep.core.train import train
from tests.common.tiny import digits_loaders

STATE_KEYS = {"sgd": ("momentum_buffer",), "adam": ("exp_avg", "exp_avg_sq")}


def pruned_model(include_output: bool = True) -> tuple[nn.Module, Mask]:
    """vgg_tiny with 70% of its weights (output layer included) pruned by magnitude."""
    model = create_model("vgg_tiny", num_classes=10)
    names = prunable_parameter_names(model, include_output=include_output)
    weights = dict(model.named_parameters())
    mask = prune_global(weights, Mask.ones_like(model, names), 0.7)
    # a random mask as well, so that pruned entries are not just the small ones
    mask = Mask(
        {
            n: m & random_mask_like(Mask({n: m}), torch.Generator().manual_seed(1))[n]
            if n.startswith("features.0")
            else m
            for n, m in mask.items()
        }
    )
    return model, mask


def assert_pruned_zero(model: nn.Module, mask: Mask) -> None:
    params = dict(model.named_parameters())
    for name, m in mask.items():
        pruned = params[name].detach()[~m]
        assert int((pruned != 0).sum()) == 0, f"{name}: {int((pruned != 0).sum())} revived"


@pytest.mark.parametrize(
    "optimizer",
    [
        OptimizerConfig(name="sgd", lr=0.05, momentum=0.9, weight_decay=5e-3),
        OptimizerConfig(name="sgd", lr=0.05, momentum=0.9, weight_decay=1e-4, nesterov=True),
        OptimizerConfig(name="adam", lr=3e-3, weight_decay=1e-3),
    ],
    ids=["sgd-momentum-wd", "sgd-nesterov", "adam-wd"],
)
def test_pruned_weights_stay_zero_through_training(optimizer: OptimizerConfig) -> None:
    model, mask = pruned_model()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    train_loader, test_loader = digits_loaders()
    steps = []

    def on_step(step: int, m: nn.Module) -> None:  # before every optimizer step
        assert_pruned_zero(m, mask)
        steps.append(step)

    config = TrainConfig(epochs=4, batch_size=64, optimizer=optimizer)
    state = train(model, train_loader, test_loader, config, mask=mask, on_step=on_step)
    assert len(steps) == 4 * len(train_loader) == 88
    assert_pruned_zero(model, mask)

    params = dict(model.named_parameters())
    for name, m in mask.items():
        # training really happened: surviving weights moved
        assert not torch.equal(params[name].detach()[m], before[name][m]), name
        st = state.optimizer.state[params[name]]
        for key in STATE_KEYS[optimizer.name]:
            assert key in st, key
            assert int((st[key][~m] != 0).sum()) == 0, f"{name}.{key} non-zero at pruned entries"
            assert int((st[key][m] != 0).sum()) > 0, f"{name}.{key} is all zero: vacuous check"
    # The model learned something on real batches (the mask did not break training).
    assert state.history[-1].test_accuracy > 0.3  # chance is 0.1


def test_without_gradient_masking_momentum_would_leak() -> None:
    """The control that makes the test above meaningful: masking weights alone is not enough."""
    model, mask = pruned_model()
    applier = MaskApplier(model, mask)
    applier.apply_to_weights()
    opt = build_optimizer(model, OptimizerConfig(name="sgd", lr=0.05, momentum=0.9))
    train_loader, _ = digits_loaders()
    x, y = next(iter(train_loader.batches(0)))
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    applier.apply_to_weights()
    name = "features.0.weight"
    buf = opt.state[dict(model.named_parameters())[name]]["momentum_buffer"]
    assert int((buf[~mask[name]] != 0).sum()) > 0


def test_mask_applier_skips_dense_layers_and_zeroes_grads() -> None:
    model, mask = pruned_model(include_output=False)
    mask["fc.weight"] = torch.ones_like(model.fc.weight, dtype=torch.bool)
    applier = MaskApplier(model, mask)
    assert all(p is not model.fc.weight for p in applier.params)
    model(torch.randn(4, 3, 8, 8)).sum().backward()
    applier.apply_to_grads()
    for name, p in model.named_parameters():
        if name in mask:
            assert int((p.grad[~mask[name]] != 0).sum()) == 0


def test_masking_works_through_a_ddp_wrapper(tmp_path: Path) -> None:
    """Under Ray Train the model is wrapped in DistributedDataParallel (``module.`` prefix)."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    dist.init_process_group("gloo", init_method=f"file://{tmp_path}/pg", rank=0, world_size=1)
    try:
        model, mask = pruned_model()
        net = DistributedDataParallel(model)
        train_loader, test_loader = digits_loaders()
        config = TrainConfig(epochs=1, batch_size=64, optimizer=OptimizerConfig(lr=0.05))
        state = train(net, train_loader, test_loader, config, mask=mask)
        assert_pruned_zero(model, mask)
        assert state.history[-1].test_accuracy > 0.2
    finally:
        dist.destroy_process_group()
