"""The one training-step benchmark: the step every trial takes (``ltsweep.core.train.train_step``)
on fixed batches, eager or compiled, plain or at 20% density, with ``train()``'s bf16 autocast and
channels-last on CUDA. Its two row sets, ``compile`` (compiled vs eager, and what a compile costs)
and ``train_step`` (masked vs plain), and the GPU check all time ``Stepper`` blocks through
``alternate``, so their figures are of the same step (bench/README.md).
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.common import REPO_ROOT, interleave, make_row, not_run_row
from ltsweep.core.compile import CACHE_ENV, step_functions
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
        self.mask = None
        if masked:  # global magnitude pruning down to DENSITY
            ones = Mask.ones_like(model, prunable_parameter_names(model, False))
            self.mask = prune(model.state_dict(), ones, PruneConfig("global", 1 - DENSITY))
        self.applier = MaskApplier(model, self.mask) if self.mask is not None else None
        if self.applier:
            self.applier.apply_to_weights()
        self.optimizer = build_optimizer(model, OptimizerConfig("sgd", 0.05, momentum=0.9))
        self.schedule = Schedule(0.05, 100, (), 0.1, 0.0)
        self.steps = step_functions(model, self.mask, compiled, amp=self.cuda)
        gen = torch.Generator().manual_seed(1)
        x = torch.randn(case.batch, 3, case.size, case.size, generator=gen)
        y = torch.randint(0, case.classes, (case.batch,), generator=gen)
        self.batches = batches or [(x.to(device), y.to(device))]
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


# -- compile: compiled vs eager, and what a compile costs ---------------------------------------
def compile_row(case: StepCase, masked: bool, repeats: int, steps: int) -> dict[str, Any]:
    steppers = [Stepper(case, "cpu", compiled, masked) for compiled in (False, True)]
    first, (base, cand) = alternate(steppers, repeats, lambda s: s.ms_per_step(steps))
    mode = "compiled" if steppers[1].compiled else "FELL BACK TO EAGER"
    name = f"compile: {case.label} {'masked' if masked else 'plain'}"
    notes = (
        f"{steps} steps per block, 1 thread; first compiled call {first[1]:.1f} s; "
        "ratio = eager ms / compiled ms, pair by pair"
    )
    labels = "eager step", base, f"torch.compile step ({mode})", cand
    ratios = [b / c for b, c in zip(base, cand)]
    return make_row(name, "training step time", "ms/step", *labels, ">= 1.3", notes, ratios)


_COMPILE_ONCE = """
import json, torch
torch.set_num_threads(1)
from bench.bench_step import StepCase, Stepper
stepper = Stepper(StepCase("vgg_tiny", 16, 64), "cpu", True, True)
print(json.dumps({"seconds": stepper.seconds(1), "compiled": stepper.compiled}))
"""


def compile_seconds(cache: Path) -> float:
    """Seconds of a fresh process's first compiled step, with ``cache`` as its compile cache."""
    env = {**os.environ, CACHE_ENV: str(cache), "PYTHONPATH": str(REPO_ROOT)}
    argv = [sys.executable, "-c", _COMPILE_ONCE]
    done = subprocess.run(argv, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    result = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
    if not result.get("compiled"):
        raise RuntimeError(f"the compile process failed or fell back: {done.stderr[-300:]}")
    return float(result["seconds"])


def compile_cost_row(repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ltsweep-compile-") as tmp:
        warm, colds = Path(tmp) / "warm", itertools.count()
        compile_seconds(warm)  # fills the cache the cached runs read

        def cold() -> float:
            return compile_seconds(Path(tmp) / f"cold-{next(colds)}")

        base, cand = interleave(cold, lambda: compile_seconds(warm), repeats, warmup=0)
    name = "compile: compile cost (vgg_tiny 16px masked step)"
    metric, target = "first compiled step in a fresh process", "cached <= 3 s"
    labels = "first compile (empty cache)", base, "cached compile (warm on-disk cache)", cand
    notes = "each figure a fresh Python process; ratio = first / cached, pair by pair"
    ratios = [b / c for b, c in zip(base, cand)]
    return make_row(name, metric, "s", *labels, target, notes, ratios)


def run_compile(repeats: int = 5, quick: bool = False) -> list[dict[str, Any]]:
    shapes = [(16, 64)] if quick else [(16, 64), (32, 128)]
    models = ["vgg_tiny"] if quick else ["vgg_tiny", "resnet_tiny"]
    pairs, steps = (2, 10) if quick else (repeats, 30)
    with one_thread():
        rows = [
            compile_row(StepCase(m, s, b), masked, pairs, steps)
            for m in models
            for s, b in shapes
            for masked in (False, True)
        ]
    return [*rows, compile_cost_row(1 if quick else min(repeats, 3))]


# -- train_step: what masking costs, vs the plain step (a plain PyTorch step, bit for bit) -------
LABELS = ("plain PyTorch step, no mask", "ltsweep step + MaskApplier, 20% density")
CASES = [  # (label, case, embedded dataset or None for synthetic batches, device)
    ("vgg_tiny, shapes 32 px, CPU", StepCase("vgg_tiny", 32, 64), "shapes", "cpu"),
    ("vgg_tiny, digits 16 px (demo), CPU", StepCase("vgg_tiny", 16, 64), "digits", "cpu"),
    ("VGG19, synthetic 32 px, batch 512, GPU", StepCase("vgg19", 32, 512), None, "cuda"),
    ("ResNet-50, synthetic 224 px, batch 128, GPU", RESNET50, None, "cuda"),
]


def real_batches(dataset: str, case: StepCase, count: int) -> list[Batch]:
    """The first ``count`` training batches of an embedded dataset, as a trial loads them."""
    from ltsweep.core.data.loading import LoaderOptions, make_loader

    options = LoaderOptions(batch_size=case.batch, train=True, workers=0, image_size=case.size)
    return list(itertools.islice(make_loader(dataset, options).batches(0), count))


def train_step_row(
    label: str, case: StepCase, data: str | None, device: str, pairs: int, steps: int
):
    name, metric = f"train_step: {label}", "training throughput"
    if device == "cuda" and not torch.cuda.is_available():
        return not_run_row(name, metric, "img/s", *LABELS, ">= 0.95", "no GPU on this machine")
    batches = real_batches(data, case, steps) if data else None
    plain, masked = (Stepper(case, device, False, m, batches) for m in (False, True))
    cpu: dict[Stepper, list[float]] = {plain: [], masked: []}

    def rate(stepper: Stepper) -> float:  # wall images/s; process CPU time on the side
        started = time.process_time()
        value = stepper.images_per_s(steps)
        cpu[stepper].append(time.process_time() - started)
        return value

    _, (base, cand) = alternate([plain, masked], pairs, rate)
    where = "1 thread" if device == "cpu" else "bf16 autocast, channels-last"
    notes = (
        f"{steps} steps of batch {case.batch} per measurement ({where}); mask density "
        f"{masked.mask.density:.2f} (global magnitude); warm-up steps excluded"
    )
    if device == "cpu":
        by_cpu = statistics.median(p / m for p, m in zip(cpu[plain], cpu[masked]))
        notes += f"; ratio on process CPU time {by_cpu:.3g}"
    return make_row(name, metric, "img/s", LABELS[0], base, LABELS[1], cand, ">= 0.95", notes)


def run_train_step(repeats: int = 5, quick: bool = False) -> list[dict[str, Any]]:
    pairs, steps = (min(repeats, 3), 12) if quick else (repeats, 47)
    with one_thread():  # a cpu: 1 trial
        return [
            train_step_row(label, case, data, device, pairs, steps if device == "cpu" else 60)
            for label, case, data, device in CASES
        ]
