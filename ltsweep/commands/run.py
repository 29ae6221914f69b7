"""`ltsweep run` (being built)."""

from __future__ import annotations

import argparse

from ltsweep.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rest", nargs="*")


def run(args: argparse.Namespace) -> int:
    raise UserError("`ltsweep run` is not built yet")
