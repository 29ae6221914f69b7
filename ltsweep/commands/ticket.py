"""``ltsweep ticket show DIR``: verify a ticket's hash and print what made it."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="ticket_command", required=True)
    show = sub.add_parser("show", help="verify a ticket and print its provenance and sparsity")
    show.add_argument("directory", type=Path, help="a ticket directory (ticket.json and weights)")
    show.add_argument("--json", action="store_true", help="print ticket.json (after verifying)")


def run(args: argparse.Namespace) -> int:
    from ltsweep.core.tickets import describe, verify_ticket

    info = verify_ticket(args.directory)
    print(json.dumps(asdict(info), indent=2, sort_keys=True) if args.json else describe(info))
    return 0
