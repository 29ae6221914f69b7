"""Pruning strategies (registry): global or layer-wise magnitude pruning, and random masks.

Each strategy is a pure function ``(weights, mask, rate) -> new mask`` that removes ``rate`` of
the weights that are still kept, smallest magnitude first. Which parameters are prunable is the
model's business (``prunable_parameter_names``), not the strategy's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ltsweep.registry import Registry

if TYPE_CHECKING:  # the planner reads PruneConfig and the strategy names without torch
    import torch

    from ltsweep.core.masks import Mask

Pruner = Callable[["Mapping[str, torch.Tensor]", "Mask", float], "Mask"]
PRUNERS: Registry[Pruner] = Registry("pruning strategy")


@dataclass(frozen=True)
class PruneConfig:
    """Global magnitude pruning, 20% of what remains, output kept (docs/design.md#imp-protocol)."""

    strategy: str = "global"
    rate: float = 0.2
    prune_output: bool = False


def _keep_largest(scores: torch.Tensor, keep: int) -> torch.Tensor:
    """Bool mask of the ``keep`` largest entries of a flat tensor (ties broken by position)."""
    import torch

    out = torch.zeros_like(scores, dtype=torch.bool)
    if keep > 0:
        out[torch.topk(scores, keep, sorted=False).indices] = True
    return out


@PRUNERS.register("global")
def prune_global(weights: Mapping[str, torch.Tensor], mask: Mask, rate: float) -> Mask:
    """Remove ``rate`` of the surviving weights across all layers together, by |w|."""
    import torch

    from ltsweep.core.masks import Mask

    names = list(mask)
    flat = torch.cat([weights[n].detach().abs().flatten().float().cpu() for n in names])
    alive = torch.cat([mask[n].flatten().cpu() for n in names])
    keep = alive.sum().item() - round(rate * alive.sum().item())
    scores = torch.where(alive, flat, torch.full_like(flat, -1.0))
    kept = _keep_largest(scores, int(keep))
    out, offset = Mask(), 0
    for n in names:
        size = mask[n].numel()
        out[n] = kept[offset : offset + size].view_as(mask[n])
        offset += size
    return out


@PRUNERS.register("layerwise")
def prune_layerwise(weights: Mapping[str, torch.Tensor], mask: Mask, rate: float) -> Mask:
    """Remove ``rate`` of the surviving weights of each layer separately."""
    import torch

    from ltsweep.core.masks import Mask

    out = Mask()
    for n, m in mask.items():
        alive = m.flatten().cpu()
        keep = int(alive.sum().item() - round(rate * alive.sum().item()))
        scores = torch.where(
            alive, weights[n].detach().abs().flatten().float().cpu(), torch.tensor(-1.0)
        )
        out[n] = _keep_largest(scores, keep).view_as(m)
    return out


def prune(weights: Mapping[str, torch.Tensor], mask: Mask, config: PruneConfig) -> Mask:
    return PRUNERS.get(config.strategy)(weights, mask, config.rate)


def random_mask_like(mask: Mask, generator: torch.Generator) -> Mask:
    """Same per-layer sparsity, positions permuted within layers (docs/design.md#ticket-kinds)."""
    import torch

    from ltsweep.core.masks import Mask

    out = Mask()
    for n, m in mask.items():
        flat = m.flatten().cpu()
        out[n] = flat[torch.randperm(flat.numel(), generator=generator)].view_as(m)
    return out
