"""``ltsweep status SWEEP [--json]``: done / running / failed / left per stage, without Ray."""

from __future__ import annotations

import argparse
import json

from ltsweep.commands import add_sweep_arguments, follow_up


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sweep_arguments(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def sweep_status(ctx) -> dict[str, dict[str, int]]:
    from ltsweep.storage.done import has_done, read_failed

    running = _running_keys(ctx)
    out = {}
    for stage, trials in (("generate", ctx.plan.generation), ("transfer", ctx.plan.transfer)):
        counts = {"done": 0, "running": 0, "failed": 0, "left": 0}
        for t in trials:
            if has_done(ctx.paths, t.key):
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


def run(args: argparse.Namespace) -> int:
    from ltsweep.sweep.context import load_context

    ctx = load_context(args)
    _require_output(ctx, args)
    status = sweep_status(ctx)
    if args.json:
        print(json.dumps(status))
        return 0
    print(f"sweep {ctx.config.name} ({ctx.paths.where})")
    for stage, c in status.items():
        total = sum(c.values())
        print(
            f"  {stage:<9} {c['done']}/{total} done · {c['running']} running · "
            f"{c['failed']} failed · {c['left']} left"
        )
    from ltsweep.sweep import rates  # measured vs planned seconds per epoch (done records)

    measured, projection = rates.measure(ctx.paths, ctx.plan)
    print(rates.describe(measured, projection, ctx.config.cost.gpu))
    return 0
