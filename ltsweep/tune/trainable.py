"""The Ray Tune trainable: a plain function of (trial, out) that calls the core engine.

Idempotent: a trial with a done record reports it and returns at once (Tune may relaunch finished
trials after a kill, docs/design.md#resume). In-flight trials resume from their own checkpoints in
the trial directory. Per-epoch metrics go to Tune; the driver turns them into MLflow records. On an
object-store sweep the trial works on a local mirror of its directory (``staging.py``), pushed to
the store at every epoch boundary and ticket, so another node resumes where this one stopped.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch

from ltsweep.core.compile import COMPILED
from ltsweep.core.imp import IMPRun, LevelResult
from ltsweep.core.jobs import GenerationJob
from ltsweep.core.kernels import kernel_family
from ltsweep.core.rank_check import RanksDisagreeError
from ltsweep.core.train import TrainState
from ltsweep.core.transfer import run_transfer
from ltsweep.errors import CorruptArtifactError, TrainingDivergedError, UserError
from ltsweep.storage.done import read_done, write_done, write_failed
from ltsweep.storage.paths import SweepPaths
from ltsweep.storage.staging import TrialStage, fetch_ticket, ticket_exists, ticket_rel
from ltsweep.sweep.trial import GENERATE, Trial
from ltsweep.trial_layout import CHECKPOINT_FILE
from ltsweep.tune.nodes import node_label


def _device(trial: Trial) -> str:
    if trial.resources.gpu > 0 and torch.cuda.is_available():
        if trial.resources.gpu < 1:
            # A fractional GPU is only a scheduling label: cap our memory (docs/design.md#ray-facts).
            torch.cuda.set_per_process_memory_fraction(trial.resources.gpu)
        return "cuda"
    return "cpu"


def _device_name(trial: Trial, device: str) -> str:
    """ "cpu", the CUDA device's name, or "gpu" for a Ray Train group this process cannot see."""
    if device == "cuda":
        return torch.cuda.get_device_name()
    return "gpu" if trial.resources.workers > 1 and trial.resources.gpu > 0 else "cpu"


def execute(
    trial: Trial, paths: SweepPaths, report=None, where: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run (or finish) one trial without Ray; ``report(metrics)`` is called once per epoch.

    ``where`` (e.g. the Ray node) goes into the done record with the start and end times, so
    the MLflow record says where and when the last attempt ran."""
    done = read_done(paths, trial.key)
    if done is not None:
        return done
    from ltsweep.core.data import dataset_names
    from ltsweep.core.models import model_names

    dataset_names(), model_names()  # this worker loads the plugins the CLI loaded (installed ones)
    stage = TrialStage(paths, trial.key)
    tdir = stage.pull()
    torch.set_num_threads(max(1, int(trial.resources.cpu)))
    device = _device(trial)
    started = time.time()
    emit = report or (lambda metrics: None)
    try:
        if trial.stage == GENERATE:
            record = _generate(trial, stage, device, emit, paths)
        else:
            record = _transfer(trial, stage, device, emit, paths)
    except TrainingDivergedError as exc:
        write_failed(paths, trial.key, f"training diverged: {exc}", retryable=False)
        raise
    except (RanksDisagreeError, CorruptArtifactError) as exc:  # retrying cannot help either
        write_failed(paths, trial.key, str(exc), retryable=False)
        raise
    ended = time.time()
    record.update(key=trial.key, seconds=ended - started, device=device, **(where or {}))
    record["device_name"] = _device_name(trial, device)  # the kind `status` groups rates by
    # runs agree bit for bit only on equal kernels (a worker group's come from its ranks)
    record["kernels"] = record.get("kernels") or kernel_family(device)
    record["steps"] = steps_summary(record)
    record.update(started_at=started, ended_at=ended)
    stage.push()  # every output on the store before the record that says it is done
    write_done(paths, trial.key, record)
    (tdir / CHECKPOINT_FILE).unlink(missing_ok=True)  # only once the done record is safe
    stage.push()
    return record


def steps_summary(record: dict[str, Any]) -> str:
    """How a trial's steps ran: ``"compiled"``, or the first ``"eager: <why>"`` of its levels
    (levels recorded before the field existed say nothing and are skipped)."""
    said = [lv.get("steps", "") for lv in record.get("levels", [])] or [record.get("steps", "")]
    said = [s for s in said if s]
    eager = [s for s in said if s != COMPILED]
    return eager[0] if eager else (COMPILED if said else "")


def _generate(trial: Trial, stage: TrialStage, device: str, emit, paths) -> dict[str, Any]:
    job, tdir = trial.job, stage.local
    assert isinstance(job, GenerationJob)
    if trial.resources.workers > 1:
        return _generate_distributed(trial, stage, paths)

    epochs = job.train.epochs

    def on_epoch(level: int, state: TrainState) -> None:
        stage.push()  # the epoch's checkpoint (and a finished level's files) to the store
        last = state.history[-1]
        step = level * epochs + last.epoch
        emit({**last.as_dict(), "level": level, "step": step, "steps": state.steps})

    run = IMPRun(job, tdir, device)
    run.on_ticket = lambda level: stage.push()  # transfers may start on another node at once
    results: list[LevelResult] = run.run(on_epoch=on_epoch)
    return {"levels": [r.__dict__ for r in results]}


def _generate_distributed(trial: Trial, stage: TrialStage, paths: SweepPaths) -> dict[str, Any]:
    """IMP on a Ray Train worker group; on an object store each rank mirrors the trial in its
    own directory and only rank 0 writes to the store (``worker_group``)."""
    from ltsweep.tune.worker_group import (
        read_worker_kernels,
        read_worker_nodes,
        run_generation_distributed,
        tune_report_callbacks,
    )

    r = trial.resources
    if paths.remote:
        storage = {
            "storage_path": paths.store.path("ray_train"),
            "storage_filesystem": paths.store.fs,
        }
    else:
        storage = {"storage_path": str(paths.out.resolve() / "ray_train")}
    levels = run_generation_distributed(
        trial.job,
        stage.local,
        workers=r.workers,
        use_gpu=r.gpu > 0,
        name=trial.key,
        resources_per_worker={"CPU": r.cpu, "GPU": r.gpu} if r.gpu > 0 else {"CPU": r.cpu},
        stage=stage,
        callbacks=tune_report_callbacks(),
        **storage,
    )
    return {
        "levels": [lv if isinstance(lv, dict) else lv.__dict__ for lv in levels],
        "train_nodes": read_worker_nodes(stage.local),
        "kernels": read_worker_kernels(stage.local),
    }


def _imported_ticket(trial: Trial) -> Path:
    """An imported source's ticket: the level file fetched once per machine, verified against
    its bundle's sha256, as a ticket directory beside it in this machine's cache."""
    import ltsweep.tracking.bundle_registry  # noqa: F401  (models:/ URIs)
    from ltsweep.core.bundle_make import ticket_from_level
    from ltsweep.storage.bundles import fetch_level, find_series

    (found,) = find_series(trial.ticket_uri)
    if found.bundle.id != trial.source_key:
        raise UserError(
            f"the bundle at {found.where} is now {found.bundle.id}, the plan imported "
            f"{trial.source_key}: it was replaced; plan the sweep again"
        )
    level = fetch_level(found, trial.level)  # this machine's cache: not pushed with the trial
    return ticket_from_level(
        found.bundle, trial.level, level, level.parent / f"ticket_{trial.level:02d}"
    )


def _transfer(trial: Trial, stage: TrialStage, device: str, emit, paths) -> dict[str, Any]:
    if trial.ticket_uri:
        return _run_transfer(trial, stage, device, emit, _imported_ticket(trial))
    if not ticket_exists(paths, trial.source_key, trial.level):
        rel = ticket_rel(paths, trial.source_key, trial.level)
        raise UserError(
            f"ticket {paths.store.where(rel)} does not exist: its generation trial "
            f"{trial.source_key} has not finished"
        )
    source = fetch_ticket(paths, trial.source_key, trial.level)  # local, sha256-verified
    return _run_transfer(trial, stage, device, emit, source)


def _run_transfer(
    trial: Trial, stage: TrialStage, device: str, emit, source: Path
) -> dict[str, Any]:
    job = dataclasses.replace(trial.job, ticket_dir=str(source))

    def on_epoch(state: TrainState) -> None:
        stage.push()
        last = state.history[-1]
        emit({**last.as_dict(), "step": last.epoch, "steps": state.steps})

    state = run_transfer(job, stage.local, device, on_epoch=on_epoch)
    from ltsweep.core.tickets import read_info

    info = read_info(source)
    record = {
        "history": [m.as_dict() for m in state.history],
        "weights_remaining": info.weights_remaining,
        "ticket_sha256": info.sha256,
        "steps": state.steps,
    }
    if trial.ticket_uri:
        record["bundle_id"] = trial.source_key
    if job.reinit_stem:  # the stem rule: what was re-initialised, and the true sparsity
        from ltsweep.core.transfer import stem_record

        record.update(stem_record(source, job))
    return record


def tune_trainable(
    config: dict[str, Any], trials: dict[str, Trial], out: str, uri: str = ""
) -> None:
    """Entry point Ray Tune calls: look the trial up by key, run it, report per epoch. An
    object-store sweep (``uri``) works in this node's own cache, whatever node it lands on."""
    from ray import tune

    trial = trials[config["key"]]
    paths = SweepPaths.for_uri(uri) if uri else SweepPaths(Path(out))
    where = {"node": node_label()}
    record = execute(trial, paths, report=lambda m: tune.report({**m, "final": 0}), where=where)
    tune.report({"final": 1, "seconds": record.get("seconds", 0.0)})
