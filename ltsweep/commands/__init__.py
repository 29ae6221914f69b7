"""The command line: one module per ``ltsweep`` subcommand, ``add_arguments(parser)`` and
``run(args) -> int``, plus the arguments several commands share.

Belongs here: parsing, messages and printing. Does not belong here: the work itself, which each
command imports lazily from the package that owns it (so ``--help`` stays fast).
"""

from __future__ import annotations

import argparse
import sys

OUT_HELP = (
    "the sweep's output directory or s3:// URI, as given to `ltsweep run --out` "
    "(default: runs/<sweep>)"
)


class DeprecatedAlias(argparse.Action):
    """An old spelling of a flag: still works for one release, with a one-line warning."""

    def __init__(self, option_strings, dest, new: str, **kwargs) -> None:
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        sys.stderr.write(
            f"ltsweep: warning: {option_string} is deprecated and will be removed in the next "
            f"release: use {self.new}\n"
        )
        setattr(namespace, self.dest, values)


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """Where a sweep's MLflow store is, for the commands that only read it (report, ui, export).

    ``--out`` means the sweep's output directory here exactly as in ``run`` and ``status``.
    """
    parser.add_argument("sweep", help="sweep name (search_spaces/<name>.yaml) or path to its YAML")
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow store (default: $MLFLOW_TRACKING_URI, else the sweep file's tracking_uri, "
        "else <sweep output>/mlflow.db)",
    )
    parser.add_argument("--out", default=None, help=OUT_HELP)  # a str: it may be an s3:// URI
    parser.add_argument(
        "--sweep-out",
        dest="out",
        action=DeprecatedAlias,
        new="--out",
        help=argparse.SUPPRESS,
    )
