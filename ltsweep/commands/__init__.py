"""One module per ``ltsweep`` subcommand: ``add_arguments(parser)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """Where a sweep's MLflow store is, for the commands that only read it (report, ui)."""
    parser.add_argument("sweep", help="sweep name (search_spaces/<name>.yaml) or path to its YAML")
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow store (default: $MLFLOW_TRACKING_URI, else the sweep file's tracking_uri, "
        "else <sweep output>/mlflow.db)",
    )
    parser.add_argument(
        "--sweep-out",
        type=Path,
        default=None,
        help="the sweep's output directory, if `ltsweep run` was given --out (default: runs/<sweep>)",
    )
