"""Compiled vs eager training step (``bench.step.Stepper``), and what a compile costs.

Step rows: vgg_tiny and resnet_tiny at 16 px (batch 64) and 32 px (batch 128), plain and at 20%
density, one thread; blocks of steps, eager and compiled alternated after a warm-up block each
(the compile is paid there); ms per step, ratio eager / compiled per pair, target >= 1.3.
Compile-cost row: fresh processes compile vgg_tiny's masked 16 px step with an empty cache dir and
with a warm one, alternately (bench/README.md, "compile").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from itertools import count
from pathlib import Path
from typing import Any

import torch

from bench.common import REPO_ROOT, interleave, make_row
from bench.step import StepCase, Stepper
from ltsweep.core.compile import CACHE_ENV

NAME = "compile"


def cases(quick: bool) -> list[tuple[StepCase, bool]]:
    shapes = [(16, 64)] if quick else [(16, 64), (32, 128)]
    models = ["vgg_tiny"] if quick else ["vgg_tiny", "resnet_tiny"]
    return [(StepCase(m, s, b), k) for m in models for s, b in shapes for k in (False, True)]


def step_row(case: StepCase, masked: bool, repeats: int, steps: int) -> dict[str, Any]:
    eager, compiled = (Stepper(case, "cpu", c, masked) for c in (False, True))
    started = time.perf_counter()
    compiled.seconds(2)  # the compile (or the cache hit) happens here, outside the timed blocks
    first_call = time.perf_counter() - started
    base, cand = interleave(
        lambda: eager.ms_per_step(steps), lambda: compiled.ms_per_step(steps), repeats
    )
    mode = "compiled" if compiled.compiled else "FELL BACK TO EAGER"
    label = f"{case.label} {'masked' if masked else 'plain'}"
    notes = (
        f"{steps} steps per block, 1 thread; first compiled call {first_call:.1f} s; "
        "ratio = eager ms / compiled ms, pair by pair"
    )
    ratios = [b / c for b, c in zip(base, cand)]
    return make_row(
        f"{NAME}: {label}", "training step time", "ms/step", "eager step", base,
        f"torch.compile step ({mode})", cand, ">= 1.3", notes, ratios,
    )  # fmt: skip


_COMPILE_ONCE = """
import json, time, torch
torch.set_num_threads(1)
from bench.step import StepCase, Stepper
stepper = Stepper(StepCase("vgg_tiny", 16, 64), "cpu", True, True)
seconds = stepper.seconds(1)
print(json.dumps({"seconds": seconds, "compiled": stepper.compiled}))
"""


def compile_seconds(cache: Path) -> float:
    """Seconds of a fresh process's first compiled step, with ``cache`` as its compile cache."""
    env = {**os.environ, CACHE_ENV: str(cache), "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _COMPILE_ONCE],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=True,
    )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not result["compiled"]:
        raise RuntimeError(f"compile fell back to eager: {done.stderr.strip()[-300:]}")
    return float(result["seconds"])


def compile_cost_row(repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ltsweep-compile-") as tmp:
        warm, colds = Path(tmp) / "warm", count()
        compile_seconds(warm)  # fills the cache the cached runs read
        base, cand = interleave(
            lambda: compile_seconds(Path(tmp) / f"cold-{next(colds)}"),
            lambda: compile_seconds(warm),
            repeats,
            warmup=0,
        )
    return make_row(
        f"{NAME}: compile cost (vgg_tiny 16px masked step)", "first compiled step in a fresh process",
        "s", "first compile (empty cache)", base, "cached compile (warm on-disk cache)", cand,
        "cached <= 3 s", "each figure a fresh Python process; ratio = first / cached, pair by pair",
        [b / c for b, c in zip(base, cand)],
    )  # fmt: skip


def run(repeats: int = 5, quick: bool = False) -> list[dict[str, Any]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = [
            step_row(c, m, 2 if quick else repeats, 10 if quick else 30) for c, m in cases(quick)
        ]
    finally:
        torch.set_num_threads(threads)
    return [*rows, compile_cost_row(1 if quick else min(repeats, 3))]
