"""``ltsweep`` command line: one module per subcommand under ``ltsweep.commands``.

Every ``UserError`` becomes one line on stderr and exit code 2, with no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ltsweep.errors import UserError

# subcommand -> module in ltsweep.commands defining ``add_arguments(parser)`` and ``run(args)``.
COMMANDS = {
    "run": "Run a sweep (ticket generation, then transfer) on Ray Tune, tracked in MLflow.",
    "plan": "Expand a sweep into its trial list and estimate its cost; runs nothing.",
    "status": "What is done, running, failed and left in a sweep, from its stores.",
    "report": "Figures, transfer matrix, summary.csv and index.html from what is finished.",
    "export": "Finished results as Parquet or CSV tables (per epoch and per trial).",
    "ui": "Start the MLflow UI on a sweep's tracking store (127.0.0.1 by default).",
    "ticket": "Inspect ticket directories (`ltsweep ticket show DIR`).",
    "data": "Dataset tools (`ltsweep data list`, `ltsweep data convert` to FFCV).",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2 (its default code)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"ltsweep: error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ltsweep", description=__doc__.splitlines()[0])
    from ltsweep import __version__

    parser.add_argument("--version", action="version", version=f"ltsweep {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"ltsweep.commands.{name}")
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(cmd)
        cmd.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._module.run(args) or 0)
    except UserError as exc:
        sys.stderr.write(f"ltsweep: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("ltsweep: interrupted; run the same command again to resume\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
