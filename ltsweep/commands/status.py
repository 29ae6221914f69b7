"""``ltsweep status SWEEP [--json]``: done / running / failed / left per stage, without Ray."""

from __future__ import annotations

import argparse
import json

from ltsweep.commands import add_sweep_arguments, follow_up


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sweep_arguments(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _print_counts(status: dict[str, dict[str, int]]) -> None:
    for stage, c in status.items():
        total = sum(c.values())
        print(
            f"  {stage:<9} {c['done']}/{total} done · {c['running']} running · "
            f"{c['failed']} failed · {c['left']} left"
        )


def _recorded(args: argparse.Namespace) -> int | None:
    """A store copied without its sweep file: print the counts of the plan it records."""
    from ltsweep.sweep.files import find_sweep
    from ltsweep.sweep.status import recorded_counts

    where = find_sweep(args.sweep, args.out)
    status = recorded_counts(where.paths)
    if status is None:
        return None
    if args.json:
        print(json.dumps(status))
        return 0
    print(f"sweep {where.name} ({where.paths.where}; no sweep file: the plan its store records)")
    _print_counts(status)
    return 0


def run(args: argparse.Namespace) -> int:
    from ltsweep.errors import UserError
    from ltsweep.sweep import rates
    from ltsweep.sweep.context import load_context
    from ltsweep.sweep.files import require_output
    from ltsweep.sweep.status import done_keys, stage_counts
    from ltsweep.tracking.sweep_store import running_keys

    try:
        ctx = load_context(args)
    except UserError:
        recorded = _recorded(args)
        if recorded is None:
            raise
        return recorded
    require_output(ctx.paths, ctx.config.name, follow_up("run", args))
    done = done_keys(ctx.plan, ctx.paths)
    running = running_keys(ctx.paths, ctx.tracking_uri, ctx.config.name)
    status = stage_counts(ctx.plan, ctx.paths, done, running)
    if args.json:
        print(json.dumps(status))
        return 0
    print(f"sweep {ctx.config.name} ({ctx.paths.where})")
    _print_counts(status)
    measured, projection = rates.measure(ctx.paths, ctx.plan, is_done=done.__contains__)
    print(rates.describe(measured, projection, ctx.config.cost.gpu))
    return 0
