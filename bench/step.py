"""The one training-step benchmark: the step every trial takes (``ltsweep.core.train.train_step``)
on fixed batches, eager or compiled, plain or at 20% density, with ``train()``'s bf16 autocast and
channels-last on CUDA. The compile rows, the training-step rows and the GPU check all time it
here, so their figures are of the same step. Imports only torch and ``ltsweep.core``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from ltsweep.core.compile import step_functions
from ltsweep.core.masks import Mask, MaskApplier
from ltsweep.core.models import create_model, prunable_parameter_names
from ltsweep.core.optim import OptimizerConfig, Schedule, build_optimizer, set_lr
from ltsweep.core.pruning import PruneConfig, prune
from ltsweep.core.train import train_step

DENSITY = 0.2
Batch = tuple[torch.Tensor, torch.Tensor]  # images [B, 3, S, S], labels [B]


@dataclass(frozen=True)
class StepCase:
    model: str
    size: int
    batch: int
    classes: int = 10
    options: tuple[tuple[str, Any], ...] = ()  # create_model options, e.g. (("stem", "cifar"),)

    @property
    def label(self) -> str:
        return f"{self.model} {self.size}px b{self.batch}"


RESNET50 = StepCase("resnet50", 224, 128, 1000, (("stem", "imagenet"),))  # the GPU rows


def density_mask(model: torch.nn.Module, density: float = DENSITY) -> Mask:
    """Global magnitude pruning of the prunable weights down to ``density``."""
    ones = Mask.ones_like(model, prunable_parameter_names(model, False))
    return prune(model.state_dict(), ones, PruneConfig("global", 1 - density))


def synthetic_batch(case: StepCase, device: str) -> Batch:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(case.batch, 3, case.size, case.size, generator=gen)
    y = torch.randint(0, case.classes, (case.batch,), generator=gen)
    return x.to(device), y.to(device)


class Stepper:
    """A model, its optimizer and (when ``masked``) its mask, stepped as ``train()`` steps it."""

    def __init__(
        self,
        case: StepCase,
        device: str = "cpu",
        compiled: bool = False,
        masked: bool = False,
        batches: list[Batch] | None = None,
    ) -> None:
        torch.manual_seed(0)
        self.case, self.device = case, device
        self.cuda = device == "cuda"
        model = create_model(case.model, case.classes, **dict(case.options)).to(device)
        if self.cuda:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.mask = density_mask(model) if masked else None
        self.applier = MaskApplier(model, self.mask) if self.mask is not None else None
        if self.applier:
            self.applier.apply_to_weights()
        self.optimizer = build_optimizer(model, OptimizerConfig("sgd", 0.05, momentum=0.9))
        self.schedule = Schedule(0.05, 100, (), 0.1, 0.0)
        self.steps = step_functions(model, self.mask, compiled, amp=self.cuda)
        self.batches = batches or [synthetic_batch(case, device)]
        self.count = 0
        model.train()

    @property
    def compiled(self) -> bool:
        return self.steps.compiled

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        set_lr(self.optimizer, self.schedule.lr_at(self.count))
        if self.cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        self.count += 1
        return train_step(self.steps, self.optimizer, self.applier, x, y)[1]

    def seconds(self, n: int) -> float:
        """Wall seconds of ``n`` steps, cycling through the batches (the GPU synchronised)."""
        if self.cuda:
            torch.cuda.synchronize()
        started = time.perf_counter()
        for i in range(n):
            self.step(*self.batches[i % len(self.batches)])
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - started

    def images_per_s(self, n: int) -> float:
        return self.case.batch * n / self.seconds(n)

    def ms_per_step(self, n: int) -> float:
        return 1000 * self.seconds(n) / n


def alternate(
    steppers: list[Stepper], pairs: int, measure: Callable[[Stepper], float]
) -> tuple[list[float], list[list[float]]]:
    """(first-call seconds, figures per block) of each stepper: two warm-up steps each, timed
    apart (the compile, or its cache hit, is paid there), then ``pairs`` rounds of one
    ``measure`` block each, A B A B, so that drift in the machine's load hits all alike."""
    first = []
    for stepper in steppers:
        started = time.perf_counter()
        stepper.seconds(2)
        first.append(time.perf_counter() - started)
    figures: list[list[float]] = [[] for _ in steppers]
    for _ in range(pairs):
        for stepper, values in zip(steppers, figures):
            values.append(measure(stepper))
    return first, figures


@contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one thread (a ``cpu: 1`` trial), restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
