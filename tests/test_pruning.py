"""Pruning strategies: exact counts, smallest magnitude first, no revival, random masks."""

from __future__ import annotations

import pytest
import torch

from ltsweep.core.masks import Mask
from ltsweep.core.models import create_model, prunable_parameter_names
from ltsweep.core.pruning import PruneConfig, prune, prune_global, prune_layerwise, random_mask_like
from ltsweep.errors import UserError

SHAPES = {"a.weight": (8, 3, 3, 3), "b.weight": (16, 8, 3, 3), "c.weight": (10, 16)}


def distinct_weights(seed: int = 0) -> dict[str, torch.Tensor]:
    """Weights with all magnitudes distinct (no ties) and mixed signs, on very different scales."""
    gen = torch.Generator().manual_seed(seed)
    total = sum(torch.Size(s).numel() for s in SHAPES.values())
    magnitudes = (torch.randperm(total, generator=gen).float() + 1) / total
    signs = torch.where(torch.rand(total, generator=gen) < 0.5, -1.0, 1.0)
    flat, out, offset = magnitudes * signs, {}, 0
    for i, (name, shape) in enumerate(SHAPES.items()):
        n = torch.Size(shape).numel()
        out[name] = flat[offset : offset + n].view(shape) * (10.0**i)  # layer scales differ
        offset += n
    return out


def dense_mask() -> Mask:
    return Mask({n: torch.ones(s, dtype=torch.bool) for n, s in SHAPES.items()})


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.37])
def test_global_pruning_removes_exactly_rate_of_remaining_smallest_first(rate: float) -> None:
    weights, mask = distinct_weights(), dense_mask()
    for _level in range(4):
        new = prune_global(weights, mask, rate)
        assert mask.kept - new.kept == round(rate * mask.kept)
        # every removed weight is smaller in magnitude than every surviving one
        mags = {n: w.abs() for n, w in weights.items()}
        removed = torch.cat([mags[n][mask[n] & ~new[n]] for n in SHAPES])
        kept = torch.cat([mags[n][new[n]] for n in SHAPES])
        assert len(removed) == mask.kept - new.kept and len(kept) == new.kept
        assert float(removed.max()) < float(kept.min())
        # never revived: new mask is a subset of the old one
        assert all(not bool((new[n] & ~mask[n]).any()) for n in SHAPES)
        mask = new


def test_global_pruning_is_global_not_per_layer() -> None:
    """Layers on larger scales keep more: the smallest-scale layer loses far more than rate."""
    new = prune_global(distinct_weights(), dense_mask(), 0.5)
    density = new.layer_density()
    assert density["a.weight"] < 0.1 < density["b.weight"] < density["c.weight"]


def test_pruned_weights_are_never_revived_even_when_large() -> None:
    """A pruned entry whose stored value is huge (it was not zeroed) must stay pruned."""
    weights, mask = distinct_weights(), dense_mask()
    first = prune_global(weights, mask, 0.3)
    grown = {n: torch.where(first[n], w, torch.full_like(w, 1e6)) for n, w in weights.items()}
    for strategy in (prune_global, prune_layerwise):
        second = strategy(grown, first, 0.3)
        assert all(not bool((second[n] & ~first[n]).any()) for n in SHAPES)


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_layerwise_pruning_prunes_each_layer_by_rate(rate: float) -> None:
    weights, mask = distinct_weights(), dense_mask()
    for _level in range(3):
        new = prune_layerwise(weights, mask, rate)
        for n in SHAPES:
            alive = int(mask[n].sum())
            assert alive - int(new[n].sum()) == round(rate * alive)
            kept = weights[n].abs()[new[n]]
            dropped = weights[n].abs()[mask[n] & ~new[n]]
            assert float(dropped.max()) < float(kept.min())
        mask = new


def test_prune_dispatches_on_strategy_name() -> None:
    weights, mask = distinct_weights(), dense_mask()
    g = prune(weights, mask, PruneConfig(strategy="global", rate=0.5))
    lw = prune(weights, mask, PruneConfig(strategy="layerwise", rate=0.5))
    assert g.layer_density() != lw.layer_density()
    assert all(abs(d - 0.5) < 0.01 for d in lw.layer_density().values())
    with pytest.raises(UserError, match="layerwise"):
        prune(weights, mask, PruneConfig(strategy="magnitude", rate=0.5))


def test_random_mask_keeps_per_layer_counts_and_moves_positions() -> None:
    mask = prune_layerwise(distinct_weights(), dense_mask(), 0.6)
    mask = prune_global(distinct_weights(1), mask, 0.2)  # uneven per-layer densities
    assert all(0 < d < 1 for d in mask.layer_density().values())
    rand = random_mask_like(mask, torch.Generator().manual_seed(0))
    for n in SHAPES:
        assert rand[n].shape == mask[n].shape and rand[n].dtype == torch.bool
        assert int(rand[n].sum()) == int(mask[n].sum())
        assert not torch.equal(rand[n], mask[n])
    again = random_mask_like(mask, torch.Generator().manual_seed(0))
    assert all(torch.equal(rand[n], again[n]) for n in SHAPES)
    other = random_mask_like(mask, torch.Generator().manual_seed(1))
    assert any(not torch.equal(rand[n], other[n]) for n in SHAPES)


def test_mask_bookkeeping() -> None:
    mask = Mask({"x": torch.tensor([1, 0, 1, 1]), "y": torch.zeros(2, 2)})
    assert mask["x"].dtype == torch.bool
    assert (mask.kept, mask.total) == (3, 8) and mask.density == 3 / 8
    assert mask.layer_density() == {"x": 0.75, "y": 0.0}
    assert mask.report()["kept"] == 3


def test_mask_rejects_foreign_names_and_shapes() -> None:
    model = create_model("vgg_tiny", num_classes=10)
    names = prunable_parameter_names(model)
    mask = Mask.ones_like(model, names)
    mask.check_model(model)
    with pytest.raises(ValueError, match="does not have"):
        Mask({"nope.weight": torch.ones(3)}).check_model(model)
    with pytest.raises(ValueError, match="shape"):
        Mask({names[0]: torch.ones(3)}).check_model(model)


def test_pruning_a_real_model_over_levels_follows_the_geometric_density() -> None:
    model = create_model("vgg_tiny", num_classes=10)
    weights = dict(model.named_parameters())
    mask = Mask.ones_like(model, prunable_parameter_names(model))
    for level in range(1, 6):
        mask = prune(weights, mask, PruneConfig(rate=0.2))
        assert abs(mask.density - 0.8**level) < 1e-3
