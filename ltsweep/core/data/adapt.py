"""Adapting raw images to the model input: 3 channels, the dataset's side length.

Why pad rather than resize, and to which size: docs/design.md#training-defaults.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def to_rgb(images: torch.Tensor) -> torch.Tensor:
    """``[N, 1|3, H, W]`` -> ``[N, 3, H, W]``: gray images are replicated, not re-weighted."""
    return images.expand(-1, 3, -1, -1).contiguous() if images.shape[1] == 1 else images


def pad_to(images: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad centred to ``size`` (Fashion-MNIST 28 -> 32, at train and test time alike)."""
    h, w = images.shape[-2:]
    if h == size and w == size:
        return images
    top, left = (size - h) // 2, (size - w) // 2
    return F.pad(images, (left, size - w - left, top, size - h - top))


def resize_to(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of uint8 images (digits 8 -> 16 or 32)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = F.interpolate(images.float(), size=(size, size), mode="bilinear", align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8)


def adapt(images: torch.Tensor, size: int) -> torch.Tensor:
    """Channels to 3; smaller images padded when within 4 px of ``size``, else resized."""
    images = to_rgb(images)
    h = images.shape[-1]
    if h < size and size - h <= 4:
        return pad_to(images, size)
    return resize_to(images, size)


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images, in [0, 1] units."""
    x = images.float().div_(255).transpose(0, 1).reshape(images.shape[1], -1)
    return tuple(x.mean(1).tolist()), tuple(x.std(1).tolist())
