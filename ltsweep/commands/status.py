"""``ltsweep status SWEEP [--json]``: done / running / failed / left per stage, without Ray."""

from __future__ import annotations

import argparse
import json

from ltsweep.commands import add_sweep_arguments, follow_up


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sweep_arguments(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from ltsweep.sweep import rates
    from ltsweep.sweep.context import load_context
    from ltsweep.sweep.files import require_output
    from ltsweep.sweep.status import done_keys, stage_counts
    from ltsweep.tracking.sweep_store import running_keys

    ctx = load_context(args)
    require_output(ctx.paths, ctx.config.name, follow_up("run", args))
    done = done_keys(ctx.plan, ctx.paths)
    running = running_keys(ctx.paths, ctx.tracking_uri, ctx.config.name)
    status = stage_counts(ctx.plan, ctx.paths, done, running)
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
    # measured vs planned seconds per epoch (done records)
    measured, projection = rates.measure(ctx.paths, ctx.plan, is_done=done.__contains__)
    print(rates.describe(measured, projection, ctx.config.cost.gpu))
    return 0
