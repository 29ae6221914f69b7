"""``ltsweep export SWEEP``: finished results as Parquet (default) or CSV, for pandas or polars.

Reads only the sweep's MLflow store (no Ray), like ``report``; see ``ltsweep.report.export``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ltsweep.commands import add_sweep_arguments

EXPORT_DIR = "export"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sweep_arguments(parser)
    parser.add_argument(
        "--format",
        choices=("csv", "parquet"),  # ltsweep.report.export.FORMATS (not imported by --help)
        default=None,
        help="file format (default: from --to's suffix, else parquet)",
    )
    parser.add_argument(
        "--to",
        type=Path,
        default=None,
        help="the per-epoch table (default: <out>/export/epochs.parquet); the per-result table "
        "(one row per trained network) goes next to it as <name>.results.<ext>",
    )


def _format(args: argparse.Namespace) -> str:
    from ltsweep.errors import UserError
    from ltsweep.report.export import FORMATS

    by_suffix = {ext: name for name, ext in FORMATS.items()}
    suffix = args.to.suffix.lower() if args.to is not None else ""
    if args.format is None:
        return by_suffix.get(suffix, "parquet")
    if suffix and suffix in by_suffix and by_suffix[suffix] != args.format:
        raise UserError(
            f"--to {args.to} ends in {suffix} but --format is {args.format}: make them agree"
        )
    return args.format


def run(args: argparse.Namespace) -> int:
    from ltsweep.report.export import FORMATS, export
    from ltsweep.tracking import sweep_store

    fmt = _format(args)
    where = sweep_store.locate(args.sweep, args.out, args.tracking_uri)
    client, experiment_id = sweep_store.open_experiment(where.tracking_uri, where.name, where)
    to = args.to or where.out / EXPORT_DIR / f"epochs{FORMATS[fmt]}"
    with sweep_store.reading(where.tracking_uri):
        done = export(client, experiment_id, to, fmt, plan=where.recorded_plan())
    print(
        f"exported sweep {where.name}: {done.epochs} ({done.epoch_rows} rows, one per result "
        f"and epoch) and {done.results} ({done.result_rows} rows, one per result: a trained "
        "network; a generation trial has one per IMP level)"
    )
    if done.earlier:
        print(f"{done.earlier} results of an earlier version of this sweep are not exported")
    return 0
