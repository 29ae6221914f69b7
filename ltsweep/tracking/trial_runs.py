"""Turning trials and their done records into MLflow runs (see ``schema.py`` for the layout).

Every function here is idempotent: it finds runs by key and logs only what is missing, so the
driver may call it again after any interruption.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath
from typing import Any

from ltsweep.core.jobs import DENSE, SAME, GenerationJob
from ltsweep.hashing import to_jsonable
from ltsweep.storage.paths import SweepPaths
from ltsweep.storage.staging import fetch_ticket
from ltsweep.sweep.trial import GENERATE, Trial, TrialAxes
from ltsweep.tracking import axes as A
from ltsweep.tracking import schema as S
from ltsweep.tracking.client import Tracker
from ltsweep.trial_layout import level_name, read_ticket_json, ticket_dir


def axis_tags(axes: TrialAxes, role: str) -> dict[str, str]:
    return {**A.to_tags(axes), S.TAG_ROLE: role, S.TAG_IN_PLAN: "1"}  # created by its plan


def trial_params(trial: Trial) -> dict[str, Any]:
    job = to_jsonable(trial.job)
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            flat[prefix] = value

    walk("", job)
    for noisy in ("key", "data.data_root", "data.ffcv_dir", "data.workers", "ticket_dir"):
        flat.pop(noisy, None)
    flat["resources"] = to_jsonable(trial.resources)
    if trial.source_key:
        flat["ticket.source_key"], flat["ticket.level"] = trial.source_key, trial.level
    return flat


def run_name(trial: Trial) -> str:
    a = trial.axes
    if trial.stage == GENERATE:
        return f"gen {a.model} {a.target.label} s{a.seed}"
    src = "" if a.source is None else f"{a.source.label} -> "
    return f"{a.kind} {src}{a.target.label} L{a.level} s{a.seed}"


def start_trial(tracker: Tracker, trial: Trial, parent_id: str) -> str:
    """The trial's run, RUNNING; its params are held for the run's next write (the recorder
    flushes held writes within ``LIVE_FLUSH_S``, see ``writer.py``)."""
    role = S.ROLE_TRIAL if trial.stage == GENERATE else f"{S.ROLE_TRIAL},{S.ROLE_RESULT}"
    run_id = tracker.find_or_create(
        trial.key,
        run_name(trial),
        axis_tags(trial.axes, role),
        trial_params(trial),
        parent_id,
        hold=True,
    )
    tracker.set_status(run_id, "RUNNING")
    return run_id


def where_tags(record: dict[str, Any]) -> dict[str, str]:
    """Node, device, kernel family, times and step mode (compiled or eager, and why) of the attempt that
    finished (records from older runs lack them)."""
    fields = {
        S.TAG_NODE: record.get("node"),
        S.TAG_DEVICE: record.get("device"),
        S.TAG_STARTED_AT: record.get("started_at"),
        S.TAG_ENDED_AT: record.get("ended_at"),
        S.TAG_TRAIN_NODES: ",".join(record.get("train_nodes", [])) or None,
        S.TAG_STEPS: record.get("steps"),
        S.TAG_KERNELS: record.get("kernels"),
    }
    return {k: f"{v:.3f}" if isinstance(v, float) else str(v) for k, v in fields.items() if v}


def _final_metrics(history: list[dict[str, float]]) -> list[tuple[str, float, int]]:
    if not history:
        return []
    last = len(history) - 1
    return [
        (S.FINAL_ACCURACY, history[-1]["test_accuracy"], last),
        (S.BEST_ACCURACY, max(h["test_accuracy"] for h in history), last),
    ]


def finish_trial(
    tracker: Tracker, trial: Trial, record: dict[str, Any], parent_id: str, trial_dir: Path
) -> None:
    """Record a done trial in full: result runs, metrics, ticket artifacts; then FINISHED.

    A trial's metrics and tags go in one batch (a run's tags and metrics in one call each cost
    the driver a store transaction per call, thousands in a grid)."""
    run_id = start_trial(tracker, trial, parent_id)
    tags = where_tags(record)
    if trial.stage == GENERATE:
        assert isinstance(trial.job, GenerationJob)
        for level in record["levels"]:
            tags.update(_finish_level(tracker, trial, level, run_id, trial_dir))
        tracker.write(run_id, tags=tags)
    else:
        history = record["history"]
        rows = tracker.history_rows(run_id, history)
        rows += tracker.unlogged(run_id, _final_metrics(history), S.FINAL_ACCURACY)
        tags[S.TAG_WEIGHTS_REMAINING] = f"{record['weights_remaining']:.6g}"
        tags[S.PREFIX + "ticket_sha256"] = record["ticket_sha256"]
        if "stem" in record:  # transfer.stem_mismatch: reinit applied (core.transfer)
            stem = record["stem"]
            tags[S.PREFIX + "stem"] = f"{stem['rule']} {stem['ticket_stem']}->{stem['target_stem']}"
        tracker.write(run_id, rows, tags)
    tracker.set_status(run_id, "FINISHED")


def _finish_level(
    tracker: Tracker, trial: Trial, level: dict[str, Any], gen_run: str, trial_dir: Path
) -> dict[str, str]:
    """One IMP level's result run; returns the generation run's tag for its ticket (set by the
    caller with the others, also for a level recorded before)."""
    lv = int(level["level"])
    key = A.result_key(trial.key, lv)
    tdir = ticket_dir(trial_dir, lv)
    sha = str(read_ticket_json(tdir)["sha256"])
    gen_tag = {f"{S.PREFIX}ticket_sha256.{level_name(lv)}": sha}
    existing = tracker.find(key)
    if existing is not None and tracker.status(key) == "FINISHED":
        return gen_tag
    kind, a = (DENSE if lv == 0 else SAME), trial.axes
    result = dataclasses.replace(a, kind=kind, level=lv, source=None if kind == DENSE else a.source)
    tags = axis_tags(result, S.ROLE_RESULT)
    tags[S.TAG_WEIGHTS_REMAINING] = f"{level['weights_remaining']:.6g}"
    tags[S.PREFIX + "ticket_sha256"] = sha
    name = f"{kind} {a.target.label} L{lv} s{a.seed}"
    run_id = tracker.find_or_create(key, name, tags, trial_params(trial), gen_run, hold=True)
    rows = tracker.history_rows(run_id, level["history"])
    rows += tracker.unlogged(run_id, _final_metrics(level["history"]), S.FINAL_ACCURACY)
    tracker.write(run_id, rows)
    tracker.log_artifacts(gen_run, tdir, ticket_dir(PurePosixPath(), lv).as_posix())
    tracker.set_status(run_id, "FINISHED")
    return gen_tag


def fail_trial(tracker: Tracker, trial: Trial, parent_id: str, reason: str) -> None:
    run_id = start_trial(tracker, trial, parent_id)
    tracker.set_tags(run_id, {S.TAG_ERROR: reason[:4000]})
    tracker.set_status(run_id, "FAILED")


def log_live(tracker: Tracker, trial: Trial, metrics: dict[str, Any], once: bool = False) -> None:
    """Per-epoch metrics while a trial runs (generation: step = level * epochs + epoch), held
    for the run's next write: a trial that ends within the flush interval sends them with its
    final record, one store write instead of one per epoch.

    ``once``: skip steps already in the store (a retry after a tracking error)."""
    run = tracker.find(trial.key)
    if run is None:
        return
    step = int(metrics.get("step", metrics.get("epoch", 0)))
    rows = [(k, metrics[k], step) for k in (*S.EPOCH_METRICS, S.TRAIN_RESOLUTION) if k in metrics]
    if "level" in metrics:
        rows.append(("level", metrics["level"], step))
    tracker.log_metrics(run.info.run_id, rows, once=once, hold=True)


def record_dir(paths: SweepPaths, trial: Trial) -> Path:
    """A local directory with what the driver logs to MLflow for a done trial: a generation
    trial's ``tickets/level_LL/`` (fetched and verified for an object-store sweep)."""
    if not paths.remote or trial.stage != GENERATE:
        return paths.trial_dir(trial.key)
    for level in range(trial.trainings):
        fetch_ticket(paths, trial.key, level)
    return paths.cached_trial(trial.key)
