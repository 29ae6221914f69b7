"""What masking costs: the training step at 20% density (``MaskApplier`` on gradients and
weights) vs the same step without a mask, which is a plain PyTorch step (forward, cross-entropy,
backward, optimizer step; tests/test_bench.py checks it bit for bit). Both eager, both
``bench.step.Stepper``; images/s, target ratio >= 0.95 (bench/README.md, "train_step").
"""

from __future__ import annotations

import itertools
import statistics
import time
from typing import Any

import torch

from bench.common import interleave, make_row, not_run_row
from bench.step import Batch, StepCase, Stepper

NAME, METRIC, TARGET = "train_step", "training throughput", ">= 0.95"
BASELINE, CANDIDATE = "plain PyTorch step, no mask", "ltsweep step + MaskApplier, 20% density"
# (label, case, dataset or None for synthetic batches, device)
CASES = [
    ("vgg_tiny, shapes 32 px, CPU", StepCase("vgg_tiny", 32, 64), "shapes", "cpu"),
    ("vgg_tiny, digits 16 px (demo), CPU", StepCase("vgg_tiny", 16, 64), "digits", "cpu"),
    ("VGG19, synthetic 32 px, batch 512, GPU", StepCase("vgg19", 32, 512), None, "cuda"),
    (
        "ResNet-50, synthetic 224 px, batch 128, GPU",
        StepCase("resnet50", 224, 128, 1000, (("stem", "imagenet"),)),
        None,
        "cuda",
    ),
]


def real_batches(dataset: str, case: StepCase, count: int) -> list[Batch]:
    """The first ``count`` training batches of an embedded dataset, as a trial loads them."""
    from ltsweep.core.data.loading import LoaderOptions, make_loader

    options = LoaderOptions(batch_size=case.batch, train=True, workers=0, image_size=case.size)
    return list(itertools.islice(make_loader(dataset, options).batches(0), count))


def measure(label: str, case: StepCase, dataset: str | None, device: str, repeats: int, steps: int):
    batches = real_batches(dataset, case, steps) if dataset else None
    plain, masked = (Stepper(case, device, False, m, batches) for m in (False, True))
    cpu: list[float] = []

    def rate(stepper: Stepper) -> float:
        started = time.process_time()
        value = stepper.images_per_s(steps)
        cpu.append(case.batch * steps / max(time.process_time() - started, 1e-9))
        return value

    base, cand = interleave(lambda: rate(plain), lambda: rate(masked), repeats)
    by_cpu = [c / b for b, c in zip(cpu[2::2], cpu[3::2])]  # warm-up pair dropped
    where = "1 thread" if device == "cpu" else "bf16 autocast, channels-last"
    notes = (
        f"{steps} steps of batch {case.batch} per measurement ({where}); mask density "
        f"{masked.mask.density:.2f} (global magnitude); 1 warm-up pair excluded"
        + (
            f"; ratio on process CPU time {statistics.median(by_cpu):.3g}"
            if device == "cpu"
            else ""
        )
    )
    return make_row(
        f"{NAME}: {label}", METRIC, "img/s", BASELINE, base, CANDIDATE, cand, TARGET, notes
    )


def run(repeats: int = 5, quick: bool = False) -> list[dict[str, Any]]:
    repeats, steps = (min(repeats, 3), 12) if quick else (repeats, 47)
    rows, threads = [], torch.get_num_threads()
    torch.set_num_threads(1)  # a cpu: 1 trial
    try:
        for label, case, dataset, device in CASES:
            if device == "cuda" and not torch.cuda.is_available():
                reason = "no GPU on this machine"
                rows.append(
                    not_run_row(
                        f"{NAME}: {label}", METRIC, "img/s", BASELINE, CANDIDATE, TARGET, reason
                    )
                )
                continue
            rows.append(
                measure(label, case, dataset, device, repeats, steps if device == "cpu" else 60)
            )
    finally:
        torch.set_num_threads(threads)
    return rows
