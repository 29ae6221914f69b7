"""`ltsweep report SWEEP`: figures, transfer matrix, summary.csv and index.html from the store.

Reads only the sweep's MLflow store (no Ray), so it runs while a sweep is still going: whatever
is FINISHED is reported, and what is missing shows as missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ltsweep.commands import add_sweep_arguments


def fraction(text: str) -> float:
    """A fraction of weights remaining: ``0.2`` or ``20%``, in (0, 1]."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction (e.g. 0.2 or 20%)") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not in (0, 1]: give e.g. 0.05 or 5%")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sweep_arguments(parser)
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=None,
        help="where the report goes (default: <out>/report, i.e. runs/<sweep>/report)",
    )
    parser.add_argument(
        "--sparsity",
        action="append",
        type=fraction,
        metavar="FRACTION",
        help="fraction of weights remaining the claims are tested at and the transfer matrix is "
        "drawn at, e.g. 0.05 or 5%% (the nearest pruning level; repeat it for more matrices: "
        "the claims use the first; default: the sweep's report.sparsity, 5%% unless set)",
    )
    parser.add_argument(
        "--no-mlflow-log",
        action="store_true",
        help="do not log the report files to the sweep's parent run",
    )


def run(args: argparse.Namespace) -> int:
    from ltsweep.report.build import build_report

    report = build_report(
        args.sweep,
        out_dir=args.report_dir,
        tracking_uri=args.tracking_uri,
        sparsities=args.sparsity,
        log_to_mlflow=not args.no_mlflow_log,
        sweep_out=args.out,
    )
    print(
        f"report of sweep {report.sweep}: {report.out_dir / 'index.html'} "
        f"({len(report.summary)} finished results, {len(report.not_finished)} not finished, "
        f"{len(report.all_figures)} figures; a result is one trained network: a generation "
        "trial has one per IMP level)"
    )
    if report.earlier or report.repeated:
        from ltsweep.report.build import earlier_line

        print(earlier_line(report))
    from ltsweep.report.build import kernel_counts, kernels_line

    if len(kernel_counts(report)) > 1:  # one family needs no console line
        print(kernels_line(report))
    if report.parent_run_id and not args.no_mlflow_log:
        print(f"logged as artifacts 'report/' of MLflow run {report.parent_run_id}")
    return 0
