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
