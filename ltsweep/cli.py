"""``ltsweep`` command line: one module per subcommand under ``ltsweep.commands``.

Every ``UserError`` becomes one line on stderr and exit code 2, with no traceback. Parsing imports
no torch, Ray or MLflow (tests/test_cli_speed.py): a command imports them when its work needs
them, so ``--help``, ``status`` and a bad sweep file answer at once.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import re
import sys

from ltsweep.errors import UserError

# subcommand -> module in ltsweep.commands defining ``add_arguments(parser)`` and ``run(args)``.
COMMANDS = {
    "run": "Run a sweep (ticket generation, then transfer) on Ray Tune, tracked in MLflow.",
    "plan": "Expand a sweep into its trial list and estimate its cost; runs nothing.",
    "status": "What is done, running, failed and left in a sweep, from its stores.",
    "report": "Figures, transfer matrix, summary.csv and index.html from what is finished.",
    "export": "Finished results as Parquet or CSV tables (per epoch and per result).",
    "ui": "Start the MLflow UI on a sweep's tracking store (127.0.0.1 by default).",
    "ticket": "Inspect ticket directories (`ltsweep ticket show DIR`).",
    "data": "Dataset tools (`ltsweep data list`, `ltsweep data convert` to FFCV).",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2 (its default code)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"ltsweep: error: {did_you_mean(message)} (see `{self.prog} --help`)\n")
        raise SystemExit(2)


_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<given>[^']*)' \(choose from (?P<choices>.*)\)")


def did_you_mean(message: str) -> str:
    """argparse's "invalid choice" (a subcommand, a --format) with the closest choice named."""
    found = _INVALID_CHOICE.search(message)
    if not found:
        return message
    choices = re.findall(r"'([^']*)'", found["choices"])
    close = difflib.get_close_matches(found["given"], choices, n=1, cutoff=0.5)
    return message + (f"; did you mean {close[0]!r}?" if close else "")


DESCRIPTION = "Do winning lottery tickets transfer? IMP, transfer and controls as one sweep."
EPILOG = """\
every sweep command (run, plan, status, report, export, ui) takes SWEEP (a name in
search_spaces/ or a path to a .yaml) and the same --out, --data-root and --tracking-uri.
A trial is one unit of scheduled work (an IMP run or one transfer training); a result is one
trained network (a generation trial makes one per IMP level). Exit codes: 0 done, 1 some trials
failed, 2 bad input (one line on stderr), 130 interrupted (run it again to resume).
docs/cli.md has every command."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ltsweep",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    try:
        args = build_parser().parse_args(argv)
        code = int(args._module.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's final flush
        return code
    except UserError as exc:
        sys.stderr.write(f"ltsweep: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("ltsweep: interrupted; run the same command again to resume\n")
        return 130
    except BrokenPipeError:
        return _closed_pipe()


def _closed_pipe() -> int:
    """The reader left (``ltsweep plan demo --trials | head``): stop quietly, as ``cat`` does.
    Later writes (the interpreter's flush at exit) go to /dev/null instead of raising again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
