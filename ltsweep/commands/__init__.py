"""The command line: one module per ``ltsweep`` subcommand, ``add_arguments(parser)`` and
``run(args) -> int``, plus the arguments several commands share.

Belongs here: parsing, messages and printing. Does not belong here: the work itself, which each
command imports lazily from the package that owns it (so ``--help`` stays fast).

Every command that reads or writes a sweep takes the same arguments, with the same meaning
(``add_sweep_arguments``): the sweep (a name in ``search_spaces/`` or a path), ``--out`` (its
output directory or bucket URI), ``--data-root`` and ``--tracking-uri``. A command that prints a
follow-up command builds it with ``follow_up`` so that it carries the same ``--out`` and store.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

# ``models:/NAME/VERSION`` ticket sources are read through the tracking package (MLflow is
# imported only when such a URI is opened): every command that plans a sweep can name them.
import ltsweep.tracking.bundle_registry  # noqa: F401

OUT_HELP = (
    "the sweep's output directory, or s3://BUCKET/PREFIX / gs://BUCKET/PREFIX; the same value "
    "for every command of one sweep (default: runs/<sweep>)"
)
DATA_ROOT_HELP = "root of the real datasets (default: $LTSWEEP_DATA, else the sweep file's)"
TRACKING_HELP = (
    "MLflow store (default: $MLFLOW_TRACKING_URI, else the sweep file's tracking_uri, "
    "else <out>/mlflow.db)"
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


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments every sweep command shares (run, plan, status, report, export, ui)."""
    parser.add_argument("sweep", help="a name in search_spaces/ (e.g. demo) or a path to a .yaml")
    parser.add_argument("--out", default=None, help=OUT_HELP)  # a str: it may be a URI
    parser.add_argument("--data-root", default=None, help=DATA_ROOT_HELP)
    parser.add_argument("--tracking-uri", default=None, help=TRACKING_HELP)
    parser.add_argument(
        "--sweep-out", dest="out", action=DeprecatedAlias, new="--out", help=argparse.SUPPRESS
    )


def follow_up(command: str, args: argparse.Namespace, *extra: str) -> str:
    """``ltsweep COMMAND SWEEP [--out ...] [--tracking-uri ...]`` as this command was given them,
    ready to paste (a local ``--out`` made absolute, so it works from any directory)."""
    words = ["ltsweep", command, args.sweep]
    out = getattr(args, "out", None)
    if out:
        from ltsweep.storage.store import is_uri

        words += ["--out", out if is_uri(out) else str(Path(out).expanduser().resolve())]
    if getattr(args, "tracking_uri", None):
        words += ["--tracking-uri", args.tracking_uri]
    return shlex.join([*words, *extra])
