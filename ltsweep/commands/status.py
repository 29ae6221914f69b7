"""``ltsweep status SWEEP [--json]``: done / running / failed / left per stage, without Ray."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ltsweep.commands import add_sweep_arguments, follow_up


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sweep_arguments(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def done_keys(ctx) -> set[str]:
    """The planned trials with a done record: asked once, then shared by the counts and the
    measured rates (on a bucket every look-up is a request)."""
    from ltsweep.storage.done import has_done

    return {t.key for t in ctx.plan.trials if has_done(ctx.paths, t.key)}


def sweep_status(ctx, done: set[str] | None = None) -> dict[str, dict[str, int]]:
    from ltsweep.storage.done import read_failed

    done = done_keys(ctx) if done is None else done
    running = _running_keys(ctx)
    out = {}
    for stage, trials in (("generate", ctx.plan.generation), ("transfer", ctx.plan.transfer)):
        counts = {"done": 0, "running": 0, "failed": 0, "left": 0}
        for t in trials:
            if t.key in done:
                counts["done"] += 1
            elif t.key in running:
                counts["running"] += 1
            elif read_failed(ctx.paths, t.key) is not None:
                counts["failed"] += 1
            else:
                counts["left"] += 1
        out[stage] = counts
    return out


def _running_keys(ctx) -> set[str]:
    """Trials MLflow shows RUNNING while a live driver holds the sweep's lock."""
    from ltsweep.storage.lock import live_holder

    if live_holder(ctx.paths) is None:
        return set()  # no live driver: nothing can be running
    if ctx.tracking_uri.startswith("sqlite") and not ctx.paths.mlflow_db.exists():
        return set()
    from ltsweep.tracking import schema as S
    from ltsweep.tracking.client import Tracker

    tracker = Tracker(ctx.tracking_uri, ctx.config.name)
    return {
        r.data.tags.get(S.TAG_TRIAL_KEY, "") for r in tracker.runs("attributes.status = 'RUNNING'")
    }


def _require_output(ctx, args: argparse.Namespace) -> None:
    """No output at all is not "0 done": most often the --out given to `run` was left out."""
    from ltsweep.errors import UserError
    from ltsweep.sweep.files import has_output

    if has_output(ctx.paths):
        return
    parent = ctx.paths.out.parent
    beside = sorted(d.name for d in parent.iterdir() if d.is_dir()) if parent.is_dir() else []
    there = f" ({parent} holds: {', '.join(beside)})" if beside and not ctx.paths.remote else ""
    raise UserError(
        f"sweep {ctx.config.name} has no output at {ctx.paths.where}{there}: pass the --out "
        f"that `ltsweep run` was given, or start it with `{follow_up('run', args)}`"
    )


def recorded_status(args: argparse.Namespace) -> dict[str, dict[str, int]] | None:
    """Counts for a store copied without its sweep file: the plan ``run`` recorded there
    (``storage.plan_keys``); None when the store records none."""
    from ltsweep.storage.done import has_done, read_failed
    from ltsweep.storage.plan_keys import read_plan_keys
    from ltsweep.sweep.files import has_output, sweep_paths

    paths = sweep_paths(Path(args.sweep).stem, args.out)
    if not has_output(paths):
        return None
    plan = read_plan_keys(paths)
    if plan is None:
        return None
    out = {}
    for stage, keys in (("generate", list(plan.generation)), ("transfer", plan.transfer)):
        done = sum(1 for k in keys if has_done(paths, k))
        failed = sum(1 for k in keys if not has_done(paths, k) and read_failed(paths, k))
        out[stage] = {
            "done": done,
            "running": 0,
            "failed": failed,
            "left": len(keys) - done - failed,
        }
    return out


def _print_counts(status: dict[str, dict[str, int]]) -> None:
    for stage, c in status.items():
        total = sum(c.values())
        print(
            f"  {stage:<9} {c['done']}/{total} done · {c['running']} running · "
            f"{c['failed']} failed · {c['left']} left"
        )


def run(args: argparse.Namespace) -> int:
    from ltsweep.errors import UserError
    from ltsweep.sweep.context import load_context

    try:
        ctx = load_context(args)
    except UserError:
        recorded = recorded_status(args)  # a copied store: its recorded plan says what counts
        if recorded is None:
            raise
        if args.json:
            print(json.dumps(recorded))
            return 0
        print(
            f"sweep {Path(args.sweep).stem} ({args.out}; no sweep file: the plan its store records)"
        )
        _print_counts(recorded)
        return 0
    _require_output(ctx, args)
    done = done_keys(ctx)
    status = sweep_status(ctx, done)
    if args.json:
        print(json.dumps(status))
        return 0
    print(f"sweep {ctx.config.name} ({ctx.paths.where})")
    _print_counts(status)
    from ltsweep.sweep import rates  # measured vs planned seconds per epoch (done records)

    measured, projection = rates.measure(ctx.paths, ctx.plan, is_done=done.__contains__)
    print(rates.describe(measured, projection, ctx.config.cost.gpu))
    return 0
