"""Masks: a dict of boolean tensors keyed by parameter name, and their application to a model.

Pruned weights must stay exactly zero through every optimizer step. ``MaskApplier`` does two
things per step: it zeroes the gradients of pruned entries before the step (so SGD momentum and
Adam's moments never become non-zero there) and multiplies the weights by the mask after it (so
weight decay or numerical noise cannot revive them). tests/test_masks.py proves both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
import torch.nn as nn


class Mask(dict[str, torch.Tensor]):
    """Parameter name -> bool tensor (True = kept). Validated on construction."""

    def __init__(self, entries: Mapping[str, torch.Tensor] | None = None) -> None:
        super().__init__()
        for name, value in (entries or {}).items():
            self[name] = value.detach().to(torch.bool)

    @classmethod
    def ones_like(cls, model: nn.Module, names: Iterable[str]) -> Mask:
        params = dict(model.named_parameters())
        return cls({n: torch.ones_like(params[n], dtype=torch.bool) for n in names})

    @property
    def kept(self) -> int:
        return int(sum(int(m.sum()) for m in self.values()))

    @property
    def total(self) -> int:
        return int(sum(m.numel() for m in self.values()))

    @property
    def density(self) -> float:
        """Fraction of prunable weights remaining (1.0 for a dense mask)."""
        return self.kept / self.total if self.total else 1.0

    def layer_density(self) -> dict[str, float]:
        return {n: float(m.float().mean()) for n, m in self.items()}

    def report(self) -> dict[str, object]:
        return {
            "kept": self.kept,
            "total": self.total,
            "density": self.density,
            "layers": self.layer_density(),
        }

    def to(self, device: torch.device | str) -> Mask:
        return Mask({n: m.to(device) for n, m in self.items()})

    def check_model(self, model: nn.Module) -> None:
        params = dict(model.named_parameters())
        for name, m in self.items():
            if name not in params:
                raise ValueError(f"mask names {name!r}, which the model does not have")
            if params[name].shape != m.shape:
                raise ValueError(
                    f"mask {name!r} has shape {tuple(m.shape)}, "
                    f"parameter has {tuple(params[name].shape)}"
                )


def folded_weights(
    params: dict[str, torch.Tensor], factors: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """``weight * mask`` for masked weights, the parameter itself for the rest."""
    return {n: p * factors[n] if n in factors else p for n, p in params.items()}


class MaskFolded(nn.Module):
    """``model`` whose forward uses ``weight * mask`` (``factors``, set by
    ``compile.step_functions``): what DDP wraps for data-parallel training, so that gradients
    are zero at pruned entries before DDP all-reduces them (docs/compile.md). Holds no state of
    its own: its parameters and buffers are the model's, under the prefix ``model.``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.factors: dict[str, torch.Tensor] = {}  # masked parameter name -> 0/1 factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torch.func import functional_call

        params = dict(self.model.named_parameters())
        return functional_call(self.model, folded_weights(params, self.factors), (x,))


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside a ``DistributedDataParallel`` (or ``DataParallel``) wrapper and a
    ``MaskFolded`` forward, else itself."""
    wrappers = (nn.parallel.DistributedDataParallel, nn.DataParallel)
    model = model.module if isinstance(model, wrappers) else model
    return model.model if isinstance(model, MaskFolded) else model


class MaskApplier:
    """Keeps a model's masked weights at zero; cheap enough to call every step (foreach ops)."""

    def __init__(self, model: nn.Module, mask: Mask) -> None:
        model = unwrap(model)  # mask names are the bare model's, not DDP's "module.<name>"
        mask.check_model(model)
        params = dict(model.named_parameters())
        pairs = [(params[n], m) for n, m in mask.items() if not bool(m.all())]
        self.params = [p for p, _ in pairs]
        device = self.params[0].device if self.params else "cpu"
        self.factors = [m.to(device=device, dtype=p.dtype) for p, m in pairs]

    @torch.no_grad()
    def apply_to_weights(self) -> None:
        if self.params:
            torch._foreach_mul_(self.params, self.factors)

    @torch.no_grad()
    def apply_to_grads(self) -> None:
        grads = [p.grad for p in self.params if p.grad is not None]
        if grads and len(grads) == len(self.params):
            torch._foreach_mul_(grads, self.factors)
        else:
            for p, f in zip(self.params, self.factors):
                if p.grad is not None:
                    p.grad.mul_(f)
