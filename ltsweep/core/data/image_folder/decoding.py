"""Decoding an image folder's files, the conversion rules, and its cached statistics.

Every image becomes 8-bit RGB by one rule per mode: gray (``L``) and palette images are
replicated/expanded to three channels; ``RGBA``/``LA`` lose their alpha channel (transparent
pixels keep their stored colour); 16-bit images (``I;16*``, ``I``) are scaled to 8 bits (value /
257); ``CMYK`` and ``YCbCr`` are converted by Pillow. Float (``F``) images, and files Pillow cannot
decode, are refused with one line naming the file.

The per-channel mean and std of the training split are computed once, on every training image
resized so its shorter side is ``STATS_SIDE`` px, while every test image is decoded too (so a bad
file fails at ``plan``, not mid-sweep), and cached by the listing's hash in the user's cache
directory (the data folder may be read-only).
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ltsweep.caches import cache_folder
from ltsweep.core.data.image_folder.listing import Listing
from ltsweep.errors import UserError
from ltsweep.fsio import write_json

STATS_SIDE = 64
CACHE_VERSION = 1


def cache_dir() -> Path:
    """Where image folders' statistics are cached (``ltsweep.caches``)."""
    return cache_folder("image_folders")


def _to_rgb(img: Any, path: Path) -> Any:
    from PIL import Image

    mode = img.mode
    if mode == "RGB":
        return img
    if mode.startswith("I"):  # 16-bit (or 32-bit int holding 16-bit values) gray
        values = np.asarray(img, dtype=np.float64)
        if values.max(initial=0) > 255 or mode.startswith("I;16"):
            values = values / 257.0
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if mode == "F":
        raise UserError(
            f"image folder: {path} is a floating-point image (mode F), which has no standard "
            "8-bit meaning; convert it to PNG/JPEG"
        )
    return img.convert("RGB")  # L, 1, P, PA, LA, RGBA (alpha dropped), CMYK, YCbCr


def open_rgb(path: Path) -> tuple[Any, str]:
    """The image at ``path`` as a decoded 8-bit RGB Pillow image, and its original mode."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()  # decode now: a truncated file fails here, naming the file
            mode = img.mode
            return _to_rgb(img, path).copy(), mode
    except UserError:
        raise
    except (
        OSError,
        UnidentifiedImageError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
    ) as exc:
        reason = str(exc).split("\n")[0] or type(exc).__name__
        raise UserError(
            f"image folder: {path} is not a readable image ({reason}); fix or remove the file"
        ) from None


def resized(img: Any, side: int, crop: bool) -> Any:
    """Shorter side to ``side`` (bilinear); with ``crop``, the centred ``side`` x ``side`` square."""
    from PIL import Image

    w, h = img.size
    scale = side / min(w, h)
    img = img.resize((max(side, round(w * scale)), max(side, round(h * scale))), Image.BILINEAR)
    if not crop:
        return img
    w, h = img.size
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side))


def decode_square(path: Path, side: int) -> np.ndarray:
    """uint8 ``[3, side, side]``: the image resized (shorter side) and centre-cropped."""
    img, _ = open_rgb(path)
    return np.asarray(resized(img, side, crop=True), dtype=np.uint8).transpose(2, 0, 1)


def _compute(listing: Listing) -> dict[str, Any]:
    total = np.zeros(3)
    total_sq = np.zeros(3)
    pixels = 0
    modes: Counter[str] = Counter()
    for split in ("train", "test"):
        for rel, _ in getattr(listing, split):
            img, mode = open_rgb(listing.root / rel)
            modes[mode] += 1
            if split != "train":
                continue
            x = np.asarray(resized(img, STATS_SIDE, crop=False), dtype=np.float64) / 255.0
            flat = x.reshape(-1, 3)  # [H*W, 3]
            total += flat.sum(0)
            total_sq += (flat**2).sum(0)
            pixels += flat.shape[0]
    mean = total / pixels
    std = np.sqrt(np.maximum(total_sq / pixels - mean**2, 1e-12))
    return {
        "version": CACHE_VERSION,
        "mean": [round(float(v), 6) for v in mean],
        "std": [round(float(v), 6) for v in std],
        "modes": dict(sorted(modes.items())),
    }


def folder_stats(listing: Listing) -> dict[str, Any]:
    """``{"mean", "std", "modes"}`` of ``listing``: from the cache, else computed and cached."""
    path = cache_dir() / f"{listing.sha256}.json"
    try:
        cached = json.loads(path.read_text())
        if cached.get("version") == CACHE_VERSION:
            return cached
    except (OSError, ValueError):
        pass
    stats = _compute(listing)
    with contextlib.suppress(OSError):  # an unwritable cache costs a recomputation, no more
        write_json(path, stats)
    return stats


def converted_modes(modes: dict[str, int]) -> dict[str, int]:
    """The modes that the conversion rules changed (everything but plain RGB)."""
    return {m: n for m, n in modes.items() if m != "RGB"}
