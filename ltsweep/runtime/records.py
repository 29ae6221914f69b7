"""Per-trial records on the sweep's storage: ``done.json`` and ``failed.json``.

These, not Ray Tune's experiment state, decide what is done: Tune's own state may be up to
``TUNE_GLOBAL_CHECKPOINT_S`` stale after a kill (SPEC.md), a done record never is (atomic write
after the last byte of the trial's outputs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ltsweep.fsio import write_json

DONE, FAILED = "done.json", "failed.json"


def read_done(trial_dir: Path) -> dict[str, Any] | None:
    path = trial_dir / DONE
    return json.loads(path.read_text()) if path.exists() else None


def has_done(trial_dir: Path) -> bool:
    """Whether the trial is done, without reading its record (``status`` asks for 10^4)."""
    return (trial_dir / DONE).exists()


def write_done(trial_dir: Path, record: dict[str, Any]) -> None:
    write_json(trial_dir / DONE, record)
    (trial_dir / FAILED).unlink(missing_ok=True)


def read_failed(trial_dir: Path) -> dict[str, Any] | None:
    path = trial_dir / FAILED
    return json.loads(path.read_text()) if path.exists() else None


def write_failed(trial_dir: Path, reason: str, retryable: bool) -> None:
    write_json(trial_dir / FAILED, {"reason": reason, "retryable": retryable})
