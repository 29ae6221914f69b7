"""One training loop for every trial kind: IMP levels, transferred, random and dense tickets.

The loop is a pure function of (model, mask, loaders, config, start step): deterministic on CPU
for a seed, bf16 autocast and channels-last on CUDA, test accuracy after every epoch, resumable at
epoch boundaries from a ``TrainState`` (``core.checkpoint`` saves and loads it). With ``compile`` the step and evaluation run through
``torch.compile`` (ltsweep.core.compile), falling back to eager where that is unavailable.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ltsweep.core.compile import StepFunctions, bf16_autocast, step_functions
from ltsweep.core.data.loading import EpochLoader
from ltsweep.core.jobs import TrainConfig  # defined with the other job settings, torch-free
from ltsweep.core.masks import Mask, MaskApplier
from ltsweep.core.optim import Schedule, build_optimizer, set_lr
from ltsweep.errors import TrainingDivergedError


@dataclass
class EpochMetrics:
    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    lr: float
    seconds: float
    # the side length this epoch trained at, under a progressive-resolution schedule only
    train_resolution: int | None = None

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class TrainState:
    """Everything an epoch-boundary checkpoint holds."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    next_epoch: int
    history: list[EpochMetrics]
    compiled: bool = False  # whether the last epoch ran compiled (False: asked not to, or fallback)
    steps: str = ""  # "compiled" or "eager: <why>" (StepFunctions.mode), for the trial's record


# Hooks: ``on_step(step, model)`` runs before each optimizer step is taken at global ``step``
# (IMP uses it to capture the late-reset weights); ``on_epoch(state)`` after each evaluation.
StepHook = Callable[[int, nn.Module], None]
EpochHook = Callable[[TrainState], None]


@torch.no_grad()
def evaluate(
    model: nn.Module, loader: EpochLoader, autocast: Any, steps: StepFunctions | None = None
) -> tuple[float, float]:
    """Mean loss and accuracy over the whole split."""
    model.eval()
    total_loss = torch.zeros((), dtype=torch.float64)
    correct, count = 0, 0
    for x, y in loader.batches(0):
        if steps is not None:
            logits = steps.logits(x)
        else:
            with autocast():
                logits = model(x)  # [B, classes]
        total_loss += F.cross_entropy(logits.float(), y, reduction="sum").double().cpu()
        correct += int((logits.argmax(1) == y).sum())
        count += int(y.numel())
    return float(total_loss) / max(count, 1), correct / max(count, 1)


def _autocast_for(device: torch.device, config: TrainConfig) -> Callable[[], Any]:
    return functools.partial(bf16_autocast, device.type, config.amp)


def train_step(
    steps: StepFunctions,
    optimizer: torch.optim.Optimizer,
    applier: MaskApplier | None,
    x: torch.Tensor,
    y: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step as every trial takes it (and the benchmarks time it): loss, backward,
    gradients masked unless the compiled step already did, step, pruned weights back to zero
    (momentum and Adam state can move them otherwise). Returns (logits, loss)."""
    logits, loss = steps.loss(x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if applier and not steps.grads_masked:
        applier.apply_to_grads()
    optimizer.step()
    if applier:
        applier.apply_to_weights()
    return logits, loss


def train(
    model: nn.Module,
    train_loader: EpochLoader,
    test_loader: EpochLoader,
    config: TrainConfig,
    mask: Mask | None = None,
    start_step: int = 0,
    resume: TrainState | None = None,
    on_step: StepHook | None = None,
    on_epoch: EpochHook | None = None,
) -> TrainState:
    """Train from ``start_step`` (late-reset point) or from ``resume`` to the last epoch."""
    device = next(model.parameters()).device
    channels_last = device.type == "cuda" and config.channels_last
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    applier = MaskApplier(model, mask) if mask is not None else None
    if applier:
        applier.apply_to_weights()
    if resume is not None:
        optimizer, first_epoch, history = resume.optimizer, resume.next_epoch, resume.history
    else:
        optimizer = build_optimizer(model, config.optimizer)
        first_epoch, history = start_step // len(train_loader), []
    schedule = Schedule(
        config.optimizer.lr,
        len(train_loader),
        config.milestones,
        config.gamma,
        config.warmup_epochs,
    )
    autocast = _autocast_for(device, config)
    steps = step_functions(model, mask, config.compile, config.amp)
    epoch_run = _EpochRun(model, train_loader, steps, optimizer, applier, schedule, channels_last)
    state = TrainState(model, optimizer, first_epoch, history, steps.compiled, steps.mode)
    for epoch in range(first_epoch, config.epochs):
        started = time.perf_counter()
        train_loss, train_acc = epoch_run.train(epoch, start_step, on_step)
        test_loss, test_acc = evaluate(model, test_loader, autocast, steps)
        lr = optimizer.param_groups[0]["lr"]
        seconds = time.perf_counter() - started
        size = train_loader.opts.size_at(epoch) if hasattr(train_loader, "opts") else None
        history.append(
            EpochMetrics(epoch, train_loss, train_acc, test_loss, test_acc, lr, seconds, size)
        )
        state = TrainState(model, optimizer, epoch + 1, history, steps.compiled, steps.mode)
        if on_epoch is not None:
            on_epoch(state)
    return state


@dataclass
class _EpochRun:
    """One training epoch: every step of the loader, the learning rate set per step."""

    model: nn.Module
    loader: EpochLoader
    steps: StepFunctions
    optimizer: torch.optim.Optimizer
    applier: MaskApplier | None
    schedule: Schedule
    channels_last: bool

    def train(self, epoch: int, start_step: int, on_step: StepHook | None) -> tuple[float, float]:
        """Mean training loss and accuracy of ``epoch``; steps before ``start_step`` (the
        late-reset point may fall inside an epoch) are skipped."""
        self.model.train()
        device = next(self.model.parameters()).device
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen, spe = 0, len(self.loader)
        for i, (x, y) in enumerate(self.loader.batches(epoch)):
            step = epoch * spe + i
            if step < start_step:
                continue
            if on_step is not None:
                on_step(step, self.model)
            set_lr(self.optimizer, self.schedule.lr_at(step))
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            logits, loss = train_step(self.steps, self.optimizer, self.applier, x, y)
            loss_sum += loss.detach() * y.numel()  # loss: mean CE; logits: [B, classes]
            correct += (logits.detach().argmax(1) == y).sum()
            seen += y.numel()
            if i % 50 == 49 and not math.isfinite(float(loss)):
                raise TrainingDivergedError(f"loss became {float(loss)} at step {step}")
        train_loss = float(loss_sum) / max(seen, 1)
        if not math.isfinite(train_loss):
            raise TrainingDivergedError(f"loss became {train_loss} in epoch {epoch}")
        return train_loss, int(correct) / max(seen, 1)
