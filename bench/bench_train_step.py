"""What masking costs: the training step at 20% density (``MaskApplier`` on gradients and
weights) vs the same step without a mask, which is a plain PyTorch step (tests/test_bench.py
checks it bit for bit). Both eager, both ``bench.step.Stepper``; images/s (bench/README.md).
"""

from __future__ import annotations

import itertools
import statistics
import time
from typing import Any

import torch

from bench.common import make_row, not_run_row
from bench.step import RESNET50, Batch, StepCase, Stepper, alternate, one_thread

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


def row(label: str, case: StepCase, dataset: str | None, device: str, repeats: int, steps: int):
    name = f"train_step: {label}"
    if device == "cuda" and not torch.cuda.is_available():
        return not_run_row(
            name, "training throughput", "img/s", *LABELS, ">= 0.95", "no GPU on this machine"
        )
    batches = real_batches(dataset, case, steps) if dataset else None
    plain, masked = (Stepper(case, device, False, m, batches) for m in (False, True))
    cpu: dict[Stepper, list[float]] = {plain: [], masked: []}

    def rate(stepper: Stepper) -> float:  # wall images/s; process CPU time on the side
        started = time.process_time()
        value = stepper.images_per_s(steps)
        cpu[stepper].append(time.process_time() - started)
        return value

    _, (base, cand) = alternate([plain, masked], repeats, rate)
    where = "1 thread" if device == "cpu" else "bf16 autocast, channels-last"
    notes = (
        f"{steps} steps of batch {case.batch} per measurement ({where}); mask density "
        f"{masked.mask.density:.2f} (global magnitude); warm-up steps excluded"
    )
    if device == "cpu":
        by_cpu = statistics.median(p / m for p, m in zip(cpu[plain], cpu[masked]))
        notes += f"; ratio on process CPU time {by_cpu:.3g}"
    return make_row(
        name, "training throughput", "img/s", LABELS[0], base, LABELS[1], cand, ">= 0.95", notes
    )


def run(repeats: int = 5, quick: bool = False) -> list[dict[str, Any]]:
    repeats, steps = (min(repeats, 3), 12) if quick else (repeats, 47)
    with one_thread():  # a cpu: 1 trial
        return [
            row(label, case, data, device, repeats, steps if device == "cpu" else 60)
            for label, case, data, device in CASES
        ]
