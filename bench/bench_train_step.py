"""Training step: ltsweep's loop with a mask applied vs. a plain PyTorch loop without masks.

Candidate: ``ltsweep.core.train.train`` with a 20%-density ``Mask`` (``MaskApplier`` zeroes the
gradients of pruned weights before each step and the weights after it). Baseline: the same loop
written out below with the masking removed and nothing else changed: the same model and initial
weights, the same loader (``make_loader``), optimizer (``build_optimizer``), schedule, autocast
and channels-last choice, loss/accuracy bookkeeping and end-of-epoch evaluation. So the ratio
isolates what masking costs. Figure: training images per second; target ratio >= 0.95.

CPU rows use the embedded data at one thread (as a ``cpu: 1`` trial). CUDA rows (VGG19 at 32 px,
ResNet-50 at 224 px, synthetic data resident on the GPU) run only where a GPU is present.
"""

from __future__ import annotations

import copy
import itertools
import math
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from bench.common import interleave, make_row, not_run_row
from ltsweep.core.data.loading import EpochLoader, LoaderOptions, make_loader
from ltsweep.core.jobs import TrainConfig
from ltsweep.core.masks import Mask
from ltsweep.core.models import create_model, prunable_parameter_names
from ltsweep.core.optim import OptimizerConfig, Schedule, build_optimizer, set_lr
from ltsweep.core.pruning import PruneConfig, prune
from ltsweep.core.train import _autocast_for, evaluate, train
from ltsweep.errors import TrainingDivergedError

NAME = "train_step"
METRIC = "training throughput"
TARGET = ">= 0.95"
DENSITY = 0.2
BASELINE = "plain PyTorch loop, no mask"
CANDIDATE = "ltsweep train() + MaskApplier, 20% density"


class CountingLoader:
    """The first ``limit`` batches of a loader's epoch, counting the images it hands out."""

    def __init__(self, loader: EpochLoader, limit: int | None = None) -> None:
        self.loader = loader
        self.limit = min(limit or len(loader), len(loader))
        self.num_examples = loader.num_examples
        self.images = 0

    def __len__(self) -> int:
        return self.limit

    def batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in itertools.islice(self.loader.batches(epoch), self.limit):
            self.images += int(y.shape[0])
            yield x, y


class SyntheticLoader:
    """``steps`` batches of fixed random images already on the device (no input pipeline)."""

    def __init__(self, batch: int, size: int, classes: int, steps: int, device: str) -> None:
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(batch, 3, size, size, generator=gen).to(device)  # [B, 3, S, S]
        self.y = torch.randint(0, classes, (batch,), generator=gen).to(device)  # [B]
        self.steps, self.num_examples = steps, steps * batch

    def __len__(self) -> int:
        return self.steps

    def batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for _ in range(self.steps):
            yield self.x, self.y


def plain_train(
    model: nn.Module, train_loader: EpochLoader, test_loader: EpochLoader, config: TrainConfig
) -> list[dict[str, float]]:
    """``ltsweep.core.train.train`` line for line, minus the ``MaskApplier`` calls and hooks."""
    device = next(model.parameters()).device
    if device.type == "cuda" and config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, config.optimizer)
    spe = len(train_loader)
    schedule = Schedule(
        config.optimizer.lr, spe, config.milestones, config.gamma, config.warmup_epochs
    )
    autocast = _autocast_for(device, config)
    history = []
    for epoch in range(config.epochs):
        started = time.perf_counter()
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen = 0
        for i, (x, y) in enumerate(train_loader.batches(epoch)):
            step = epoch * spe + i
            set_lr(optimizer, schedule.lr_at(step))
            if device.type == "cuda" and config.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast():
                logits = model(x)  # [B, classes]
                loss = F.cross_entropy(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * y.numel()
            correct += (logits.detach().argmax(1) == y).sum()
            seen += y.numel()
            if i % 50 == 49 and not math.isfinite(float(loss)):
                raise TrainingDivergedError(f"loss became {float(loss)} at step {step}")
        train_loss = float(loss_sum) / max(seen, 1)
        if not math.isfinite(train_loss):
            raise TrainingDivergedError(f"loss became {train_loss} in epoch {epoch}")
        test_loss, test_acc = evaluate(model, test_loader, autocast)
        history.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "test_loss": test_loss,
                "test_accuracy": test_acc,
                "seconds": time.perf_counter() - started,
            }
        )
    return history


@dataclass
class Case:
    """One row: a model on some data, on a device, ``steps`` optimizer steps per measurement."""

    label: str
    model: str
    model_options: dict[str, Any]
    classes: int
    device: str
    batch: int
    steps: int
    warmup_steps: int
    dataset: str | None = None  # None: synthetic data on the device
    image_size: int = 32
    threads: int | None = 1


def _loaders(case: Case, steps: int) -> tuple[Any, Any]:
    if case.dataset is None:
        return (
            SyntheticLoader(case.batch, case.image_size, case.classes, steps, case.device),
            SyntheticLoader(case.batch, case.image_size, case.classes, 1, case.device),
        )
    common = dict(seed=0, device=case.device, workers=0, image_size=case.image_size)
    train_l = make_loader(case.dataset, LoaderOptions(batch_size=case.batch, train=True, **common))
    test_l = make_loader(case.dataset, LoaderOptions(batch_size=case.batch, train=False, **common))
    # One test batch: both loops evaluate it identically; timing is about the training step.
    return CountingLoader(train_l, steps), CountingLoader(test_l, 1)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure_case(case: Case, repeats: int) -> dict[str, Any]:
    torch.manual_seed(0)
    model0 = create_model(case.model, case.classes, **case.model_options).to(case.device)
    names = prunable_parameter_names(model0)
    weights = dict(model0.named_parameters())
    mask = prune(weights, Mask.ones_like(model0, names), PruneConfig(rate=1 - DENSITY))
    mask = mask.to(case.device)
    config = TrainConfig(epochs=1, batch_size=case.batch, optimizer=OptimizerConfig("sgd", lr=0.05))

    cpu_rates: dict[bool, list[float]] = {False: [], True: []}

    def one(masked: bool, steps: int) -> float:
        model = copy.deepcopy(model0)
        train_l, test_l = _loaders(case, steps)
        _sync(case.device)
        started, cpu_started = time.perf_counter(), time.process_time()
        if masked:
            train(model, train_l, test_l, config, mask=mask)
        else:
            plain_train(model, train_l, test_l, config)
        _sync(case.device)
        seconds = time.perf_counter() - started
        images = train_l.images if isinstance(train_l, CountingLoader) else train_l.num_examples
        cpu_rates[masked].append(images / max(time.process_time() - cpu_started, 1e-9))
        return images / seconds

    previous = torch.get_num_threads()
    if case.threads:
        torch.set_num_threads(case.threads)
    try:
        one(False, case.warmup_steps), one(True, case.warmup_steps)  # warm-up, discarded
        base, cand = interleave(
            lambda: one(False, case.steps), lambda: one(True, case.steps), repeats, warmup=0
        )
    finally:
        torch.set_num_threads(previous)
    # Images per CPU-second of this process: far less sensitive to other processes' load than
    # wall time on a shared machine (the pairs are the same; warm-up calls are dropped).
    cpu = [c / b for b, c in zip(cpu_rates[False][1:], cpu_rates[True][1:])]
    where = (
        f"{case.threads} thread"
        if case.device == "cpu"
        else torch.cuda.get_device_name(0) + ", bf16 autocast, channels-last"
    )
    notes = (
        f"{case.steps} steps of batch {case.batch} per measurement ({where}); "
        f"mask density {mask.density:.2f} (global magnitude); warm-up "
        f"{case.warmup_steps} steps each, excluded; eval on 1 batch in both loops"
    )
    if case.device == "cpu":
        notes += (
            f"; ratio on process CPU time {statistics.median(cpu):.3g} "
            f"({min(cpu):.3g}–{max(cpu):.3g})"
        )
    return make_row(
        f"{NAME}: {case.label}", METRIC, "img/s", BASELINE, base, CANDIDATE, cand, TARGET, notes
    )


def cpu_cases(quick: bool) -> list[Case]:
    steps = 12 if quick else 47  # 47 batches of 64 = one epoch of shapes (3,000 images)
    return [
        Case("vgg_tiny, shapes 32 px, CPU", "vgg_tiny", {}, 10, "cpu", 64, steps, 5, "shapes", 32),
        Case(
            "vgg_tiny, digits 16 px (demo), CPU",
            "vgg_tiny",
            {},
            10,
            "cpu",
            64,
            min(steps, 22),
            5,
            "digits",
            16,
        ),
    ]


GPU_CASES = [
    ("VGG19, synthetic 32 px, batch 512, GPU", "vgg19", {}, 10, 512, 32),
    (
        "ResNet-50, synthetic 224 px, batch 128, GPU",
        "resnet50",
        {"stem": "imagenet"},
        1000,
        128,
        224,
    ),
]


def gpu_cases(quick: bool) -> list[Case]:
    steps, warm = (20, 10) if quick else (60, 20)
    return [
        Case(label, model, opts, classes, "cuda", batch, steps, warm, None, size, None)
        for label, model, opts, classes, batch, size in GPU_CASES
    ]


def run(repeats: int = 5, quick: bool = False) -> list[dict[str, Any]]:
    repeats = min(repeats, 3) if quick else repeats
    rows = [measure_case(c, repeats) for c in cpu_cases(quick)]
    if torch.cuda.is_available():
        rows += [measure_case(c, repeats) for c in gpu_cases(quick)]
    else:
        rows += [
            not_run_row(
                f"{NAME}: {label}",
                METRIC,
                "img/s",
                BASELINE,
                CANDIDATE,
                TARGET,
                "no GPU on this machine",
            )
            for label, *_ in GPU_CASES
        ]
    return rows
