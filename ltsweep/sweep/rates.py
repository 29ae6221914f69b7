"""Measured seconds per epoch from finished trials, beside the plan's figures (``ltsweep status``).

Every done record holds each epoch's wall seconds and the device kind it ran on. A trial's
device-seconds per epoch are its wall seconds x the devices it held: GPUs (``gpu`` x ``workers``,
so four trials sharing a GPU at ``gpu: 0.25`` each count a quarter) or, on a CPU, the threads it
was given (``cpu`` x ``workers``). That is the unit of the plan's ``epoch_gpu_seconds`` (one GPU's
time for one epoch, docs/cost.md), so the two can be compared, and what is left of a sweep can be
projected from what its first trials measured.

Reads the sweep's storage only (done records, a few per group), never MLflow: ``status`` must
answer at once on a grid of 10^4 trials.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ltsweep.storage.done import has_done, read_done
from ltsweep.storage.paths import SweepPaths
from ltsweep.sweep.cost import dataset_of, planned_epoch_seconds, trial_gpu_seconds
from ltsweep.sweep.plan import Plan
from ltsweep.sweep.trial import Trial

SAMPLE = 8  # done records read per (model, dataset): enough for a median, cheap on a bucket
CPU = "cpu"


@dataclass(frozen=True)
class Rate:
    """Median device-seconds per epoch of one model on one dataset entry on one device kind."""

    model: str
    dataset: str
    device: str  # "cpu", a CUDA device name, or "gpu" (a Ray Train group on GPUs)
    trials: int  # done records measured
    per_epoch: float
    planned: float | None  # epoch_gpu_seconds x pixel factor / multi-GPU efficiency, as plan

    @property
    def unit(self) -> str:
        return "CPU-seconds" if self.device == CPU else "GPU-seconds"


@dataclass(frozen=True)
class Projection:
    """What the trials not yet done will cost: from measured rates where a trial's (model,
    dataset) has one, else from the plan's figure."""

    trials_left: int
    trials_measured: int  # of those left, how many have a measured rate
    measured_hours: dict[str, float]  # unit -> device-hours projected from measured rates
    planned_hours: float | None  # plan's GPU-hours for all trials left (None: no figures)


def _history(record: dict[str, Any]) -> list[dict[str, Any]]:
    if "levels" in record:
        return [h for level in record["levels"] for h in level.get("history", [])]
    return list(record.get("history", []))


def device_seconds_per_epoch(record: dict[str, Any], trial: Trial) -> tuple[str, float] | None:
    """(device kind, device-seconds per epoch) of one done record; None if it has no epochs."""
    epochs = [h["seconds"] for h in _history(record) if "seconds" in h]
    if not epochs:
        return None
    r = trial.resources
    device = record.get("device_name") or record.get("device") or CPU
    held = r.workers * (r.cpu if device == CPU else r.gpu)
    return device, sum(epochs) / len(epochs) * held


def measure(
    paths: SweepPaths,
    plan: Plan,
    is_done: Callable[[str], bool] | None = None,
    sample: int = SAMPLE,
) -> tuple[list[Rate], Projection]:
    """Rates from up to ``sample`` done records per (model, dataset), and the projection."""
    done = is_done or (lambda key: has_done(paths, key))
    measured: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    planned: dict[tuple[str, str], float | None] = {}
    left: list[Trial] = []
    for trial in plan.trials:
        group = (trial.model, dataset_of(trial))
        per_epoch = planned_epoch_seconds(trial, plan.sweep.cost)  # as the plan counts it
        if per_epoch is not None:
            planned.setdefault(group, per_epoch)
        planned.setdefault(group, None)
        if not done(trial.key):
            left.append(trial)
        elif len(measured[group]) < sample:
            record = read_done(paths, trial.key)
            rate = device_seconds_per_epoch(record, trial) if record else None
            if rate is not None:
                measured[group].append(rate)
    rates = _rates(measured, planned)
    return rates, _project(left, rates, plan)


def _rates(
    measured: dict[tuple[str, str], list[tuple[str, float]]],
    planned: dict[tuple[str, str], float | None],
) -> list[Rate]:
    out = []
    for (model, dataset), samples in sorted(measured.items()):
        by_device: dict[str, list[float]] = defaultdict(list)
        for device, seconds in samples:
            by_device[device].append(seconds)
        for device, values in sorted(by_device.items()):
            median = statistics.median(values)
            out.append(Rate(model, dataset, device, len(values), median, planned[(model, dataset)]))
    return out


def _project(left: Iterable[Trial], rates: list[Rate], plan: Plan) -> Projection:
    best: dict[tuple[str, str], Rate] = {}
    for rate in rates:  # the device kind with the most measurements speaks for its group
        key = (rate.model, rate.dataset)
        if key not in best or rate.trials > best[key].trials:
            best[key] = rate
    hours: dict[str, float] = defaultdict(float)
    planned_s, any_planned, n, n_measured = 0.0, False, 0, 0
    for trial in left:
        n += 1
        rate = best.get((trial.model, dataset_of(trial)))
        seconds = trial_gpu_seconds(trial, plan.sweep.cost)
        if seconds is not None:
            any_planned = True
            planned_s += seconds
        if rate is not None:
            n_measured += 1
            hours[rate.unit.replace("seconds", "hours")] += trial.epochs * rate.per_epoch / 3600
    return Projection(n, n_measured, dict(hours), planned_s / 3600 if any_planned else None)


def as_json(rates: list[Rate], projection: Projection, gpu: str) -> dict[str, Any]:
    return {
        "plan_gpu": gpu or None,
        "per_epoch": [
            {
                "model": r.model,
                "dataset": r.dataset,
                "device": r.device,
                "unit": r.unit,
                "trials_measured": r.trials,
                "measured": round(r.per_epoch, 3),
                "planned_gpu_seconds": None if r.planned is None else round(r.planned, 3),
            }
            for r in rates
        ],
        "left": {
            "trials": projection.trials_left,
            "trials_with_measured_rate": projection.trials_measured,
            "measured": {u: round(h, 3) for u, h in projection.measured_hours.items()},
            "planned_gpu_hours": None
            if projection.planned_hours is None
            else round(projection.planned_hours, 1),
        },
    }


def describe(rates: list[Rate], projection: Projection, gpu: str) -> str:
    """The text ``status`` prints: a table of measured vs planned rates, then the projection."""
    from ltsweep.text_table import hours, render

    lines = []
    if rates:
        plan_head = f"plan GPU-s ({gpu})" if gpu else "plan GPU-s"
        rows = [
            (r.model, r.dataset, r.device, r.trials, r.per_epoch, r.unit, r.planned) for r in rates
        ]
        lines.append("  seconds per epoch, measured (median of finished trials) vs planned")
        headers = ["model", "dataset", "device", "trials", "measured", "unit", plan_head]
        lines.append(render(headers, rows, indent="    "))
    else:
        lines.append("  seconds per epoch: nothing measured yet (no finished trial)")
    p = projection
    if p.trials_left:
        measured = ", ".join(f"{hours(h)} {u}" for u, h in sorted(p.measured_hours.items()))
        planned = "unknown" if p.planned_hours is None else f"{hours(p.planned_hours)} GPU-hours"
        lines.append(
            f"  left: {p.trials_left:,} trials; at measured rates {measured or 'unknown'} "
            f"({p.trials_measured:,} of them measured, the rest not counted); plan: {planned}"
        )
    return "\n".join(lines)
