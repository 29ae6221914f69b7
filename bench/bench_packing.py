"""Fractional GPU packing: four 32x32 transfer trials at ``gpu: 0.25`` vs one after another.

Candidate: ``ltsweep run`` of a sweep whose transfers ask ``gpu: 0.25`` (Ray packs the four on
one GPU); baseline: the same with ``gpu: 1``. Resources are not in a trial's key, so both run the
same trials; the tickets are trained once, untimed, and copied into each fresh output directory.
Trials per hour, target ratio >= 2; CUDA only (bench/README.md, "packing").
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bench import procs
from bench.common import interleave, make_row, not_run_row

NAME = "packing"
METRIC = "transfer trials per hour"
BASELINE = "4 trials one after another, gpu: 1"
CANDIDATE = "4 trials packed, gpu: 0.25"
TARGET = ">= 2"


def sweep_dict(
    model: str, size: int, epochs: int, batch: int, transfer: dict[str, float]
) -> dict[str, Any]:
    """One source (digits), one target (shapes): transferred + random at levels 1 and 2 = 4."""
    schedule = {"epochs": epochs, "milestones": [epochs // 2]}
    data = {"image_size": size, "batch_size": batch, "workers": 0, "schedule": schedule}
    gen = {
        **{k: v for k, v in transfer.items() if k != "gpu"},
        "gpu": 1 if transfer.get("gpu") else 0,
    }
    return {
        "description": "bench_packing: 4 transfer trials on one GPU",
        "models": [{"name": model}], "datasets": {"digits": data, "shapes": data},
        "optimizers": {"sgd": {"lr": 0.05, "momentum": 0.9, "weight_decay": 1e-4}},
        "sources": [{"dataset": "digits", "optimizer": "sgd"}],
        "targets": [{"dataset": "shapes", "optimizer": "sgd"}],
        "imp": {"levels": 2, "rate": 0.5, "rewind_epochs": 1},
        "transfer": {"kinds": ["transferred", "random"], "levels": [1, 2]},
        "seeds": [0], "resources": {"generate": gen, "transfer": transfer}, "retries": 0,
    }  # fmt: skip


def measure(
    repeats: int,
    quick: bool,
    packed: dict[str, float],
    whole: dict[str, float],
    model: str = "vgg19",
    size: int = 32,
) -> tuple[list[float], list[float], str]:
    """(baseline trials/hour, candidate trials/hour, notes). ``packed``/``whole`` are the
    transfer resources of the two sweeps (a CPU dry run can pass CPU-only ones)."""
    epochs = 10 if quick else 30
    work = Path(tempfile.mkdtemp(prefix="ltsweep-bench-packing-"))
    log = work / "log.txt"
    files = {}
    for tag, res in (("packed", packed), ("whole", whole)):
        files[tag] = work / f"bench_packing_{tag}.yaml"
        files[tag].write_text(yaml.safe_dump(sweep_dict(model, size, epochs, 128, res)))
    tickets = work / "tickets"
    try:
        procs.run_python(
            ["-m", "bench.bench_orchestration", "--generation", str(files["whole"]), str(tickets)],
            log,
        )

        def one(tag: str) -> float:
            out = work / tag
            shutil.rmtree(out, ignore_errors=True)
            shutil.copytree(tickets / "trials", out / "trials")
            seconds = procs.run_cli(["run", str(files[tag]), "--out", str(out)], log)
            done = sum(1 for d in (out / "trials").iterdir() if (d / "done.json").exists())
            if done != 6:  # 2 generation + 4 transfer trials
                raise RuntimeError(f"{tag}: {done}/6 trials done: {procs.tail(log)}")
            shutil.rmtree(out, ignore_errors=True)
            return 4 * 3600 / seconds

        one("whole")  # warm-up: CUDA/cuDNN start-up, page cache, Ray's first start
        pairs = 1 if quick else repeats
        base, cand = interleave(lambda: one("whole"), lambda: one("packed"), pairs, 0, print)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    notes = (
        f"{model} at {size} px on shapes (embedded; no CIFAR here), target of tickets from "
        f"digits, {epochs} epochs of batch 128 per trial; transfer resources {packed} vs "
        f"{whole}; Ray start-up and shutdown in both"
    )
    return base, cand, notes


def run(repeats: int = 3, quick: bool = False) -> list[dict[str, Any]]:
    import torch

    name = f"{NAME}: 4 transfer trials, VGG19 32 px"
    if not torch.cuda.is_available():
        return [
            not_run_row(
                name, METRIC, "trials/h", BASELINE, CANDIDATE, TARGET, "no GPU on this machine"
            )
        ]
    cpus = max(1, min(4, (os.cpu_count() or 4) // 4))
    base, cand, notes = measure(repeats, quick, {"cpu": cpus, "gpu": 0.25}, {"cpu": cpus, "gpu": 1})
    notes += f"; GPU {torch.cuda.get_device_name(0)}"
    return [make_row(name, METRIC, "trials/h", BASELINE, base, CANDIDATE, cand, TARGET, notes)]
