"""Trial keys (hashes of each trial's resolved configuration) stay byte-identical: an existing
sweep's finished trials are found again instead of rerun; a field added with ``HASHED_WHEN_SET``
leaves the key of every configuration that does not set it unchanged, and changes it when set."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ltsweep.core.jobs import DataConfig
from ltsweep.hashing import HASHED_WHEN_SET, config_key, to_jsonable
from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.files import resolve_sweep_file
from ltsweep.sweep.plan import build_plan

# sha256 of grid_full's trial keys, one per line in plan order.
GRID_FULL_KEYS_SHA256 = "bde47fcba54b01313f8c70bfc481b2acbf7787e970668450ddfc81e4b96ec419"


def test_grid_full_trial_keys_are_unchanged() -> None:
    """The ResNet50 transfers from ImageNet/Places365 stems (``stem_mismatch: reinit``) are new
    trials; every trial grid_full planned before keeps its key, in the same order."""
    plan = build_plan(load_sweep(resolve_sweep_file("grid_full")))
    old = [t.key for t in plan.trials if not getattr(t.job, "reinit_stem", False)]
    digest = hashlib.sha256("\n".join(old).encode()).hexdigest()
    assert (len(plan.trials), len(old), plan.skipped_incompatible) == (12600, 11352, 0), (
        f"grid_full now plans {len(plan.trials)} trials, {len(old)} without a re-initialised "
        f"stem ({plan.skipped_incompatible} skipped as incompatible); expected 12600, 11352, 0"
    )
    assert digest == GRID_FULL_KEYS_SHA256, (
        "grid_full's trial keys changed: every finished trial of an existing sweep would rerun"
    )


@dataclass(frozen=True)
class Before:
    name: str
    size: int = 8


@dataclass(frozen=True)
class After:
    name: str
    size: int = 8
    extra: str | None = field(default=None, metadata=HASHED_WHEN_SET)


def test_an_unset_added_field_keeps_the_key() -> None:
    assert config_key(After("x")) == config_key(Before("x")), "adding a field changed old keys"
    assert config_key(After("x", extra="y")) != config_key(Before("x")), "setting it did not"
    memo: dict = {}
    assert config_key(After("x"), memo=memo) == config_key(After("x"), memo=memo)


def test_a_registered_dataset_has_no_folder_in_its_key() -> None:
    assert "folder" not in to_jsonable(DataConfig("digits")), "keys of existing sweeps move"


def test_a_resolution_schedule_enters_the_keys_of_its_datasets_trials_only() -> None:
    """grid_full's ImageNet entry with a resolution schedule: its generation trials (and the
    transfers from them) get new keys; every trial of the 32x32 entries keeps its key."""
    import dataclasses

    from ltsweep.core.resolution import Resolution

    sweep = load_sweep(resolve_sweep_file("grid_full"))
    schedule = Resolution(start=160, end=192, ramp=(67, 78), eval=224)
    datasets = dict(sweep.datasets)
    datasets["imagenet"] = dataclasses.replace(datasets["imagenet"], resolution=schedule)
    before = build_plan(sweep)
    after = build_plan(dataclasses.replace(sweep, datasets=datasets))
    old = {t.key for t in before.trials}
    imagenet_gen = {t.key for t in before.generation if t.job.data.name == "imagenet"}
    for b, a in zip(before.trials, after.trials, strict=True):
        scheduled = a.job.data.resolution is not None
        assert scheduled == (b.job.data.name == "imagenet"), b.key
        if scheduled or b.source_key in imagenet_gen:
            assert a.key not in old, f"{a.key}: the schedule did not enter the key"
        else:
            assert a.key == b.key, f"{b.key} changed although its data has no schedule"
