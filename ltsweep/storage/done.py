"""Per-trial records on the sweep's storage: ``done.json`` and ``failed.json`` in the trial's
directory (``ltsweep.trial_layout``).

These, not Ray Tune's experiment state, decide what is done: Tune's own state may be up to
``TUNE_GLOBAL_CHECKPOINT_S`` stale after a kill (docs/design.md#resume), a done record never is
(atomic write after the last byte of the trial's outputs reached the store).
"""

from __future__ import annotations

from typing import Any

from ltsweep.storage.paths import SweepPaths
from ltsweep.trial_layout import DONE_FILE, FAILED_FILE


def read_done(paths: SweepPaths, key: str) -> dict[str, Any] | None:
    return paths.store.read_json(f"{paths.trial_rel(key)}/{DONE_FILE}")


def has_done(paths: SweepPaths, key: str) -> bool:
    """Whether the trial is done, without reading its record (``status`` asks for 10^4)."""
    return paths.store.exists(f"{paths.trial_rel(key)}/{DONE_FILE}")


def write_done(paths: SweepPaths, key: str, record: dict[str, Any]) -> None:
    paths.store.write_json(f"{paths.trial_rel(key)}/{DONE_FILE}", record)
    paths.store.delete(f"{paths.trial_rel(key)}/{FAILED_FILE}")


def read_failed(paths: SweepPaths, key: str) -> dict[str, Any] | None:
    return paths.store.read_json(f"{paths.trial_rel(key)}/{FAILED_FILE}")


def write_failed(paths: SweepPaths, key: str, reason: str, retryable: bool) -> None:
    paths.store.write_json(
        f"{paths.trial_rel(key)}/{FAILED_FILE}", {"reason": reason, "retryable": retryable}
    )
