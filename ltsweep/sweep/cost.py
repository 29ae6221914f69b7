"""What a sweep costs in GPU-hours, and where the hours go (docs/cost.md).

A dataset entry's ``epoch_gpu_seconds[model]`` is what ONE GPU spends on one epoch of the entry's
whole training split (or its half/subset). A trial on N Ray Train workers shares that work among
them; it is not spent N times. What is lost to multi-GPU communication is the sweep's explicit
``cost.multi_gpu_efficiency`` (default NVIDIA's 8-GPU ResNet-50 scaling, 6.72/8), so that

    GPU-seconds of a trial = epochs x epoch_gpu_seconds / efficiency,

with efficiency 1.0 for a trial on one GPU or a fraction of one. A dataset entry with a progressive
``resolution`` trains each epoch at fewer pixels than the size its ``epoch_gpu_seconds`` assume
(the entry's ``image_size``, else the dataset's): each epoch's figure is scaled by
``(size / base)^2``, so a training costs ``pixel_factor`` = the mean of that over its epochs
(docs/cost.md#progressive-resolution). Pure: no I/O, no torch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ltsweep.sweep.config import CostSettings
from ltsweep.sweep.plan import Plan
from ltsweep.sweep.trial import Resources, Trial


@dataclass(frozen=True)
class CostRow:
    """One (stage, model, dataset) group of trials and its share of the sweep's GPU-hours."""

    stage: str
    model: str
    dataset: str
    trials: int
    epochs: int
    gpu_hours: float | None  # None when no trial of the group has a per-epoch figure
    share: float | None  # of the sweep's costed GPU-hours
    saved_hours: float | None = None  # by a resolution schedule (0.0 where none is set)


@dataclass(frozen=True)
class UnusedGeneration:
    """Generation trials whose tickets no transfer trains and that no target needs as its own
    baseline: they cost hours and feed nothing."""

    model: str
    dataset: str
    optimizer: str
    trials: int
    gpu_hours: float | None


@dataclass(frozen=True)
class Estimate:
    gpu: str  # the GPU kind the figures assume ("" when the sweep does not say)
    multi_gpu_efficiency: float
    gpu_hours: float | None  # None when no trial has a per-epoch figure
    saved_hours: float | None  # what the resolution schedules save (0.0 when none is set)
    trials_costed: int
    trials: int
    rows: tuple[CostRow, ...]  # largest first
    unused: tuple[UnusedGeneration, ...]


def efficiency(resources: Resources, settings: CostSettings) -> float:
    """Throughput kept by the trial's GPUs together: 1.0 unless it runs on several."""
    return settings.multi_gpu_efficiency if resources.workers * resources.gpu > 1 else 1.0


def base_size(trial: Trial) -> int:
    """The side length ``epoch_gpu_seconds`` assume: the entry's image size, else the
    dataset's registered one."""
    data = trial.job.data
    return data.image_size or data.spec().image_size


def pixel_factor(trial: Trial) -> float:
    """A training's cost under its resolution schedule, as a fraction of the full-size one
    (1.0 without a schedule): the mean over its epochs of ``(size / base)^2``."""
    schedule = trial.job.data.resolution
    if schedule is None:
        return 1.0
    return schedule.pixel_factor(trial.job.train.epochs, base_size(trial))


def planned_epoch_seconds(
    trial: Trial, settings: CostSettings, full_size: bool = False
) -> float | None:
    """One epoch as ``plan`` counts it: ``epoch_gpu_seconds x pixel_factor / efficiency``
    (``full_size``: without the resolution schedule's saving); None without a figure."""
    if trial.epoch_gpu_seconds is None:
        return None
    factor = 1.0 if full_size else pixel_factor(trial)
    return trial.epoch_gpu_seconds * factor / efficiency(trial.resources, settings)


def trial_gpu_seconds(
    trial: Trial, settings: CostSettings, full_size: bool = False
) -> float | None:
    """``epochs x epoch_gpu_seconds x pixel_factor / efficiency``; None without a per-epoch
    figure."""
    per_epoch = planned_epoch_seconds(trial, settings, full_size)
    return None if per_epoch is None else trial.epochs * per_epoch


def dataset_of(trial: Trial) -> str:
    """The sweep's dataset entry a trial trains on: its source for generation, else its target."""
    return trial.trains_on.name


def _hours(seconds: list[float | None]) -> float | None:
    known = [s for s in seconds if s is not None]
    return sum(known) / 3600 if known else None


def unused_generation(plan: Plan) -> list[Trial]:
    """Generation trials no transfer uses as a ticket source and that are no target's baseline."""
    used = {t.source_key for t in plan.transfer}
    return [t for t in plan.generation if t.key not in used and not t.axes.is_target]


def estimate(plan: Plan) -> Estimate:
    settings = plan.sweep.cost
    seconds = {t.key: trial_gpu_seconds(t, settings) for t in plan.trials}
    full = {t.key: trial_gpu_seconds(t, settings, full_size=True) for t in plan.trials}
    groups: dict[tuple[str, str, str], list[Trial]] = defaultdict(list)
    for t in plan.trials:
        groups[(t.stage, t.model, dataset_of(t))].append(t)
    total = _hours(list(seconds.values()))
    rows = []
    for (stage, model, dataset), trials in groups.items():
        hours = _hours([seconds[t.key] for t in trials])
        share = hours / total if hours is not None and total else None
        epochs = sum(t.epochs for t in trials)
        full_hours = _hours([full[t.key] for t in trials])
        saved = None if hours is None or full_hours is None else full_hours - hours
        rows.append(CostRow(stage, model, dataset, len(trials), epochs, hours, share, saved))
    rows.sort(key=lambda r: (-(r.gpu_hours or 0.0), r.stage, r.model, r.dataset))
    idle: dict[tuple[str, str, str], list[Trial]] = defaultdict(list)
    for t in unused_generation(plan):
        idle[(t.model, t.trains_on.name, t.trains_on.optimizer)].append(t)
    unused = tuple(
        UnusedGeneration(m, d, o, len(ts), _hours([seconds[t.key] for t in ts]))
        for (m, d, o), ts in sorted(idle.items())
    )
    full_total = _hours(list(full.values()))
    return Estimate(
        settings.gpu,
        settings.multi_gpu_efficiency,
        total,
        None if total is None or full_total is None else full_total - total,
        sum(1 for s in seconds.values() if s is not None),
        len(seconds),
        tuple(rows),
        unused,
    )


@dataclass(frozen=True)
class ImportedSaving:
    """An imported ticket series: 0 GPU-hours here, and what making it here would have cost."""

    label: str  # the source's name in this sweep's trials (entry@hash)
    origin: str
    model: str
    optimizer: str
    seeds: tuple[int, ...]  # the imported seeds that pair with a target seed
    bundle_ids: tuple[str, ...]
    gpu_hours_saved: float | None  # None: the sweep has no epoch_gpu_seconds for its dataset


def imported_savings(plan: Plan) -> list[ImportedSaving]:
    """Per imported series, the generation trials it stands in for, priced with this sweep's
    figures for its dataset entry (same name) when the sweep has them."""
    sweep, rows = plan.sweep, []
    used = {(t.axes.source.bundle, t.axes.seed) for t in plan.transfer if t.axes.source}
    for series in plan.imported:
        seeds = tuple(f.bundle.seed for f in series.found if (f.bundle.id, f.bundle.seed) in used)
        entry = sweep.datasets.get(series.entry)
        eps = entry.epoch_gpu_seconds.get(series.model) if entry else None
        saved = None
        if eps is not None and entry is not None:
            res = (entry.resources or sweep.resources).generate
            levels = int(series.first.identity["imp"]["levels"]) + 1
            epochs = int(series.first.identity["schedule"]["epochs"])
            per_seed = levels * epochs * eps / efficiency(res, sweep.cost)
            saved = per_seed * len(seeds) / 3600
        rows.append(
            ImportedSaving(
                series.label,
                series.where,
                series.model,
                series.optimizer,
                seeds,
                tuple(f.bundle.id for f in series.found),
                saved,
            )
        )
    return rows


def reuse_savings(plan: Plan, done_elsewhere: dict[str, str]) -> tuple[int, float | None]:
    """Generation trials a ``reuse`` store has done: how many, and their GPU-hours."""
    trials = [t for t in plan.generation if t.key in done_elsewhere]
    return len(trials), _hours([trial_gpu_seconds(t, plan.sweep.cost) for t in trials])


@dataclass(frozen=True)
class WhatIfImported:
    """``plan --as-imported``: the sweep's cost if the named sources' series were imported."""

    entries: tuple[str, ...]
    trials: int  # generation trials an import would replace
    gpu_hours_saved: float | None
    gpu_hours_left: float | None


def what_if_imported(plan: Plan, entries: tuple[str, ...]) -> WhatIfImported:
    """Price the plan as if each source entry in ``entries`` came as published tickets: its
    generation trials (those no target needs as its own baseline) cost nothing here; every
    transfer trial stays, trained and priced as planned."""
    from ltsweep.errors import UserError

    sources = {s.dataset for s in plan.sweep.sources if not s.imported}
    unknown = sorted(set(entries) - sources)
    if unknown:
        raise UserError(
            f"--as-imported {unknown[0]}: not a source dataset of this sweep "
            f"(sources: {', '.join(sorted(sources))})"
        )
    replaced = [t for t in plan.generation if t.trains_on.name in entries and not t.axes.is_target]
    saved = _hours([trial_gpu_seconds(t, plan.sweep.cost) for t in replaced])
    total = estimate(plan).gpu_hours
    left = None if total is None else total - (saved or 0.0)
    return WhatIfImported(tuple(entries), len(replaced), saved, left)
