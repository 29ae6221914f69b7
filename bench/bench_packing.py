"""Fractional GPU packing: four 32x32 transfer trials at ``gpu: 0.25`` vs one after another.

Candidate: ``ltsweep run`` of bench/sweeps/bench_packing.yaml, whose transfers ask ``gpu: 0.25``
(Ray packs the four on one GPU); baseline: the same with ``gpu: 1``. Resources are not in a
trial's key, so both run the same trials; the tickets are trained once, untimed, and copied into
each fresh output directory. Trials per hour; CUDA only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bench import procs
from bench.common import REPO_ROOT, interleave, make_row, not_run_row

SWEEP = REPO_ROOT / "bench" / "sweeps" / "bench_packing.yaml"
NAME, METRIC = "packing: 4 transfer trials, VGG19 32 px", "transfer trials per hour"
UNIT, TARGET = "trials/h", ">= 2"
LABELS = ("4 trials one after another, gpu: 1", "4 trials packed, gpu: 0.25")


def sweep_file(path: Path, transfer: dict[str, float], epochs: int) -> Path:
    """The packing sweep with ``transfer`` resources (its generation trials: the same CPUs and a
    whole GPU if the transfers ask for one) and ``epochs`` per training."""
    raw = yaml.safe_load(SWEEP.read_text())
    raw["resources"] = {"generate": {**transfer, "gpu": 1 if transfer.get("gpu") else 0}}
    raw["resources"]["transfer"] = transfer
    for data in raw["datasets"].values():
        data["schedule"] = {"epochs": epochs, "milestones": [epochs // 2]}
    path.write_text(yaml.safe_dump(raw))
    return path


def measure(repeats: int, quick: bool, packed: dict, whole: dict) -> tuple[list, list, str]:
    """(baseline trials/hour, candidate trials/hour, notes). ``packed``/``whole`` are the
    transfer resources of the two sweeps (a CPU dry run can pass CPU-only ones)."""
    epochs = 10 if quick else 30
    with tempfile.TemporaryDirectory(prefix="ltsweep-bench-packing-") as tmp:
        work = Path(tmp)
        log, tickets = work / "log.txt", work / "tickets"
        files = {
            tag: sweep_file(work / f"bench_packing_{tag}.yaml", resources, epochs)
            for tag, resources in (("packed", packed), ("whole", whole))
        }
        generation = ["--generation", str(files["whole"]), str(tickets)]  # the tickets, untimed
        procs.run_python(["-m", "bench.bench_orchestration", *generation], log)

        def one(tag: str) -> float:
            with procs.fresh(work / tag) as out:
                shutil.copytree(tickets / "trials", out / "trials")
                seconds = procs.run_cli(["run", str(files[tag]), "--out", str(out)], log)
                done = sum((d / "done.json").exists() for d in (out / "trials").iterdir())
            if done != 6:  # 2 generation + 4 transfer trials
                raise RuntimeError(f"{tag}: {done}/6 trials done: {procs.tail(log)}")
            return 4 * 3600 / seconds

        one("whole")  # warm-up: CUDA/cuDNN start-up, page cache, Ray's first start
        base, cand = interleave(
            lambda: one("whole"), lambda: one("packed"), 1 if quick else repeats, 0, print
        )
    notes = (
        f"vgg19 at 32 px on shapes (embedded; no CIFAR here), target of tickets from digits, "
        f"{epochs} epochs of batch 128 per trial; transfer resources {packed} vs {whole}; Ray "
        "start-up and shutdown in both"
    )
    return base, cand, notes


def run(repeats: int = 3, quick: bool = False) -> list[dict[str, Any]]:
    import torch

    if not torch.cuda.is_available():
        return [not_run_row(NAME, METRIC, UNIT, *LABELS, TARGET, "no GPU on this machine")]
    cpus = max(1, min(4, (os.cpu_count() or 4) // 4))
    base, cand, notes = measure(repeats, quick, {"cpu": cpus, "gpu": 0.25}, {"cpu": cpus, "gpu": 1})
    notes += f"; GPU {torch.cuda.get_device_name(0)}"
    return [make_row(NAME, METRIC, UNIT, LABELS[0], base, LABELS[1], cand, TARGET, notes)]
