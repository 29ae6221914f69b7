"""The plan a sweep's store holds results for: ``plan.json`` beside ``trials/``.

``ltsweep run`` writes it (atomically, through the store: a folder, ``s3://`` or ``gs://``) before
any trial starts, so that ``report``, ``export``, ``status`` and ``ui`` select exactly the current
plan's results, even from a store copied without its sweep file or data: results of trials an
earlier version of the sweep file planned stay in the store (a later edit back finds them
again) but are never mixed into the current plan's figures.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ltsweep.errors import UserError
from ltsweep.storage.paths import SweepPaths

PLAN_FILE = "plan.json"
FORMAT = 1


@dataclass(frozen=True)
class PlanKeys:
    """The trial keys of one plan: generation trials with their IMP levels (a result per level,
    0 being the dense network) and transfer trials (one result each)."""

    sweep: str
    generation: dict[str, int]  # generation trial key -> IMP levels (results at 0..levels)
    transfer: tuple[str, ...]
    report: dict[str, Any] = field(default_factory=dict)  # the sweep file's report settings

    @property
    def trial_keys(self) -> set[str]:
        return {*self.generation, *self.transfer}


def _digest(generation: dict[str, int], transfer: list[str]) -> str:
    text = json.dumps({"generation": generation, "transfer": transfer}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def write_plan_keys(paths: SweepPaths, keys: PlanKeys) -> None:
    generation, transfer = dict(sorted(keys.generation.items())), sorted(keys.transfer)
    paths.store.write_json(
        PLAN_FILE,
        {
            "format": FORMAT,
            "sweep": keys.sweep,
            "generation": generation,
            "transfer": transfer,
            "report": keys.report,
            "sha256": _digest(generation, transfer),
        },
    )


def read_plan_keys(paths: SweepPaths) -> PlanKeys | None:
    """The recorded plan, or None for a store written before plans were recorded."""
    where = f"{paths.where}/{PLAN_FILE}"
    try:
        raw = paths.store.read_json(PLAN_FILE)
    except json.JSONDecodeError:
        raw = {}
    if raw is None:
        return None
    fix = "run the sweep again (`ltsweep run`) to record its plan"
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise UserError(f"{where} is not a plan record of this ltsweep version: {fix}")
    generation, transfer = raw.get("generation"), raw.get("transfer")
    if (
        not isinstance(generation, dict)
        or not isinstance(transfer, list)
        or raw.get("sha256") != _digest(generation, transfer)
    ):
        raise UserError(f"{where} is damaged (its sha256 does not match its keys): {fix}")
    report = raw.get("report")
    return PlanKeys(
        str(raw.get("sweep", "")),
        {str(k): int(v) for k, v in generation.items()},
        tuple(str(k) for k in transfer),
        report if isinstance(report, dict) else {},
    )
