"""Imported sources: a sweep's ``sources: [{tickets: URI}]`` entries, read and checked at plan time.

An imported series is a published ticket bundle (or a folder of them, one per seed) that stands
in for a generation trial: its tickets are transferred to the sweep's targets like an own
source's, and it costs no GPU-hours here. ``plan`` reads only each bundle's JSON; the checks
below refuse, in one line naming both sides, a series that cannot move to the sweep's model:
another model, other options (the ResNet stem rule of ``transfer.stem_mismatch`` applies),
tensor shapes that do not fit, another pruning protocol (levels pair by index), or too few
levels. Transfer trials key on the bundle id, so a moved bundle keeps its keys.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from ltsweep.core.jobs import ModelConfig
from ltsweep.errors import UserError
from ltsweep.sweep.trial import Entry
from ltsweep.ticket_bundle import Bundle, shape_mismatch


@dataclass(frozen=True)
class ImportedSeries:
    """One ``{tickets: URI}`` source: its bundles by seed."""

    index: int  # position in the sweep's ``sources``
    uri: str  # as the sweep file writes it
    found: tuple[Any, ...]  # storage.bundles.Found, by seed

    @property
    def where(self) -> str:
        return self.found[0].where if len(self.found) == 1 else self.uri.split("?", 1)[0]

    @property
    def first(self) -> Bundle:
        return self.found[0].bundle

    @property
    def key(self) -> str:
        return f"sources[{self.index}].tickets"

    @property
    def model(self) -> str:
        return self.first.model

    @property
    def entry(self) -> str:
        """The source dataset as its own sweep named it (``imagenet``, ``fashion_a``)."""
        return str(self.first.source.get("entry") or self.first.source["dataset"])

    @property
    def optimizer(self) -> str:
        return self.first.optimizer

    @property
    def label(self) -> str:
        """The source's name in this sweep's trials and report: the entry it was made on and a
        short hash of its bundles, so it never merges with an own source of that name."""
        import hashlib

        ids = ",".join(f.bundle.id for f in self.found)
        return f"{self.entry}@{hashlib.sha256(ids.encode()).hexdigest()[:8]}"

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(f.bundle.seed for f in self.found)

    def entry_of(self, found: Any) -> Entry:
        """The typed source entry of one imported bundle, as the report classifies it: the
        registered dataset it was made on, its cut and training-set size, its id and origin."""
        src = found.bundle.source
        return Entry(
            self.label,
            self.optimizer,
            str(src["dataset"]),
            int(src["num_classes"]),
            src.get("half"),
            src.get("train_subset"),
            src.get("train_size"),
            None,
            found.bundle.id,
            self.where,
        )

    def for_seed(self, seed: int) -> Any:
        return next(f for f in self.found if f.bundle.seed == seed)

    def model_config(self) -> ModelConfig:
        return ModelConfig(self.model, tuple(sorted(self.first.model_options.items())))


def resolve(index: int, uri: str) -> ImportedSeries:
    """Read the series at ``uri`` (JSON only); every problem names the sweep key and the URI."""
    from ltsweep.storage.bundles import find_series

    try:
        found = find_series(uri)
    except UserError as exc:
        raise UserError(f"sources[{index}].tickets: {exc}") from None
    return ImportedSeries(index, uri, tuple(found))


@functools.lru_cache(maxsize=32)
def _model_shapes(
    name: str, options: tuple[tuple[str, Any], ...], classes: int
) -> tuple[dict[str, tuple[int, ...]], str, tuple[str, ...]]:
    """The state-dict shapes, output layer and stem modules of a model, built on the meta device
    (no memory, no initialisation): only plans that import tickets pay for it."""
    import torch

    from ltsweep.core.models import create_model, stem_layer_names

    with torch.device("meta"):
        net = create_model(name, classes, **dict(options))
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    return shapes, net.output_layer_name, stem_layer_names(net)


def check_fits(
    series: ImportedSeries, target: ModelConfig, classes: int, reinit_stem: bool
) -> None:
    """Refuse, in one line, a series whose declared tensors do not fit ``target``."""
    shapes, head, stem = _model_shapes(target.name, target.options, classes)
    skip = (head, *stem) if reinit_stem else (head,)
    for found in series.found:
        problem = shape_mismatch(found.bundle, shapes, skip)
        if problem:
            raise UserError(
                f"{series.key}: {found.where} ({describe_model(series.model_config())}) does "
                f"not fit the sweep's model {describe_model(target)}: {problem}; import tickets "
                "made with this model and options"
            )


def describe_model(model: ModelConfig) -> str:
    options = ", ".join(f"{k}={v}" for k, v in model.options)
    return f"{model.name} ({options})" if options else model.name


def check_protocol(series: ImportedSeries, imp, levels: tuple[int, ...]) -> None:
    """Levels pair by index with the targets' own tickets: the pruning protocol must match,
    and every transferred level must be in the bundle."""
    theirs = series.first.identity["imp"]
    ours = {"rate": imp.rate, "strategy": imp.strategy, "prune_output": imp.prune_output}
    for name, value in ours.items():
        if theirs.get(name) != value:
            raise UserError(
                f"{series.key}: {series.where} was pruned with {name} {theirs.get(name)}, the "
                f"sweep's imp.{name} is {value}; levels would not pair by sparsity: import a "
                f"series made with imp.{name}: {value}"
            )
    for found in series.found:
        if max(levels) > found.bundle.top:
            raise UserError(
                f"{series.key}: {found.where} has levels 0..{found.bundle.top}, the sweep "
                f"transfers level {max(levels)}; lower transfer.levels"
            )
    models = {(f.bundle.model, tuple(sorted(f.bundle.model_options.items()))) for f in series.found}
    if len(models) > 1:
        raise UserError(f"{series.key}: {series.where} mixes models {sorted(models)}")
