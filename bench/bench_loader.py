"""FFCV loader vs torchvision ``ImageFolder`` + ``DataLoader`` on the same JPEGs.

Row 1 (CPU): images/s of one training epoch (random-resized crop to 128 px + flip, normalized
float batches of 64, 2 workers each) over 2,000 160-px JPEGs drawn by the shapes generator and
upscaled. The FFCV side is ltsweep's own loader (``make_ffcv_loader`` on a ``.beton`` written by
``convert_split``: JPEG q90, as ``ltsweep data convert`` writes ImageNet); the baseline is
torchvision's ``ImageFolder`` with ``RandomResizedCrop`` + ``DataLoader`` (persistent workers, so
no per-epoch start-up is charged to it). The first epoch of each is excluded (numba compiles
FFCV's pipeline then; the DataLoader forks its workers), then epochs alternate A B A B.

Row 2 (GPU only): ResNet-50 training images/s on one GPU fed by the FFCV loader vs the same loop
on synthetic tensors already in GPU memory. Target: within 5% (the loader is not the
bottleneck). Without CUDA the row says so and nothing is measured.

    python -m bench.bench_loader [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

N_IMAGES, SIDE, CROP, BATCH, WORKERS = 2000, 160, 128, 64, 2


def make_jpegs(root: Path, count: int, side: int = SIDE) -> None:
    """``count`` JPEGs (quality 90) in ImageNet's folder layout under ``root/imagenet/train``."""
    from PIL import Image

    from ltsweep.core.data.embedded import generate_shapes

    data = generate_shapes(count, seed=7)
    for i in range(count):
        folder = root / "imagenet" / "train" / f"n{int(data.labels[i]):08d}"
        folder.mkdir(parents=True, exist_ok=True)
        img = Image.fromarray(data.images[i].permute(1, 2, 0).numpy())
        img.resize((side, side), Image.BILINEAR).save(folder / f"{i:05d}.JPEG", quality=90)


def torch_epochs(root: Path, size: int, batch: int, workers: int) -> Callable[[], int]:
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder

    from ltsweep.core.data import get_spec
    from ltsweep.core.data.transforms import folder_transform

    dataset = ImageFolder(
        str(root / "imagenet" / "train"),
        transform=folder_transform(get_spec("imagenet"), "train", size),
    )
    loader = DataLoader(
        dataset, batch, shuffle=True, num_workers=workers, persistent_workers=workers > 0
    )

    def epoch() -> int:
        return sum(int(x.shape[0]) for x, _ in loader)

    return epoch


def ffcv_loader(root: Path, out: Path, size: int, batch: int, workers: int, device: str = "cpu"):
    from ltsweep.core.data import get_spec
    from ltsweep.core.data.ffcv_convert import convert_split
    from ltsweep.core.data.loading import LoaderOptions
    from ltsweep.core.data.loading.ffcv_backend import make_ffcv_loader

    spec = get_spec("imagenet")
    convert_split(spec, "train", out, data_root=str(root), workers=os.cpu_count())
    opts = LoaderOptions(
        batch_size=batch, train=True, device=device, workers=workers, image_size=size
    )
    return make_ffcv_loader(spec, out, opts)


def ffcv_epochs(loader) -> Callable[[], int]:
    count = iter(range(1, 1 << 30))

    def epoch() -> int:
        return sum(int(x.shape[0]) for x, _ in loader.batches(next(count)))

    return epoch


def _rate(run: Callable[[], int]) -> float:
    started = time.perf_counter()
    images = run()
    return images / (time.perf_counter() - started)


def interleaved(baseline: Callable[[], int], candidate: Callable[[], int], repeats: int):
    """Images/s of each, one warm-up epoch each excluded, then A B A B ...; per-repeat ratios."""
    baseline(), candidate()  # warm-up: FFCV's numba compile, DataLoader worker start-up
    base, cand = [], []
    for _ in range(repeats):
        base.append(_rate(baseline))
        cand.append(_rate(candidate))
    return base, cand, [c / b for b, c in zip(base, cand)]


def row(
    name: str,
    metric: str,
    labels: tuple[str, str],
    base: list[float],
    cand: list[float],
    ratios: list[float],
    target: str,
    notes: str,
) -> dict:
    return {
        "name": name,
        "metric": metric,
        "unit": "images/s",
        "baseline_label": labels[0],
        "baseline": round(statistics.median(base), 1),
        "candidate_label": labels[1],
        "candidate": round(statistics.median(cand), 1),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "target": target,
        "notes": notes,
    }


def cpu_row(repeats: int, quick: bool, work: Path) -> dict:
    count = 400 if quick else N_IMAGES
    make_jpegs(work / "data", count)
    base = torch_epochs(work / "data", CROP, BATCH, WORKERS)
    ffcv = ffcv_epochs(ffcv_loader(work / "data", work / "ffcv", CROP, BATCH, WORKERS))
    b, c, r = interleaved(base, ffcv, repeats)
    notes = (
        f"{count} JPEGs {SIDE}px q90, RandomResizedCrop {CROP} + flip, batch {BATCH}, "
        f"{WORKERS} workers, {os.cpu_count()} CPUs; first epoch excluded, ABAB x{repeats}"
    )
    labels = ("torchvision ImageFolder + DataLoader", "ltsweep FFCV loader")
    return row("loader_cpu", "loader throughput, one epoch", labels, b, c, r, ">= 2.0", notes)


def _train_steps(model, opt, batches: Iterable, device: torch.device) -> int:
    import torch.nn.functional as F

    seen = 0
    for x, y in batches:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x.contiguous(memory_format=torch.channels_last)), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += int(x.shape[0])
    torch.cuda.synchronize(device)
    return seen


def gpu_row(repeats: int, quick: bool, work: Path) -> dict:
    labels = ("ResNet-50 on synthetic in-GPU tensors", "ResNet-50 fed by the FFCV loader")
    name, metric, target = "resnet50_gpu", "training throughput, one GPU", ">= 0.95"
    if not torch.cuda.is_available():
        return {
            "name": name,
            "metric": metric,
            "unit": "images/s",
            "baseline_label": labels[0],
            "baseline": None,
            "candidate_label": labels[1],
            "candidate": None,
            "ratio_median": None,
            "ratio_min": None,
            "ratio_max": None,
            "target": target,
            "notes": "not run: no GPU",
        }
    import torchvision

    device, size, batch = torch.device("cuda"), 224, 128
    count = 1000 if quick else 5000
    make_jpegs(work / "gpu_data", count, side=256)
    loader = ffcv_loader(
        work / "gpu_data", work / "gpu_ffcv", size, batch, os.cpu_count() or 8, "cuda"
    )
    model = torchvision.models.resnet50(num_classes=1000).to(
        device, memory_format=torch.channels_last
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    steps = len(loader)
    x = torch.randn(batch, 3, size, size, device=device)  # synthetic, already in GPU memory
    y = torch.randint(0, 1000, (batch,), device=device)
    epoch = iter(range(1, 1 << 30))

    def synthetic() -> int:
        return _train_steps(model, opt, ((x, y) for _ in range(steps)), device)

    def with_ffcv() -> int:
        return _train_steps(model, opt, loader.batches(next(epoch)), device)

    b, c, r = interleaved(synthetic, with_ffcv, repeats)
    notes = (
        f"{torch.cuda.get_device_name(device)}; {count} JPEGs 256px, RRC {size}, batch "
        f"{batch}, bf16 + channels_last, {os.cpu_count()} FFCV threads; ABAB x{repeats}"
    )
    return row(name, metric, labels, b, c, r, target, notes)


def run(repeats: int = 5, quick: bool = False) -> list[dict]:
    """Benchmark rows (see module docstring); ``quick`` uses fewer images."""
    repeats = max(1, repeats)
    with tempfile.TemporaryDirectory(prefix="ltsweep-bench-loader-") as tmp:
        return [cpu_row(repeats, quick, Path(tmp)), gpu_row(repeats, quick, Path(tmp))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_loader", description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="400 images instead of 2,000")
    args = parser.parse_args(argv)
    for r in run(args.repeats, args.quick):
        if r["ratio_median"] is None:
            print(f"{r['name']}: {r['notes']}")
        else:
            print(
                f"{r['name']}: {r['candidate_label']} {r['candidate']} vs "
                f"{r['baseline_label']} {r['baseline']} {r['unit']}: ratio "
                f"{r['ratio_median']} (min {r['ratio_min']}, max {r['ratio_max']}; "
                f"target {r['target']}) — {r['notes']}"
            )
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
