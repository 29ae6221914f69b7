"""FFCV loader vs torchvision ``ImageFolder`` + ``DataLoader`` on the same JPEGs (CPU row: one
training epoch's images/s, first epochs excluded); on CUDA also the ResNet-50 step
(``bench.step``) fed by the FFCV loader vs on in-GPU tensors (bench/README.md, "loader").
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from itertools import count
from pathlib import Path

import torch

from bench.bench_step import RESNET50, Stepper
from bench.common import interleave, make_row, not_run_row

N_IMAGES, SIDE, CROP, BATCH, WORKERS = 2000, 160, 128, 64, 2


def make_jpegs(root: Path, count_: int, side: int = SIDE) -> None:
    """``count_`` JPEGs (quality 90) in ImageNet's folder layout under ``root/imagenet/train``."""
    from PIL import Image

    from ltsweep.core.data.embedded import generate_shapes

    data = generate_shapes(count_, seed=7)
    for i in range(count_):
        folder = root / "imagenet" / "train" / f"n{int(data.labels[i]):08d}"
        folder.mkdir(parents=True, exist_ok=True)
        img = Image.fromarray(data.images[i].permute(1, 2, 0).numpy())
        img.resize((side, side), Image.BILINEAR).save(folder / f"{i:05d}.JPEG", quality=90)


def torch_epoch(root: Path) -> Callable[[], int]:
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder

    from ltsweep.core.data import get_spec
    from ltsweep.core.data.transforms import folder_transform

    transform = folder_transform(get_spec("imagenet"), "train", CROP)
    dataset = ImageFolder(str(root / "imagenet" / "train"), transform=transform)
    loader = DataLoader(dataset, BATCH, shuffle=True, num_workers=WORKERS, persistent_workers=True)
    return lambda: sum(int(x.shape[0]) for x, _ in loader)


def ffcv_loader(root: Path, out: Path, size: int, batch: int, workers: int, device: str = "cpu"):
    from ltsweep.core.data import get_spec
    from ltsweep.core.data.ffcv_convert import convert_split
    from ltsweep.core.data.loading import LoaderOptions
    from ltsweep.core.data.loading.ffcv_backend import make_ffcv_loader

    spec = get_spec("imagenet")
    convert_split(spec, "train", out, data_root=str(root), workers=os.cpu_count())
    options = LoaderOptions(batch, True, device=device, workers=workers, image_size=size)
    return make_ffcv_loader(spec, out, options)


def rate(images: Callable[[], int]) -> float:
    started = time.perf_counter()
    return images() / (time.perf_counter() - started)


def cpu_row(repeats: int, quick: bool, work: Path) -> dict:
    images = 400 if quick else N_IMAGES
    make_jpegs(work / "data", images)
    loader, epochs = ffcv_loader(work / "data", work / "ffcv", CROP, BATCH, WORKERS), count(1)
    torch_images = torch_epoch(work / "data")

    def ffcv_images() -> int:
        return sum(int(x.shape[0]) for x, _ in loader.batches(next(epochs)))

    # the warm-up pair: FFCV's numba compile, the DataLoader's workers
    base, cand = interleave(lambda: rate(torch_images), lambda: rate(ffcv_images), repeats)
    notes = (
        f"{images} JPEGs {SIDE}px q90, RandomResizedCrop {CROP} + flip, batch {BATCH}, "
        f"{WORKERS} workers, {os.cpu_count()} CPUs; first epoch excluded, ABAB x{repeats}"
    )
    name, metric = "loader_cpu", "loader throughput, one epoch"
    labels = "torchvision ImageFolder + DataLoader", "ltsweep FFCV loader"
    return make_row(name, metric, "images/s", labels[0], base, labels[1], cand, ">= 2.0", notes)


def gpu_row(repeats: int, quick: bool, work: Path) -> dict:
    labels = ("ResNet-50 on synthetic in-GPU tensors", "ResNet-50 fed by the FFCV loader")
    name, metric, target = "resnet50_gpu", "training throughput, one GPU", ">= 0.95"
    if not torch.cuda.is_available():
        return not_run_row(name, metric, "images/s", *labels, target, "no GPU")
    case, images = RESNET50, 1000 if quick else 5000
    make_jpegs(work / "gpu_data", images, side=256)
    data, threads = (work / "gpu_data", work / "gpu_ffcv"), os.cpu_count() or 8
    loader = ffcv_loader(*data, 224, case.batch, threads, "cuda")
    stepper, epochs = Stepper(case, "cuda"), count(1)

    def fed() -> float:
        torch.cuda.synchronize()
        started, seen = time.perf_counter(), 0
        for x, y in loader.batches(next(epochs)):
            stepper.step(x, y)
            seen += int(x.shape[0])
        torch.cuda.synchronize()
        return seen / (time.perf_counter() - started)

    base, cand = interleave(lambda: stepper.images_per_s(len(loader)), fed, repeats)
    notes = (
        f"{torch.cuda.get_device_name(0)}; {images} JPEGs 256px, RRC 224, batch {case.batch}, "
        f"bf16 + channels-last (ltsweep's step), {threads} FFCV threads; ABAB x{repeats}"
    )
    return make_row(name, metric, "images/s", labels[0], base, labels[1], cand, target, notes)


def run(repeats: int = 5, quick: bool = False) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="ltsweep-bench-loader-") as tmp:
        return [cpu_row(repeats, quick, Path(tmp)), gpu_row(repeats, quick, Path(tmp))]
