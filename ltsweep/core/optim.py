"""Optimizers (registry) and the step-wise lr schedule (docs/design.md#training-defaults)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ltsweep.registry import Registry

if TYPE_CHECKING:  # the planner reads OptimizerConfig and the optimizer names without torch
    import torch


@dataclass(frozen=True)
class OptimizerConfig:
    """SGD defaults (docs/design.md#training-defaults); ``adam_defaults()`` gives Adam's."""

    name: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)


OPTIMIZER_DEFAULTS = {"sgd": OptimizerConfig(), "adam": OptimizerConfig(name="adam", lr=3e-4)}

OptimizerFactory = Callable[
    ["Iterable[torch.nn.Parameter]", OptimizerConfig], "torch.optim.Optimizer"
]
OPTIMIZERS: Registry[OptimizerFactory] = Registry("optimizer")


@OPTIMIZERS.register("sgd")
def _sgd(params: Iterable[torch.nn.Parameter], c: OptimizerConfig) -> torch.optim.Optimizer:
    import torch

    return torch.optim.SGD(
        params,
        lr=c.lr,
        momentum=c.momentum,
        weight_decay=c.weight_decay,
        nesterov=c.nesterov,
        foreach=True,
    )


@OPTIMIZERS.register("adam")
def _adam(params: Iterable[torch.nn.Parameter], c: OptimizerConfig) -> torch.optim.Optimizer:
    import torch

    return torch.optim.Adam(
        params, lr=c.lr, betas=c.betas, weight_decay=c.weight_decay, foreach=True
    )


def build_optimizer(model: torch.nn.Module, config: OptimizerConfig) -> torch.optim.Optimizer:
    return OPTIMIZERS.get(config.name)(model.parameters(), config)


@dataclass(frozen=True)
class Schedule:
    """Step decay at epoch milestones with optional linear warmup; a pure function of the step."""

    base_lr: float
    steps_per_epoch: int
    milestones: tuple[float, ...] = ()
    gamma: float = 0.1
    warmup_epochs: float = 0.0

    def lr_at(self, step: int) -> float:
        epoch = step / self.steps_per_epoch
        lr = self.base_lr * self.gamma ** sum(epoch >= m for m in self.milestones)
        if self.warmup_epochs > 0 and epoch < self.warmup_epochs:
            lr *= (step + 1) / (self.warmup_epochs * self.steps_per_epoch)
        return lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
