"""Write FFCV ``.beton`` files (train and test) for any registered dataset.

Settings (docs/design.md#ffcv-facts): tensor datasets (the 32x32 ones and the embedded ones) are
stored as raw RGB at the side length the model sees, already adapted (channels, padding, resizing)
exactly as the torch backend adapts them; folder datasets (ImageNet, Places365) as JPEG, quality 90,
longest side at most 256 px, decoded and cropped by the FFCV loader.

Each file is written under a temporary name and renamed into place, then a sidecar
``<file>.json`` records the dataset, split, settings and the sha256 of the file. A file counts as
done only when its sidecar exists, matches the settings asked for and the hash matches, so a
re-run skips finished files and a killed run leaves nothing under a final name.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ltsweep.core.data import DatasetSpec, TensorSplit, get_spec, load_split
from ltsweep.errors import UserError
from ltsweep.fsio import atomic_path, write_json
from ltsweep.hashing import sha256_file

FORMAT_VERSION = 1
JPEG_QUALITY = 90
MAX_SIDE = 256
SPLITS = ("train", "test")
SYSTEM_PACKAGES = "pkg-config libopencv-dev libturbojpeg0-dev"
INSTALL_HINT = (
    f"install FFCV's system packages (apt-get install -y {SYSTEM_PACKAGES}) and then "
    "pip install 'ltsweep[ffcv]', or use 'loader: torch'"
)


def require_ffcv() -> Any:
    """Import ffcv (and its native library) or raise a one-line ``UserError`` saying what to do."""
    try:
        import ffcv
        import ffcv.libffcv
    except (ImportError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"the FFCV loader is not available ({reason}): {INSTALL_HINT}") from None
    return ffcv


def beton_path(out_dir: Path, spec: DatasetSpec, split: str, image_size: int | None = None) -> Path:
    """Where ``convert`` writes one split. Tensor datasets carry their side length in the name
    (raw pixels are stored at the size the model sees); folder datasets do not (JPEG, max 256)."""
    if spec.storage == "tensor":
        return Path(out_dir) / f"{spec.name}-{image_size or spec.image_size}px-{split}.beton"
    return Path(out_dir) / f"{spec.name}-{split}.beton"


def sidecar_path(beton: Path) -> Path:
    return beton.with_name(beton.name + ".json")


def settings_for(spec: DatasetSpec, split: str, image_size: int | None = None) -> dict[str, Any]:
    """The settings a file is written with; the sidecar must match them for a file to be reused."""
    common = {"format": FORMAT_VERSION, "dataset": spec.name, "split": split}
    if spec.storage == "tensor":
        return {**common, "write_mode": "raw", "image_size": image_size or spec.image_size}
    return {**common, "write_mode": "jpg", "jpeg_quality": JPEG_QUALITY, "max_side": MAX_SIDE}


def convert_command(spec: DatasetSpec, out_dir: Path, image_size: int | None = None) -> str:
    """The command that writes what the loader is looking for (used in error messages)."""
    cmd = f"ltsweep data convert {spec.name} --out {out_dir}"
    if not spec.embedded:
        cmd += " --data-root DATA_ROOT"
    if spec.storage == "tensor" and image_size and image_size != spec.image_size:
        cmd += f" --image-size {image_size}"
    return cmd


def read_sidecar(beton: Path) -> dict[str, Any] | None:
    try:
        return json.loads(sidecar_path(beton).read_text())
    except (OSError, ValueError):
        return None


def is_complete(beton: Path, settings: dict[str, Any], verify_hash: bool = True) -> bool:
    """True when ``beton`` exists with a sidecar for ``settings`` (and, if asked, its sha256)."""
    meta = read_sidecar(beton)
    if meta is None or not beton.exists() or meta.get("settings") != settings:
        return False
    if meta.get("bytes") != beton.stat().st_size:
        return False
    return not verify_hash or meta.get("sha256") == sha256_file(beton)


class _TensorImages:
    """An indexable view FFCV's writer reads: ``(HWC uint8 image, label)`` per sample."""

    def __init__(self, data: TensorSplit) -> None:
        self.images = np.ascontiguousarray(data.images.permute(0, 2, 3, 1).numpy())  # [N,S,S,3]
        self.labels = data.labels.numpy()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        return self.images[i], int(self.labels[i])


class _FolderImages:
    """``(path, label)`` samples of an ImageFolder, opened as RGB arrays for the JPEG writer."""

    def __init__(self, samples: list[tuple[str, int]]) -> None:
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        from PIL import Image

        path, label = self.samples[i]
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB")), int(label)


def _source(spec: DatasetSpec, split: str, data_root: str | None, image_size: int | None):
    data = load_split(spec.name, split, data_root, image_size)
    if isinstance(data, TensorSplit):
        return _TensorImages(data)
    return _FolderImages(list(data.samples))  # a torchvision ImageFolder


def _fields(spec: DatasetSpec) -> dict[str, Any]:
    from ffcv.fields import IntField, RGBImageField

    if spec.storage == "tensor":
        image = RGBImageField(write_mode="raw")
    else:
        image = RGBImageField(write_mode="jpg", max_resolution=MAX_SIDE, jpeg_quality=JPEG_QUALITY)
    return {"image": image, "label": IntField()}


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """One convert per output directory at a time; then leftover temp files are stale.

    Unlocked explicitly at the end: FFCV's writer forks its worker processes during the convert,
    and they share the lock (flock belongs to the open file, which a fork shares); one that
    outlives the convert by a moment keeps it held. The likely cause of the one time the suite
    saw the next convert into the same directory, in the same process, refused as "another
    convert" (tests/test_ffcv.py, a loaded machine)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / ".convert.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"another `ltsweep data convert` is writing to {out_dir}") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Converted:
    path: Path
    status: str  # "written" or "skipped"
    samples: int


def convert_split(
    spec: DatasetSpec,
    split: str,
    out_dir: Path,
    data_root: str | None = None,
    image_size: int | None = None,
    workers: int | None = None,
) -> Converted:
    """Write one split unless a verified file with the same settings is already there."""
    require_ffcv()
    from ffcv.writer import DatasetWriter

    final = beton_path(out_dir, spec, split, image_size)
    settings = settings_for(spec, split, image_size)
    if is_complete(final, settings):
        return Converted(final, "skipped", int(read_sidecar(final)["samples"]))  # type: ignore[index]
    for stale in final.parent.glob(f".{final.name}.*.tmp"):  # left by a killed convert
        stale.unlink(missing_ok=True)
    sidecar_path(final).unlink(missing_ok=True)
    source = _source(spec, split, data_root, image_size)
    workers = workers or min(os.cpu_count() or 1, 16)
    print(f"writing {final} ({len(source)} images, {settings['write_mode']})", flush=True)
    with atomic_path(final) as tmp:
        DatasetWriter(str(tmp), _fields(spec), num_workers=workers).from_indexed_dataset(source)
    meta = {
        "settings": settings,
        "samples": len(source),
        "bytes": final.stat().st_size,
        "sha256": sha256_file(final),
    }
    write_json(sidecar_path(final), meta)
    return Converted(final, "written", len(source))


def convert_dataset(
    name: str,
    out_dir: Path,
    data_root: str | None = None,
    image_size: int | None = None,
    splits: tuple[str, ...] = SPLITS,
    workers: int | None = None,
) -> list[Converted]:
    """Write (or verify and skip) the ``.beton`` files of ``name``; one result per split."""
    spec = get_spec(name)
    if image_size is not None and spec.storage != "tensor":
        raise UserError(
            f"--image-size applies to tensor datasets; {name!r} is stored as JPEG "
            f"(max side {MAX_SIDE}) and cropped to the model's size when loading"
        )
    require_ffcv()
    out_dir = Path(out_dir)
    with _locked(out_dir):
        return [convert_split(spec, s, out_dir, data_root, image_size, workers) for s in splits]
