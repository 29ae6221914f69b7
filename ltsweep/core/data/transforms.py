"""Augmentation (docs/design.md#training-defaults): crop with padding + flip for 32x32 data, done on
whole batches on the device; random-resized crop + flip for folder datasets, done per image by
loader workers."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ltsweep.core.data.spec import DatasetSpec


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 ``[B, 3, S, S]`` -> float ``[B, 3, S, S]``, standardized per channel."""
    return (images.float().div_(255) - mean) / std


def random_crop_flip(
    x: torch.Tensor, pad: int, flip: bool, generator: torch.Generator
) -> torch.Tensor:
    """Per-sample random crop from a zero-padded batch, and a random horizontal flip."""
    b, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))  # [B, C, H+2p, W+2p]
    offs = torch.randint(0, 2 * pad + 1, (2, b), generator=generator).to(x.device)
    rows = (offs[0, :, None] + torch.arange(h, device=x.device))[:, None, :, None]  # [B,1,H,1]
    cols = (offs[1, :, None] + torch.arange(w, device=x.device))[:, None, None, :]  # [B,1,1,W]
    bidx = torch.arange(b, device=x.device)[:, None, None, None]
    cidx = torch.arange(c, device=x.device)[None, :, None, None]
    out = padded[bidx, cidx, rows, cols]  # [B, C, H, W]
    if flip:
        do_flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)[:, None, None, None]
        out = torch.where(do_flip, out.flip(3), out)
    return out


def resize_batch(x: torch.Tensor, size: int) -> torch.Tensor:
    """A batch ``[B, C, S, S]`` at ``size`` px (bilinear, antialiased when shrinking): how an
    in-memory split meets a resolution schedule (docs/resolution.md)."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def folder_transform(spec: DatasetSpec, split: str, size: int):
    """torchvision transforms for JPEG folders: RRC + flip to train, resize + centre crop to test."""
    from torchvision import transforms as T

    norm = T.Normalize(spec.mean, spec.std)
    if split == "train":
        return T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(), norm])
    return T.Compose([T.Resize(int(size * 256 / 224)), T.CenterCrop(size), T.ToTensor(), norm])
