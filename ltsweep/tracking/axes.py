"""A trial's typed record (``sweep.trial.TrialAxes``) as MLflow tags, and back: the one place
that knows how the axes are spelled in the store. Everything else passes the typed record.

Values that are not known or do not apply (a generation trial's level, a random ticket's source,
an entry's half) are left out, never written as ``""``; a store written before the entries were
recorded reads back with the entry's name as its registered dataset and its sizes unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ltsweep.sweep.trial import GENERATE, Entry, TrialAxes
from ltsweep.tracking import schema as S

if TYPE_CHECKING:
    from ltsweep.storage.plan_keys import PlanKeys

SIDES = {"source": (S.TAG_SOURCE_DATASET, S.TAG_SOURCE_OPTIMIZER)}
SIDES["target"] = (S.TAG_TARGET_DATASET, S.TAG_TARGET_OPTIMIZER)
INT_FIELDS = ("classes", "subset", "train_size", "test_size")


def _entry_tags(side: str, entry: Entry | None) -> dict[str, str]:
    name_tag, optimizer_tag = SIDES[side]
    if entry is None:
        return {name_tag: S.NO_SOURCE, optimizer_tag: S.NO_SOURCE}
    values = {
        "registered": entry.dataset,
        "classes": entry.classes,
        "half": entry.half,
        "subset": entry.subset,
        "train_size": entry.train_size,
        "test_size": entry.test_size,
        "bundle": entry.bundle,
        "origin": entry.origin,
    }
    out = {name_tag: entry.name, optimizer_tag: entry.optimizer}
    out.update({S.entry_tag(side, f): str(v) for f, v in values.items() if v is not None})
    return out


def to_tags(axes: TrialAxes) -> dict[str, str]:
    """The axis tags of a run with these axes (without its role)."""
    tags = {
        S.TAG_STAGE: axes.stage,
        S.TAG_KIND: axes.kind,
        S.TAG_MODEL: axes.model,
        S.TAG_SEED: str(axes.seed),
        **_entry_tags("source", axes.source),
        **_entry_tags("target", axes.target),
    }
    if axes.level is not None:
        tags[S.TAG_LEVEL] = str(axes.level)
    if axes.stage == GENERATE and axes.level is None:
        tags[S.TAG_IS_TARGET] = "1" if axes.is_target else "0"
    return tags


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text not in (None, "") else None
    except ValueError:
        return None


def _entry(tags: Mapping[str, str], side: str) -> Entry | None:
    name_tag, optimizer_tag = SIDES[side]
    name = tags.get(name_tag) or S.NO_SOURCE
    if name == S.NO_SOURCE:
        return None
    ints = {f: _int(tags.get(S.entry_tag(side, f))) for f in INT_FIELDS}
    return Entry(
        name,
        tags.get(optimizer_tag) or S.NO_SOURCE,
        tags.get(S.entry_tag(side, "registered")) or name,
        ints["classes"],
        tags.get(S.entry_tag(side, "half")) or None,
        ints["subset"],
        ints["train_size"],
        ints["test_size"],
        tags.get(S.entry_tag(side, "bundle")) or None,
        tags.get(S.entry_tag(side, "origin")) or None,
    )


def from_tags(tags: Mapping[str, str]) -> TrialAxes | None:
    """The typed axes of a run's tags; None when they do not describe a trial (no target or
    seed: a sweep's parent run, a run another tool wrote)."""
    target, seed = _entry(tags, "target"), _int(tags.get(S.TAG_SEED))
    if target is None or seed is None:
        return None
    return TrialAxes(
        tags.get(S.TAG_STAGE, ""),
        tags.get(S.TAG_KIND, ""),
        tags.get(S.TAG_MODEL, ""),
        target,
        seed,
        _entry(tags, "source"),
        _int(tags.get(S.TAG_LEVEL)),
        tags.get(S.TAG_IS_TARGET) == "1",
    )


def result_key(trial_key: str, level: int | None) -> str:
    """The key of one result run: a transfer trial's own key, or ``<generation key>/L03`` for one
    IMP level of a generation trial (its level 0 is the dense network)."""
    return trial_key if level is None else f"{trial_key}/L{level:02d}"


def planned_results(plan: PlanKeys) -> set[str]:
    """The result keys of a recorded plan: each transfer trial, each generation level."""
    out = set(plan.transfer)
    for key, levels in plan.generation.items():
        out.update(result_key(key, level) for level in range(levels + 1))
    return out
