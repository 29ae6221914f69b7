"""FFCV backend: conversion (atomic, verified, skipped on re-run) and the loader's contract.

The loader must hand out what the torch backend hands out: same labels in the same order and
the same pixels on the test split, and train images that are padded crops (and flips, where the
dataset allows them) of the stored images.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("ffcv", reason="FFCV is not installed (scripts/setup.sh installs it)")

from ltsweep.core.data import get_spec, load_split
from ltsweep.core.data.ffcv_convert import (
    beton_path,
    convert_dataset,
    sidecar_path,
)
from ltsweep.core.data.loading import LoaderOptions, make_loader
from ltsweep.errors import UserError
from ltsweep.hashing import sha256_file
from tests.common.dataset_files import make_imagenet_jpegs

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def betons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ffcv")
    for name in ("digits", "shapes"):
        done = convert_dataset(name, out, workers=1)
        assert [d.status for d in done] == ["written", "written"]
    return out


def _opts(out: Path, train: bool, **kw: object) -> LoaderOptions:
    return LoaderOptions(batch_size=100, train=train, ffcv_dir=str(out), workers=1, **kw)  # type: ignore[arg-type]


def _all(loader, epoch: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*loader.batches(epoch))
    return torch.cat(xs), torch.cat(ys)


def test_convert_writes_sidecar_and_skips_on_rerun(betons: Path) -> None:
    spec = get_spec("digits")
    path = beton_path(betons, spec, "train")
    meta = json.loads(sidecar_path(path).read_text())
    assert path.name == "digits-16px-train.beton"
    assert meta["sha256"] == sha256_file(path) and meta["samples"] == 1347
    assert meta["settings"] == {
        "format": 1,
        "dataset": "digits",
        "split": "train",
        "write_mode": "raw",
        "image_size": 16,
    }
    mtime = path.stat().st_mtime_ns
    again = convert_dataset("digits", betons, workers=1)
    assert [d.status for d in again] == ["skipped", "skipped"]
    assert path.stat().st_mtime_ns == mtime


def test_corrupt_file_is_rewritten(tmp_path: Path) -> None:
    (first,) = convert_dataset("digits", tmp_path, splits=("test",), workers=1)
    good = sha256_file(first.path)
    with open(first.path, "r+b") as fh:  # flip one byte in the middle
        fh.seek(first.path.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0xFF]))
    (again,) = convert_dataset("digits", tmp_path, splits=("test",), workers=1)
    assert again.status == "written" and sha256_file(again.path) == good


def test_killed_convert_leaves_nothing_under_the_final_name(tmp_path: Path) -> None:
    # The writer's worker kills the converting process half-way through the file, as a
    # SIGKILL from outside would, then itself.
    script = textwrap.dedent(f"""
        import os, signal
        from ltsweep.core.data import ffcv_convert
        original = ffcv_convert._TensorImages.__getitem__
        def dying(self, i):
            if i == 300:
                os.kill(os.getppid(), signal.SIGKILL)
                os.kill(os.getpid(), signal.SIGKILL)
            return original(self, i)
        ffcv_convert._TensorImages.__getitem__ = dying
        ffcv_convert.convert_dataset("digits", {str(tmp_path)!r}, splits=("train",), workers=1)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=ROOT
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    final = beton_path(tmp_path, get_spec("digits"), "train")
    assert not final.exists() and not sidecar_path(final).exists()
    assert list(tmp_path.glob(f".{final.name}.*.tmp")), "the partial file keeps a temporary name"
    (done,) = convert_dataset("digits", tmp_path, splits=("train",), workers=1)
    assert done.status == "written" and final.exists()
    assert not list(tmp_path.glob("*.tmp")), "a later convert removes the stale temporary file"


@pytest.mark.parametrize("name", ["digits", "shapes"])
def test_test_split_matches_torch_backend(betons: Path, name: str) -> None:
    fx, fy = _all(make_loader(name, _opts(betons, False), "ffcv"))
    tx, ty = _all(make_loader(name, _opts(betons, False), "torch"))
    assert fx.dtype == torch.float32 and fy.dtype == torch.int64
    assert fx.shape == tx.shape and torch.equal(fy, ty)
    torch.testing.assert_close(fx, tx, atol=1e-5, rtol=0)


def test_train_images_are_padded_crops_and_flips(betons: Path) -> None:
    spec = get_spec("shapes")  # 32 px, flips allowed: pad 4
    loader = make_loader("shapes", _opts(betons, True, seed=3), "ffcv")
    data = load_split("shapes", "train")
    assert len(loader) == 30 and loader.num_examples == 3000
    x, y = _all(loader, epoch=2)
    order = np.random.default_rng(3 + 2).permutation(3000)  # FFCV's RANDOM order, seed + epoch
    assert torch.equal(y, data.labels[order])
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    pixels = (x * std + mean).mul(255).round()  # back to uint8 values, [N, 3, 32, 32]
    pad = 4
    shifted = flipped = 0
    for i in range(0, 3000, 15):  # 200 samples: each must be one of the 81 crops x 2 flips
        padded = torch.nn.functional.pad(data.images[order[i]].float(), (pad,) * 4)
        windows = padded.unfold(1, 32, 1).unfold(2, 32, 1)  # [3, 9, 9, 32, 32]
        cands = windows.permute(1, 2, 0, 3, 4).reshape(81, 3, 32, 32)
        hit = (cands == pixels[i]).flatten(1).all(1)
        hit_f = (cands.flip(3) == pixels[i]).flatten(1).all(1)
        assert bool(hit.any() or hit_f.any()), f"sample {i} is not a crop of its image"
        shifted += int(not bool(hit[40]) and not bool(hit_f[40]))  # index 40: no shift
        flipped += int(bool(hit_f.any()) and not bool(hit.any()))
    assert 20 < flipped < 180 and shifted > 100  # augmentation is on, and random


def test_missing_beton_names_the_convert_command(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"ltsweep data convert digits --out .* --image-size 8"):
        make_loader("digits", _opts(tmp_path, True, image_size=8), "ffcv")


def test_folder_dataset_jpeg_roundtrip(tmp_path: Path) -> None:
    make_imagenet_jpegs(tmp_path / "data")
    root, out = str(tmp_path / "data"), tmp_path / "ffcv"
    done = convert_dataset("imagenet", out, data_root=root, workers=1)
    assert [d.path.name for d in done] == ["imagenet-train.beton", "imagenet-test.beton"]
    meta = json.loads(sidecar_path(done[0].path).read_text())
    assert meta["settings"]["jpeg_quality"] == 90 and meta["settings"]["max_side"] == 256
    opts = dict(image_size=16, data_root=root)
    fx, fy = _all(make_loader("imagenet", _opts(out, False, **opts), "ffcv"))
    tx, ty = _all(make_loader("imagenet", _opts(out, False, **opts), "torch"))
    assert fx.shape == tx.shape == (12, 3, 16, 16) and torch.equal(fy, ty)
    # JPEG re-encoding and OpenCV vs PIL resizing differ a little, not in content.
    assert float((fx - tx).abs().mean()) < 0.25
    rx, ry = _all(make_loader("imagenet", _opts(out, True, **opts), "ffcv"))
    train_labels = load_split("imagenet", "train", root).targets  # an ImageFolder
    assert rx.shape == (12, 3, 16, 16)
    assert sorted(ry.tolist()) == sorted(train_labels)


def test_a_resolution_schedule_sets_each_epochs_size(betons: Path, tmp_path: Path) -> None:
    """JPEG .beton: the random-resized-crop decoder's output size follows the schedule and the
    test split is centre-cropped at eval; a tensor .beton (digits, stored size) is resized."""
    from ltsweep.core.resolution import Resolution

    schedule = Resolution(start=16, end=32, ramp=(0, 2), eval=24, step=8)
    make_imagenet_jpegs(tmp_path / "data")
    root, out = str(tmp_path / "data"), tmp_path / "ffcv"
    convert_dataset("imagenet", out, data_root=root, workers=1)
    opts = dict(image_size=224, data_root=root, resolution=schedule)
    train = make_loader("imagenet", _opts(out, True, **opts), "ffcv")
    sizes = [tuple(_all(train, e)[0].shape[-2:]) for e in range(4)]
    assert sizes == [(16, 16), (24, 24), (32, 32), (32, 32)], sizes
    test = make_loader("imagenet", _opts(out, False, **opts), "ffcv")
    assert _all(test)[0].shape[-2:] == (24, 24), "the test split is not read at eval"
    digits = make_loader("digits", _opts(betons, True, resolution=schedule), "ffcv")
    assert [tuple(_all(digits, e)[0].shape[-2:]) for e in range(3)] == [
        (16, 16),
        (24, 24),
        (32, 32),
    ]


def test_folder_image_size_option_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--image-size applies to tensor datasets"):
        convert_dataset("imagenet", tmp_path, image_size=64)


def test_without_ffcv_one_line_error_and_torch_still_works(tmp_path: Path) -> None:
    # ffcv made unimportable in a child process (as on a machine without its native libraries).
    script = textwrap.dedent(f"""
        import sys
        sys.modules["ffcv"] = None
        from ltsweep.core.data.loading import LoaderOptions, make_loader
        from ltsweep.errors import UserError
        opts = LoaderOptions(batch_size=64, train=False, ffcv_dir={str(tmp_path)!r}, workers=0)
        try:
            make_loader("digits", opts, "ffcv")
            raise SystemExit("no error")
        except UserError as exc:
            assert "\\n" not in str(exc)
        x, y = next(iter(make_loader("digits", opts, "torch").batches(0)))
        assert x.shape == (64, 3, 16, 16)
        from ltsweep.cli import main
        raise SystemExit(main(["data", "convert", "digits", "--out", {str(tmp_path)!r}]))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=ROOT
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "pkg-config libopencv-dev libturbojpeg0-dev" in lines[0]
    assert "pip install 'ltsweep[ffcv]'" in lines[0]


def test_check_ready_is_the_sweep_preflight(betons: Path, tmp_path: Path) -> None:
    from ltsweep.core.data.loading.ffcv_backend import check_ready

    check_ready(get_spec("digits"), betons, None)  # both splits converted at 16 px
    with pytest.raises(UserError, match="--image-size 8"):
        check_ready(get_spec("digits"), betons, 8)
    with pytest.raises(UserError, match="needs ffcv_dir"):
        check_ready(get_spec("digits"), None, None)
