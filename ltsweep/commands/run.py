"""``ltsweep run SWEEP``: generate tickets, then transfer them; resumable by running it again."""

from __future__ import annotations

import argparse
import contextlib
import sys

from ltsweep.commands import add_sweep_arguments, follow_up

REFUSED = 2  # the exit code of bad input: the sweep run ends FAILED


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sweep_arguments(parser)
    parser.add_argument("--num-cpus", type=int, help="CPUs for a local Ray (default: all)")


def run(args: argparse.Namespace) -> int:
    from ltsweep.sweep.context import check_data, load_context

    ctx = load_context(args)  # a bad sweep file stops here, before Ray and MLflow are imported
    check_data(ctx)

    from ltsweep.storage.lock import sweep_lock
    from ltsweep.tracking.client import Tracker
    from ltsweep.tune.driver import check_tracking_uri, check_writable

    check_tracking_uri(ctx.tracking_uri)
    check_writable(ctx.paths)
    with sweep_lock(ctx.paths):
        tracker = Tracker(ctx.tracking_uri, ctx.config.name, ctx.paths.artifacts)
        parent = _start_sweep_run(tracker, ctx)
        code = _run_trials(tracker, parent, ctx, args.num_cpus)
        print(
            f"ltsweep: next: `{follow_up('status', args)}`, `{follow_up('report', args)}`, "
            f"`{follow_up('ui', args)}` (MLflow store {ctx.tracking_uri})"
        )
        return code


def _start_sweep_run(tracker, ctx) -> str:
    """The sweep's parent run, RUNNING, after closing what a dead driver left RUNNING; says
    what will run and where its results go."""
    from ltsweep.tracking import schema as S

    stale = tracker.kill_stale()
    if stale:
        print(f"ltsweep: marked {stale} runs left RUNNING by a dead driver as KILLED")
    parent = tracker.find_or_create(
        f"sweep:{ctx.config.name}",
        f"sweep {ctx.config.name}",
        {S.TAG_ROLE: S.ROLE_SWEEP, S.PREFIX + "sweep_file": str(ctx.file)},
    )
    tracker.set_status(parent, "RUNNING")
    from ltsweep.storage.plan_keys import write_plan_keys

    write_plan_keys(ctx.paths, ctx.plan.keys())  # report, export, status and ui read it
    print(
        f"ltsweep: sweep {ctx.config.name}: {len(ctx.plan.generation)} generation + "
        f"{len(ctx.plan.transfer)} transfer trials; output {ctx.paths.where}; "
        f"MLflow {ctx.tracking_uri}"
    )
    if ctx.paths.remote and ctx.tracking_uri.startswith("sqlite"):
        print(
            f"ltsweep: the MLflow store is on this machine's disk ({ctx.paths.out}), not in "
            f"{ctx.paths.where}: set tracking_uri (or MLFLOW_TRACKING_URI) to share it"
        )
    return parent


def _run_trials(tracker, parent: str, ctx, num_cpus: int | None) -> int:
    """Every trial not done yet, through Ray Tune; the exit code, runs closed whatever happens."""
    from ltsweep.storage.done import has_done
    from ltsweep.tracking import schema as S
    from ltsweep.tracking.writer import start_writer
    from ltsweep.tune.driver import INTERRUPTED, connect_ray, run_trials, summarize

    outcomes, code = [], None
    # Before Ray starts: the writer is forked from this process (see writer.py).
    recorder = start_writer(tracker, parent, ctx.plan.trials)
    try:
        todo = [t for t in ctx.plan.trials if not has_done(ctx.paths, t.key)]
        if todo:
            print(f"ltsweep: Ray: {connect_ray(num_cpus)}")
            refusal = _placement_refusal(todo)  # before any trial waits
            if refusal is not None:
                code = REFUSED  # the sweep run ends FAILED, not KILLED: nothing was interrupted
                with contextlib.suppress(Exception):  # the refusal's line matters more
                    tracker.set_tags(parent, {S.TAG_REFUSED: str(refusal)})
                raise refusal
        outcomes = run_trials(ctx.plan, ctx.paths, tracker, parent, recorder=recorder)
    finally:
        with contextlib.suppress(Exception):
            recorder.close(wait_s=0.0)  # closed already unless Ray or Tune failed to start
        if code is None:
            code = summarize(outcomes) if len(outcomes) == 2 else INTERRUPTED
        _close_runs(tracker, parent, code)
    return code


def _placement_refusal(todo: list) -> Exception | None:
    """The one-line refusal of trials no node of the cluster can ever hold, if any."""
    from ltsweep.errors import UserError
    from ltsweep.tune.placement import cluster_offer, refuse_unplaceable

    try:
        refuse_unplaceable(todo, cluster_offer())
    except UserError as exc:
        return exc
    return None


def _close_runs(tracker, parent: str, code: int) -> None:
    """Trials stopped mid-way become KILLED, never RUNNING forever; with the tracking server
    away, the next run does it (it marks what a dead driver left RUNNING)."""
    from ltsweep.tracking.outbox import is_transient
    from ltsweep.tune.driver import INTERRUPTED

    try:
        tracker.kill_stale()
        tracker.set_status(parent, {0: "FINISHED", INTERRUPTED: "KILLED"}.get(code, "FAILED"))
    except Exception as exc:
        if not is_transient(exc):
            raise
        print(
            "ltsweep: tracking server unreachable: runs not closed; the next run closes them",
            file=sys.stderr,
        )
