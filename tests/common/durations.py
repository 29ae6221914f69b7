"""The parallel schedule's units and their measured seconds (``tests/durations.json``).

``make test`` runs ``pytest -n 2 --dist loadgroup --no-loadscope-reorder``: ``conftest.py`` puts
each test in a unit (an xdist group) and starts the units longest first, so that no long unit
starts last and runs alone on an idle machine. A unit is a module (its module fixtures run once,
in one worker), except that the modules sharing the session's ``tiny_sweep`` reference are one
unit (computed once, in that worker) and the cluster tests, each re-executed in a network
namespace of its own, are units of their own.

The seconds come from a full run, not from hand: refresh them with

    .venv/bin/python -m pytest -q -n 2 --dist loadgroup --no-loadscope-reorder --junitxml=junit.xml
    .venv/bin/python -m tests.common.durations junit.xml

Only the order matters, so figures from another machine still schedule well.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DURATIONS = REPO / "tests" / "durations.json"
# A unit missing from the file (a module added since the last refresh) starts after every
# measured unit of at least this many seconds, in file order.
DEFAULT_SECONDS = 10.0

SHARED_GROUPS = {
    "tests/test_sweep_run.py": "tiny-sweep",
    "tests/test_storage_s3.py": "tiny-sweep",
    "tests/test_cli_language.py": "tiny-sweep",
    "tests/test_imports.py": "tiny-sweep",
    "tests/test_multinode.py::test_lost_node_server_restart_and_killed_driver": "tiny-sweep",
}
SPLIT_MODULES = ("tests/test_multinode.py",)


def unit_of(nodeid: str) -> str:
    """The unit (xdist group) of a test: its shared group, its own name in a split module, or
    its module."""
    module, _, rest = nodeid.partition("::")
    test = f"{module}::{rest.split('[')[0].split('@')[0]}"
    if test in SHARED_GROUPS or module in SHARED_GROUPS:
        return SHARED_GROUPS.get(test) or SHARED_GROUPS[module]
    return test if module in SPLIT_MODULES else module


def exists(unit: str) -> bool:
    """A shared group, or a unit whose module is still there."""
    return unit in SHARED_GROUPS.values() or (REPO / unit.split("::")[0]).is_file()


def load(path: Path = DURATIONS) -> dict[str, float]:
    """Seconds per unit; an absent file schedules every unit at ``DEFAULT_SECONDS``."""
    if not path.exists():
        return {}
    return {unit: float(s) for unit, s in json.loads(path.read_text())["seconds"].items()}


def seconds(unit: str, measured: dict[str, float]) -> float:
    return measured.get(unit, DEFAULT_SECONDS)


def nodeids_with_seconds(junit_xml: Path) -> Iterable[tuple[str, float]]:
    """``(nodeid without parameters, seconds)`` per test case of a ``--junitxml`` report. A
    case's time is its setup, call and teardown together (pytest's default
    ``junit_duration_report``), so a module fixture counts in the unit that runs it.

    Under ``--dist loadgroup`` xdist appends ``@group`` to each node id, and the report splits
    that id at every ``::`` before its first ``[`` (a split module's group contains ``::``): the
    test is what precedes the first ``@`` or ``[``, read as dotted module, class and name."""
    for case in ET.parse(junit_xml).getroot().iter("testcase"):
        dotted = f"{case.get('classname', '')}.{case.get('name', '')}"
        parts = re.split(r"[@\[]", dotted, maxsplit=1)[0].split(".")
        for end in range(len(parts) - 1, 0, -1):  # the module: the longest prefix that is a file
            module = "/".join(parts[:end]) + ".py"
            if (REPO / module).is_file():
                yield "::".join([module, *parts[end:]]), float(case.get("time", 0))
                break


def measure(junit_xml: Path) -> dict[str, float]:
    totals: dict[str, float] = {}
    for nodeid, secs in nodeids_with_seconds(junit_xml):
        unit = unit_of(nodeid)
        totals[unit] = totals.get(unit, 0.0) + secs
    return totals


def write(measured: dict[str, float], path: Path = DURATIONS, source: str = "") -> None:
    """Measured units replace their figures; units of modules that no longer exist are dropped;
    the others (not in this run) keep theirs."""
    from ltsweep.fsio import write_text

    kept = {u: s for u, s in load(path).items() if exists(u)}
    kept.update(measured)
    ordered = dict(sorted(kept.items(), key=lambda item: (-item[1], item[0])))
    doc = {
        "about": (
            "Seconds per unit of the parallel schedule (tests/common/durations.py), from "
            f"{source or 'a full run'}. Refresh: python -m tests.common.durations junit.xml"
        ),
        "seconds": {unit: round(s, 1) for unit, s in ordered.items()},
    }
    write_text(path, json.dumps(doc, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.common.durations",
        description="Store the seconds per unit of a full run's --junitxml report.",
    )
    parser.add_argument("junit_xml", type=Path)
    parser.add_argument("--out", type=Path, default=DURATIONS)
    args = parser.parse_args(argv)
    try:
        measured = measure(args.junit_xml)
    except (OSError, ET.ParseError) as exc:
        print(
            f"error: cannot read {args.junit_xml} ({exc}): pass a pytest --junitxml report",
            file=sys.stderr,
        )
        return 2
    if not measured:
        print(
            f"error: {args.junit_xml} names no test of this repository: pass a full run's report",
            file=sys.stderr,
        )
        return 2
    suite = ET.parse(args.junit_xml).getroot().find(".//testsuite")
    when = suite.get("timestamp", "")[:10] if suite is not None else ""
    write(measured, args.out, source=f"a run of {when or 'unknown date'}, {len(measured)} units")
    print(f"{args.out}: {len(measured)} units measured, {sum(measured.values()):.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
