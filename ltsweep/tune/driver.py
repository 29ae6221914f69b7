"""``ltsweep run``: generation and transfer trials as one Ray Tune experiment over the trials not
done yet; a transfer trial starts as soon as its ticket exists (``gate.py``).

Resume rests on ltsweep's own records, not on Tune's restore: every run builds a fresh Tune
experiment over the remaining trials (named by a hash of their keys), and each trial resumes from
its own checkpoints. That is what makes Ctrl-C, kill -9 and a changed sweep file all safe.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from functools import partial

from ltsweep.errors import UserError
from ltsweep.hashing import config_key
from ltsweep.storage.done import has_done, read_done
from ltsweep.storage.paths import SweepPaths
from ltsweep.sweep.plan import Plan
from ltsweep.sweep.trial import GENERATE, TRANSFER, Trial
from ltsweep.tracking.trial_runs import record_dir
from ltsweep.tune.callback import MlflowRecorder
from ltsweep.tune.progress import Progress

# Tune's experiment-state snapshots are not what we resume from (a run never restores a Tune
# experiment), and each one serializes every trial, a cost that grows with the grid: hourly.
os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "3600")
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


@dataclass
class StageOutcome:
    stage: str
    total: int
    already_done: int = 0
    finished: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)

    @property
    def unfinished(self) -> int:
        return self.total - self.already_done - self.finished - len(self.failed) - len(self.blocked)


# What the driver imports after it joins Ray, imported before. A Ray job's driver runs from the
# job's unpacked working_dir; where nodes share one disk (a one-machine cluster: `ray start`
# twice, Ray's test Cluster) each node's runtime-env agent deletes and unpacks that same
# directory again as the job starts (Ray 2.60 working_dir.py, create(overwrite=True)), and an
# import in that moment fails: ModuleNotFoundError, the job dead (tests/test_multinode.py).
DRIVER_MODULES = (
    "ray.tune",
    "ltsweep.core.tickets",
    "ltsweep.tracking.ui_view",
    "ltsweep.tracking.outbox",
    "ltsweep.tracking.writer",
    "ltsweep.tracking.trial_runs",
    "ltsweep.tune.trainable",
    "ltsweep.tune.trial_table",
    "ltsweep.tune.gate",
    "ltsweep.tune.retry",
    "ltsweep.tune.schedule",
)


def connect_ray(num_cpus: int | None = None) -> str:
    """Join the cluster named by ``RAY_ADDRESS`` (``auto`` on a ``ray up`` head node, see
    cluster.yaml), else start a private local Ray. Never join a stray local instance by accident:
    another process's ``ray.init`` would otherwise capture this sweep and take it down with it."""
    import importlib

    import ray

    if ray.is_initialized():
        return "existing"
    for name in DRIVER_MODULES:
        importlib.import_module(name)
    address = os.environ.get("RAY_ADDRESS")
    kwargs = dict(log_to_driver=False, logging_level="ERROR", configure_logging=True)
    if address:
        ray.init(address=address, **kwargs)
        return f"cluster at {address}"
    # address="local": always a private instance, even when another Ray runs on this host
    # (a bare ray.init() finds it through the session files and joins or crashes on it).
    ray.init(
        address="local", num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, **kwargs
    )
    return f"local ({num_cpus or os.cpu_count()} CPUs)"


def _sync_done(
    trials: list[Trial], paths: SweepPaths, statuses: dict[str, str], recorder, outcome
) -> list[Trial]:
    """Trials not done yet; done ones missing from MLflow (a kill in between) are recorded."""
    todo = []
    for t in trials:
        if not has_done(paths, t.key):
            todo.append(t)
            continue
        outcome.already_done += 1
        if statuses.get(t.key) != "FINISHED":
            record = read_done(paths, t.key)
            recorder.finish(t, record, record_dir(paths, t))
    return todo


def run_trials(
    plan: Plan, paths: SweepPaths, tracker, parent_id: str, trainable_fn=None, recorder=None
) -> list[StageOutcome]:
    """Both stages in one Tune experiment, gated by ticket existence (see ``gate.py``); then
    the trials Tune gave up on by counting one worker death twice, again (``retry.py``).

    ``recorder`` takes every MLflow write from here on and is closed here: a writer process
    (``writer.start_writer``, started before Ray) or, by default, this process itself.
    ``trainable_fn`` replaces ``tune_trainable`` (same signature) for bench/bench_driver.py,
    which times the driver around trials whose training costs nothing.
    """
    from ltsweep.tracking.writer import InlineRecorder

    recorder = recorder or InlineRecorder(tracker, parent_id)
    try:
        outcomes = _run_passes(plan, paths, tracker.statuses(), recorder, trainable_fn)
    except BaseException:
        with contextlib.suppress(Exception):
            recorder.close(wait_s=0.0)  # what it holds is sent; the error is the news
        raise
    _flush_tracking(recorder)
    return outcomes


def _run_passes(plan: Plan, paths: SweepPaths, statuses, recorder, trainable_fn):
    from ltsweep.tune.retry import settle

    gen = StageOutcome(GENERATE, len(plan.generation))
    xfer = StageOutcome(TRANSFER, len(plan.transfer))
    if plan.sweep.reuse:
        _copy_reused(plan, paths)
    gen_todo = _sync_done(list(plan.generation), paths, statuses, recorder, gen)
    xfer_todo = _sync_done(list(plan.transfer), paths, statuses, recorder, xfer)
    if not gen_todo and not xfer_todo:
        return [gen, xfer]
    by_key = {t.key: t for t in gen_todo + xfer_todo}
    progress = Progress(plan.trials, {t.key for t in plan.trials if t.key not in by_key})
    progress.show()
    outcomes = {GENERATE: gen, TRANSFER: xfer}
    driver = _Driver(plan, paths, recorder, progress, outcomes, trainable_fn)
    try:
        run_pass = partial(_tune_pass, driver)
        first = run_pass(gen_todo, xfer_todo, plan.sweep.retries, 0)

        def failed(key: str) -> bool:
            return key in outcomes[by_key[key].stage].failed

        xfer.blocked = settle(first, run_pass, by_key, plan.sweep.retries, paths, failed)
    finally:
        progress.close()  # the live line, if any, ends before the summary prints
    return [gen, xfer]


def _copy_reused(plan: Plan, paths: SweepPaths) -> None:
    """Generation trials done in a ``reuse`` store: copied here (verified), not run again."""
    from ltsweep.storage.reuse import copy_trial, done_elsewhere, reuse_paths

    todo = [t.key for t in plan.generation if not has_done(paths, t.key)]
    found = done_elsewhere(todo, plan.sweep.reuse)
    for key, uri in found.items():
        copy_trial(reuse_paths(uri), paths, key)
    if found:
        where = ", ".join(sorted({u.split("?", 1)[0] for u in found.values()}))
        print(
            f"ltsweep: reuse: {len(found)} generation trial(s) copied from {where} instead of run",
            flush=True,
        )


@dataclass(frozen=True)
class _Driver:
    """What every Tune experiment of one ``ltsweep run`` shares (progress, MLflow recorder)."""

    plan: Plan
    paths: SweepPaths
    recorder: object
    progress: Progress
    outcomes: dict[str, StageOutcome]
    trainable_fn: object = None


def _tune_pass(
    d: _Driver, gen_todo: list[Trial], xfer_todo: list[Trial], retries: int, number: int
):
    """One Tune experiment over these trials with ``max_failures=retries`` (``retry.RunPass``)."""
    from ray import tune

    from ltsweep.tune.gate import TicketGate
    from ltsweep.tune.retry import Ledger, PassResult
    from ltsweep.tune.schedule import OldestWithoutStartingActor, set_pending_window
    from ltsweep.tune.trainable import tune_trainable
    from ltsweep.tune.trial_table import TrialTable, placement

    plan, paths, ledger = d.plan, d.paths, Ledger()
    by_key = {t.key: t for t in gen_todo + xfer_todo}
    gate = TicketGate(gen_todo, xfer_todo, paths)
    trainable = tune.with_resources(
        tune.with_parameters(
            d.trainable_fn or tune_trainable,
            trials=TrialTable.put(by_key),
            out=str(paths.out.resolve()),
            uri=paths.uri,
        ),
        placement,
    )
    set_pending_window(plan.sweep.max_concurrent_trials)
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=gate,
            scheduler=OldestWithoutStartingActor(),
            num_samples=len(by_key),
            reuse_actors=True,
            max_concurrent_trials=plan.sweep.max_concurrent_trials,
        ),
        run_config=tune.RunConfig(
            name=f"sweep-{config_key(sorted(by_key))}" + (f"-retry{number}" if number else ""),
            **tune_storage(paths),
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=retries),
            callbacks=[MlflowRecorder(d.recorder, by_key, paths, d.progress, d.outcomes, ledger)],
        ),
    )
    tuner.fit()
    return PassResult(list(by_key), dict(ledger.owed), list(gate.blocked))


def _flush_tracking(recorder) -> None:
    """Send what a tracking outage held back; if the server stays away, the trials are still
    done on disk and the next run records them (``_sync_done``)."""
    wait = float(os.environ.get("LTSWEEP_TRACKING_WAIT_S", "300"))
    pending = recorder.close(wait_s=wait)
    if not pending:
        return
    raise UserError(
        f"the MLflow tracking server stayed unreachable for {wait:.0f} s after the last trial; "
        f"{pending} records are not sent yet (the trials are done on disk): start "
        "the server and run the same command again to record them"
    )


def tune_storage(paths: SweepPaths) -> dict:
    """Tune's ``storage_path`` (and ``storage_filesystem`` on an object store): ``tune/``."""
    if not paths.remote:
        return {"storage_path": str(paths.tune.resolve())}
    return {"storage_path": paths.store.path("tune"), "storage_filesystem": paths.store.fs}


INTERRUPTED = 130


def summarize(outcomes: list[StageOutcome]) -> int:
    """Print what this run did; exit code 0 (all done), 1 (failures) or 130 (stopped early)."""
    failed = {k: v for o in outcomes for k, v in o.failed.items()}
    blocked = [k for o in outcomes for k in o.blocked]
    trained = sum(o.finished for o in outcomes)
    unfinished = sum(o.unfinished for o in outcomes)
    if trained == 0 and not failed and not blocked and not unfinished:
        print("ltsweep: nothing to do: every trial of this sweep is already done (no training ran)")
    for o in outcomes:
        print(
            f"[{o.stage}] {o.already_done + o.finished}/{o.total} done "
            f"({o.finished} this run), {len(o.failed)} failed, {len(o.blocked)} blocked"
        )
    for key, reason in failed.items():
        print(f"FAILED {key}: {reason}", file=sys.stderr)
    if blocked:
        print(f"{len(blocked)} transfer trials wait on failed generation trials", file=sys.stderr)
    if unfinished and not failed and not blocked:
        print(
            f"ltsweep: interrupted with {unfinished} trials not finished; run the same "
            "command again to resume",
            file=sys.stderr,
        )
        return INTERRUPTED
    return 1 if failed or blocked else 0


def check_writable(paths: SweepPaths) -> None:
    """Create the output (directory or prefix) and prove it writable; the first write of a run."""
    paths.store.probe()
    if paths.remote:
        paths.out.mkdir(parents=True, exist_ok=True)  # this machine's working copy


def check_tracking_uri(uri: str, timeout: float = 3.0) -> None:
    """Fail fast on a tracking server nobody answers (MLflow's client would retry for minutes)."""
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https"):
        return
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname or "", port), timeout=timeout).close()
    except OSError as exc:
        raise UserError(
            f"MLflow tracking server {uri} is unreachable ({exc.strerror or exc}); "
            "start it, or fix tracking_uri in the sweep file / MLFLOW_TRACKING_URI"
        ) from None
