"""Ray Train glue: one generation trial's IMP loop run by a ``TorchTrainer`` worker group (DDP).

Call ``run_generation_distributed`` from the driver of a trial — a plain process or a Ray Tune
function trainable (Train V2: the trial builds the trainer and calls ``fit()``; never
``Tuner(trainer)``). Each of the N workers runs the same ``IMPRun`` on its shard of the training
data; ``nccl`` is used on GPUs and ``gloo`` on CPUs (``TorchConfig``'s default).

**Where the resumable state lives.** ``IMPRun`` is resumable from its working directory alone:
finished levels (``result.json``), tickets, the late-reset weights and an epoch-boundary
checkpoint of the level in progress. Rank 0 writes them; every rank reads them. Two layouts:

- *A directory every worker sees* (a shared file system on a cluster, or a local path on one
  machine): all ranks run in ``workdir`` itself.
- *An object-store sweep* (``stage`` given): no rank shares a local directory. Each worker pulls
  the trial's directory from the store into its own ``SweepPaths.rank_dir`` (so a restarted
  group resumes from the store's last epoch checkpoint, whatever node it lands on); rank 0
  pushes at every epoch boundary (before the report) and every finished level; after each level
  a barrier, then the other ranks download what rank 0 added. Only rank 0 writes the trial's
  files to the store; each rank writes its own ``nodes/rank_RRR.json``. The driver pulls the
  result into ``workdir`` after ``fit()``.

**Compiled steps** (``compile: true``): DDP wraps ``MaskFolded(model)`` and the step compiles the
DDP call (``core/compile.py``: PyTorch's documented composition, the mask folded into the
forward). Before each level trains, the ranks compare their mask and starting weights
(``core/rank_check.py``); a difference stops the trial with one line.

The checkpoint each epoch's ``ray.train.report`` carries is only a
small reference (``progress.json``: workdir, level, epoch) so that Ray Train's own bookkeeping,
``get_checkpoint()`` and the Train run directory show where a run stands. When a worker dies,
Ray Train restarts the whole worker group (``FailureConfig(max_failures=...)``); the new workers
build ``IMPRun`` on the same files, which skips finished levels and resumes the level in
progress from its last finished epoch. A driver killed and started again with the same
``(storage_path, name)`` resumes the same way.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from ltsweep.core.ddp import same_names_ddp
from ltsweep.core.imp import IMPRun
from ltsweep.core.jobs import GenerationJob
from ltsweep.core.kernels import kernel_family
from ltsweep.core.rank_check import MARKER, RanksDisagreeError, check_ranks_agree
from ltsweep.trial_layout import NODES_DIR, RESULT_FILE, level_dir, node_file

PROGRESS_FILE = "progress.json"


def _full_test_loader(job: GenerationJob, device: str):
    """Every rank evaluates the whole test split (DDP keeps the models identical), so the
    accuracy rank 0 records is the test accuracy, not the accuracy on one shard of it."""
    from ltsweep.core.data.loading import make_loader
    from ltsweep.core.imp import loader_options

    d = job.data
    opts = loader_options(d, False, job.train.batch_size, job.seed, device)
    return make_loader(d.name, opts, d.loader)


def _progress_checkpoint(workdir: Path, level: int, epoch: int, tmp: Path):
    import ray.train

    (tmp / PROGRESS_FILE).write_text(
        json.dumps({"workdir": str(workdir), "level": level, "next_epoch": epoch}) + "\n"
    )
    return ray.train.Checkpoint.from_directory(str(tmp))


def _describe(checkpoint) -> str:
    try:
        with checkpoint.as_directory() as d:
            where = json.loads((Path(d) / PROGRESS_FILE).read_text())
        return f"last report: level {where['level']}, next epoch {where['next_epoch']}"
    except (OSError, ValueError, KeyError):
        return "previous checkpoint unreadable; the workdir says where to go on"


def _worker_stage(config: dict[str, Any], rank: int):
    """This rank's own mirror of an object-store trial, pulled from the store (else None)."""
    if not config.get("uri"):
        return None
    from ltsweep.storage.paths import SweepPaths
    from ltsweep.storage.staging import TrialStage

    paths = SweepPaths.for_uri(config["uri"])
    stage = TrialStage(paths, config["key"], local=paths.rank_dir(config["key"], rank))
    stage.pull()
    return stage


def _worker_loop(config: dict[str, Any]) -> None:
    """Runs in every Ray Train worker: the same IMP loop, DDP-wrapped, on this rank's shard."""
    import ray.train
    import ray.train.torch
    import torch.distributed as dist

    job: GenerationJob = config["job"]
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    device = ray.train.torch.get_device()
    stage = _worker_stage(config, rank)
    workdir = stage.local if stage is not None else Path(config["workdir"])
    _write_worker_node(workdir, rank, kernel_family(device.type), stage)
    previous = ray.train.get_checkpoint()
    if previous is not None and rank == 0:  # informational: the workdir decides what is redone
        print(f"ltsweep: resuming {workdir} ({_describe(previous)})", flush=True)
    wrap = None
    if world > 1:
        wrap = same_names_ddp(device, job.train.channels_last, fold_mask=job.train.compile)
    run = IMPRun(job, workdir, str(device), rank, world, wrap_model=wrap)
    run.before_level = lambda level, mask, model: check_ranks_agree(
        level, mask, model.state_dict(), device
    )
    if world > 1:
        run.test_loader = _full_test_loader(job, str(device))
    writer = stage if stage is not None and rank == 0 else None
    if writer is not None:
        run.on_ticket = lambda level: writer.push()  # transfers may start on another node

    def on_epoch(level: int, state) -> None:
        if writer is not None:
            writer.push()  # the epoch's checkpoint on the store before Train hears of it
        last = state.history[-1].as_dict()
        step = level * job.train.epochs + int(last["epoch"])  # as single-process trials count
        metrics = {"level": level, **last, "next_epoch": state.next_epoch, "step": step}
        metrics.update(steps=state.steps, final=0)
        with tempfile.TemporaryDirectory() as tmp:
            ckpt = None
            if rank == 0:
                ckpt = _progress_checkpoint(workdir, level, state.next_epoch, Path(tmp))
            ray.train.report(metrics, checkpoint=ckpt)  # a barrier: every rank calls it

    def on_level(result) -> None:
        # Rank 0 has written this level's files; the next level reads them on every rank.
        if writer is not None:
            writer.push()
        if world > 1 and dist.is_initialized():
            dist.barrier(device_ids=[device.index] if device.type == "cuda" else None)
        if stage is not None and rank != 0:
            stage.refresh()  # the level rank 0 just pushed: final weights, ticket, rewind

    run.run(on_level=on_level, on_epoch=on_epoch)
    if stage is not None:  # everything is on the store: this rank's mirror is not needed
        import contextlib
        import shutil

        shutil.rmtree(stage.local, ignore_errors=True)
        with contextlib.suppress(OSError):  # the trial's ranks/ folder, once the last is gone
            stage.local.parent.rmdir()


def _write_worker_node(workdir: Path, rank: int, kernels: str, stage=None) -> None:
    """Which node ran ``rank``, in which directory and on which kernels; on an object store, its
    own key."""
    from ltsweep.fsio import write_json
    from ltsweep.tune.nodes import node_label

    rel = node_file(rank)
    record = {"rank": rank, "node": node_label(), "workdir": str(workdir), "kernels": kernels}
    if stage is None:
        write_json(workdir / rel, record)
    else:
        stage.paths.store.write_json(f"{stage.rel}/{rel}", record)


def read_worker_nodes(workdir: Path) -> list[str]:
    """The Ray node of each rank of the last worker group (for the trial's record)."""
    return [r["node"] for r in _worker_records(workdir)]


def read_worker_kernels(workdir: Path) -> str:
    """The kernel families the last worker group's ranks ran on, "; "-joined (one, unless the
    group spanned unlike machines)."""
    return "; ".join(sorted({r.get("kernels", "") for r in _worker_records(workdir)} - {""}))


def _worker_records(workdir: Path) -> list[dict[str, Any]]:
    """The last worker group's ``nodes/rank_RRR.json`` records, in rank order."""
    files = sorted((Path(workdir) / NODES_DIR).glob("rank_*.json"))
    return [json.loads(f.read_text()) for f in files]


def read_results(job: GenerationJob, workdir: Path) -> list[dict[str, Any]]:
    """The per-level results (``LevelResult`` fields) a finished run left in ``workdir``."""
    results = []
    for level in range(job.imp.levels + 1):
        path = level_dir(Path(workdir), level) / RESULT_FILE
        if not path.exists():
            raise RuntimeError(f"generation in {workdir} ended without level {level} ({path})")
        results.append(json.loads(path.read_text()))
    return results


def ranks_disagree_line(exc: BaseException) -> str:
    """The ranks' check's one line, if that is what stopped a worker group, else ""."""
    for failure in [*getattr(exc, "worker_failures", {}).values(), exc]:
        for line in str(failure).splitlines():
            if MARKER in line:
                return line[line.index(MARKER) :].strip()
    return ""


def tune_report_callbacks() -> list:
    """Inside a Tune trial: the callback that passes rank 0's epoch reports to Tune (the
    driver's progress line and MLflow's live metrics); elsewhere none."""
    try:
        from ray.tune.integration.ray_train import TuneReportCallback

        return [TuneReportCallback()]
    except (ImportError, RuntimeError):  # RuntimeError: not in a Tune session
        return []


def run_generation_distributed(
    job: GenerationJob,
    workdir: Path,
    workers: int,
    use_gpu: bool,
    storage_path: str,
    name: str,
    resources_per_worker: dict[str, float] | None = None,
    max_failures: int = 3,
    callbacks: list | None = None,
    stage=None,
    storage_filesystem=None,
) -> list[dict[str, Any]]:
    """Run (or finish) IMP for ``job`` on ``workers`` Ray Train workers; one dict per level.

    Args:
        job: the generation trial; ``job.train.batch_size`` is the global batch (split evenly).
        workdir: IMP's working directory, on storage every worker sees (see module docstring).
        workers: number of DDP workers (one per GPU when ``use_gpu``).
        storage_path: Ray Train's storage (local path or ``s3://``/``gs://`` URI); shared on a
            cluster.
        name: the Train run name; stable for a trial (from its key, no timestamps), so a rerun
            finds the same run.
        resources_per_worker: e.g. ``{"CPU": 8, "GPU": 1}``; default Ray Train's (1 CPU, 1 GPU
            when ``use_gpu``).
        max_failures: worker-group restarts before the run fails (each resumes from workdir).
        callbacks: Ray Train ``UserCallback``s, e.g. Tune's ``TuneReportCallback`` when called
            from a Tune trial.
        stage: the trial's ``TrialStage`` on an object-store sweep: workers then mirror the
            store in their own directories and ``workdir`` is refreshed from it after ``fit()``.
        storage_filesystem: the ``pyarrow.fs`` filesystem of ``storage_path`` (object stores).

    Returns:
        The ``LevelResult`` fields of levels 0..L, read from ``workdir``.
    """
    import ray.train
    from ray.train.torch import TorchTrainer

    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    remote = stage is not None and stage.paths.remote
    loop_config = {"job": job, "workdir": str(workdir)}
    if remote:
        loop_config.update(uri=stage.paths.uri, key=stage.key)
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config=loop_config,
        scaling_config=ray.train.ScalingConfig(
            num_workers=workers, use_gpu=use_gpu, resources_per_worker=resources_per_worker
        ),
        run_config=ray.train.RunConfig(
            name=name,
            storage_path=storage_path,
            storage_filesystem=storage_filesystem,
            failure_config=ray.train.FailureConfig(max_failures=max_failures),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=2),
            callbacks=callbacks,
        ),
    )
    try:
        trainer.fit()
    except Exception as exc:
        disagree = ranks_disagree_line(exc)
        if disagree:
            raise RanksDisagreeError(disagree) from None
        raise
    if remote:
        stage.pull()  # what rank 0 pushed: levels, tickets, the ranks' node records
    return read_results(job, workdir)
