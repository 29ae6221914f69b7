"""Compiled vs eager training step (ltsweep.core.compile), and what a compile costs.

Step rows: the step ``train()`` runs (lr set, forward + loss, backward, gradient masking unless
the compiled graph already did it, optimizer step, weight masking), on synthetic batches at one
thread (a ``cpu: 1`` trial), for vgg_tiny and resnet_tiny at 16 px (batch 64) and 32 px
(batch 128), plain and at 20% density. Eager (baseline) and compiled (candidate) blocks of steps
alternate A B A B after a warm-up block each (the compile is paid in the warm-up); the figure is
ms per step, the ratio eager / compiled per pair (> 1: compiled is faster). Target >= 1.3.

Compile-cost row: a fresh process compiles vgg_tiny's masked 16 px step with an empty cache dir
(first compile) and with the cache the previous one filled (cached compile), alternately.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.common import REPO_ROOT, interleave, make_row
from ltsweep.core.compile import CACHE_ENV, step_functions
from ltsweep.core.masks import Mask, MaskApplier
from ltsweep.core.models import create_model, prunable_parameter_names
from ltsweep.core.optim import OptimizerConfig, Schedule, build_optimizer, set_lr
from ltsweep.core.pruning import PruneConfig, prune
from ltsweep.core.train import train_step

NAME = "compile"
TARGET = ">= 1.3"
DENSITY = 0.2


@dataclass(frozen=True)
class Case:
    model: str
    size: int
    batch: int
    masked: bool

    @property
    def label(self) -> str:
        return f"{self.model} {self.size}px b{self.batch} {'masked' if self.masked else 'plain'}"


def cases(quick: bool) -> list[Case]:
    shapes = [(16, 64)] if quick else [(16, 64), (32, 128)]
    models = ["vgg_tiny"] if quick else ["vgg_tiny", "resnet_tiny"]
    return [Case(m, s, b, k) for m in models for s, b in shapes for k in (False, True)]


class StepBench:
    """One model, optimizer and (optional) mask, stepped by eager or compiled step functions."""

    def __init__(self, case: Case, compiled: bool) -> None:
        torch.manual_seed(0)
        self.model = create_model(case.model, 10)
        self.mask: Mask | None = None
        if case.masked:
            names = prunable_parameter_names(self.model, False)
            ones = Mask.ones_like(self.model, names)
            self.mask = prune(self.model.state_dict(), ones, PruneConfig("global", 1 - DENSITY))
        self.applier = MaskApplier(self.model, self.mask) if self.mask is not None else None
        if self.applier:
            self.applier.apply_to_weights()
        self.optimizer = build_optimizer(self.model, OptimizerConfig("sgd", 0.05))
        self.schedule = Schedule(0.05, 100, (), 0.1, 0.0)
        self.steps = step_functions(self.model, self.mask, compiled, amp=False)
        gen = torch.Generator().manual_seed(1)
        self.x = torch.randn(case.batch, 3, case.size, case.size, generator=gen)
        self.y = torch.randint(0, 10, (case.batch,), generator=gen)
        self.model.train()

    def block(self, n: int) -> float:
        """Milliseconds per step over ``n`` steps."""
        started = time.perf_counter()
        for step in range(n):
            set_lr(self.optimizer, self.schedule.lr_at(step))
            train_step(self.steps, self.optimizer, self.applier, self.x, self.y)
        return (time.perf_counter() - started) * 1000 / n


def step_row(case: Case, repeats: int, steps: int) -> dict[str, Any]:
    eager, compiled = StepBench(case, False), StepBench(case, True)
    started = time.perf_counter()
    compiled.block(2)  # the compile (or the cache hit) happens here, outside the timed blocks
    first_call = time.perf_counter() - started
    base, cand = interleave(lambda: eager.block(steps), lambda: compiled.block(steps), repeats)
    mode = "compiled" if compiled.steps.compiled else "FELL BACK TO EAGER"
    return make_row(
        f"{NAME}: {case.label}",
        "training step time",
        "ms/step",
        "eager step",
        base,
        f"torch.compile step ({mode})",
        cand,
        TARGET,
        notes=f"{steps} steps per block, 1 thread; first compiled call {first_call:.1f} s; "
        "ratio = eager ms / compiled ms, pair by pair",
        ratios=[b / c for b, c in zip(base, cand)],
    )


_COMPILE_ONCE = """
import json, sys, time
import torch
torch.set_num_threads(1)
from bench.bench_compile import Case, StepBench
bench = StepBench(Case("vgg_tiny", 16, 64, True), True)
started = time.perf_counter()
bench.block(1)
print(json.dumps({"seconds": time.perf_counter() - started, "compiled": bench.steps.compiled}))
"""


def compile_seconds(cache: Path) -> float:
    """Seconds of a fresh process's first compiled step, with ``cache`` as its compile cache."""
    env = {**os.environ, CACHE_ENV: str(cache), "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _COMPILE_ONCE],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not result["compiled"]:
        raise RuntimeError(f"compile fell back to eager: {done.stderr.strip()[-300:]}")
    return float(result["seconds"])


def compile_cost_row(repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ltsweep-compile-") as tmp:
        warm = Path(tmp) / "warm"
        compile_seconds(warm)  # fills the cache the cached runs read
        colds = iter(range(10_000))

        def first() -> float:
            return compile_seconds(Path(tmp) / f"cold-{next(colds)}")

        base, cand = interleave(first, lambda: compile_seconds(warm), repeats, warmup=0)
    return make_row(
        f"{NAME}: compile cost (vgg_tiny 16px masked step)",
        "first compiled step in a fresh process",
        "s",
        "first compile (empty cache)",
        base,
        "cached compile (warm on-disk cache)",
        cand,
        "cached <= 3 s",
        notes="each figure a fresh Python process; ratio = first / cached, pair by pair",
        ratios=[b / c for b, c in zip(base, cand)],
    )


def run(repeats: int = 5, quick: bool = False) -> list[dict[str, Any]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = [step_row(c, 2 if quick else repeats, 10 if quick else 30) for c in cases(quick)]
    finally:
        torch.set_num_threads(threads)
    rows.append(compile_cost_row(1 if quick else min(repeats, 3)))
    return rows
