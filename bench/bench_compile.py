"""Compiled vs eager training step (``bench.step``): ms per step, blocks alternated, ratio eager /
compiled; and what a compile costs: fresh processes compiling vgg_tiny's masked 16 px step with
an empty cache dir and with a warm one, alternately (bench/README.md, "compile").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from itertools import count
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, interleave, make_row
from bench.step import StepCase, Stepper, alternate, one_thread
from ltsweep.core.compile import CACHE_ENV


def step_row(case: StepCase, masked: bool, repeats: int, steps: int) -> dict[str, Any]:
    steppers = [Stepper(case, "cpu", compiled, masked) for compiled in (False, True)]
    first, (base, cand) = alternate(steppers, repeats, lambda s: s.ms_per_step(steps))
    mode = "compiled" if steppers[1].compiled else "FELL BACK TO EAGER"
    name = f"compile: {case.label} {'masked' if masked else 'plain'}"
    metric, candidate = "training step time", f"torch.compile step ({mode})"
    notes = (
        f"{steps} steps per block, 1 thread; first compiled call {first[1]:.1f} s; "
        "ratio = eager ms / compiled ms, pair by pair"
    )
    ratios = [b / c for b, c in zip(base, cand)]
    return make_row(
        name, metric, "ms/step", "eager step", base, candidate, cand, ">= 1.3", notes, ratios
    )


_COMPILE_ONCE = """
import json, torch
torch.set_num_threads(1)
from bench.step import StepCase, Stepper
stepper = Stepper(StepCase("vgg_tiny", 16, 64), "cpu", True, True)
print(json.dumps({"seconds": stepper.seconds(1), "compiled": stepper.compiled}))
"""


def compile_seconds(cache: Path) -> float:
    """Seconds of a fresh process's first compiled step, with ``cache`` as its compile cache."""
    env = {**os.environ, CACHE_ENV: str(cache), "PYTHONPATH": str(REPO_ROOT)}
    argv = [sys.executable, "-c", _COMPILE_ONCE]
    done = subprocess.run(argv, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"the compile process failed: {done.stderr.strip()[-300:]}")
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
    name = "compile: compile cost (vgg_tiny 16px masked step)"
    metric, target = "first compiled step in a fresh process", "cached <= 3 s"
    first, cached = "first compile (empty cache)", "cached compile (warm on-disk cache)"
    notes = "each figure a fresh Python process; ratio = first / cached, pair by pair"
    ratios = [b / c for b, c in zip(base, cand)]
    return make_row(name, metric, "s", first, base, cached, cand, target, notes, ratios)


def run(repeats: int = 5, quick: bool = False) -> list[dict[str, Any]]:
    shapes = [(16, 64)] if quick else [(16, 64), (32, 128)]
    models = ["vgg_tiny"] if quick else ["vgg_tiny", "resnet_tiny"]
    with one_thread():
        rows = [
            step_row(StepCase(m, s, b), masked, 2 if quick else repeats, 10 if quick else 30)
            for m in models
            for s, b in shapes
            for masked in (False, True)
        ]
    return [*rows, compile_cost_row(1 if quick else min(repeats, 3))]
