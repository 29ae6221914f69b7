"""``ltsweep ticket show DIR|URI`` and ``ltsweep ticket publish SWEEP --to URI``.

``show`` verifies a ticket directory, or a ticket bundle (a folder, ``s3://``, ``gs://`` or
``models:/NAME/VERSION``: every level file fetched and checked), and prints its provenance.
``publish`` writes one bundle per finished generation trial of a sweep (docs/tickets.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from ltsweep.commands import add_sweep_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="ticket_command", required=True)
    show = sub.add_parser(
        "show", help="verify a ticket or ticket bundle and print its provenance and sparsity"
    )
    show.add_argument(
        "directory",
        help="a ticket directory (ticket.json and weights), or a ticket bundle: a folder, "
        "s3://…, gs://… or models:/NAME/VERSION",
    )
    show.add_argument("--json", action="store_true", help="print the JSON (after verifying)")
    show.add_argument(
        "--no-verify", action="store_true", help="a bundle: read its JSON only, fetch no tensors"
    )
    pub = sub.add_parser(
        "publish",
        help="write each finished generation trial's tickets as a verified bundle",
        description="One bundle per generation trial: a folder per series, a sub-folder per "
        "seed (URI/MODEL-SOURCE-OPTIMIZER/seed_N/), each importable as a sweep's source.",
    )
    add_sweep_arguments(pub)
    pub.add_argument("--to", help="where: a folder, s3://BUCKET/PREFIX or gs://BUCKET/PREFIX")
    pub.add_argument(
        "--register",
        metavar="NAME",
        help="also register each bundle as a version of NAME in "
        "the MLflow Model Registry (models:/NAME/VERSION)",
    )
    pub.add_argument(
        "--registry-uri",
        help="the registry's MLflow URI (default: $MLFLOW_TRACKING_URI, else the sweep's store)",
    )
    pub.add_argument("--model", help="only this model")
    pub.add_argument("--source", help="only this source dataset entry")
    pub.add_argument("--optimizer", help="only this source optimizer")
    pub.add_argument("--seed", type=int, help="only this seed")


def run(args: argparse.Namespace) -> int:
    if args.ticket_command == "publish":
        return _publish(args)
    return _show(args)


def _show(args: argparse.Namespace) -> int:
    from ltsweep.storage.store import is_uri

    target = args.directory
    if not is_uri(target) and (Path(target) / "ticket.json").exists():
        from ltsweep.core.tickets import describe, verify_ticket

        info = verify_ticket(Path(target))
        print(json.dumps(asdict(info), indent=2, sort_keys=True) if args.json else describe(info))
        return 0
    from ltsweep.core.bundle_text import describe as describe_bundle
    from ltsweep.errors import UserError
    from ltsweep.storage.bundles import fetch_level, find_series

    if not is_uri(target) and not Path(target).exists():
        raise UserError(f"{target}: no such ticket directory or bundle; check the path")
    import shutil
    import tempfile

    found = find_series(target)
    scratch = Path(tempfile.mkdtemp(prefix="ltsweep-show-"))  # check the origin, not a cache
    try:
        for one in [] if args.no_verify else found:
            for lv in one.bundle.levels:
                fetch_level(one, lv.level, scratch).unlink()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for i, one in enumerate(found):
        if args.json:
            print(json.dumps(one.bundle.to_json(), indent=2, sort_keys=True))
            continue
        if i:
            print()
        print(describe_bundle(one.bundle, one.where, verified=not args.no_verify))
    return 0


def _publish(args: argparse.Namespace) -> int:
    from ltsweep.errors import UserError
    from ltsweep.sweep.context import load_context
    from ltsweep.sweep.publish import Filters, publish, select

    if not args.to and not args.register:
        raise UserError("ticket publish needs --to URI, --register NAME, or both")
    ctx = load_context(args)
    filters = Filters(args.model, args.source, args.optimizer, args.seed)
    done, pending = select(ctx.plan, ctx.paths, filters)
    if not done:
        raise UserError(
            f"none of the {len(pending)} matching generation trials is done in "
            f"{ctx.paths.where}; run the sweep first (`ltsweep status` shows progress)"
        )
    register = None
    if args.register:
        import os

        from ltsweep.tracking.bundle_registry import register_bundle

        uri = args.registry_uri or os.environ.get("MLFLOW_TRACKING_URI") or ctx.tracking_uri

        def register(local, bundle):
            return register_bundle(local, bundle, args.register, uri)

    def on_bundle(trial, local, bundle, state) -> None:
        where = ""
        if args.to:
            from ltsweep.storage.bundles import split_query
            from ltsweep.sweep.publish import bundle_rel

            where = f"{split_query(args.to)[0]}/{bundle_rel(trial)} ({state})"
        if register is not None:
            name, new = register(local, bundle)
            where += ("; " if where else "") + f"{name}" + ("" if new else " (already there)")
        print(f"{bundle.id}  {bundle.label()}  L0..{bundle.top}  ->  {where}")

    publish(done, ctx.paths, args.to, on_bundle)
    if pending:
        sys.stderr.write(
            f"ltsweep: {len(pending)} matching generation trials are not done and were not "
            "published; run the sweep to finish them\n"
        )
    return 0
