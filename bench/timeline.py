"""Where a sweep's cores idled: ``python -m bench.timeline OUT [CORES] [-v]`` integrates
``cores - running`` over the trials' ``started_at``/``ended_at`` in OUT's done records (the
start, hand-overs, the stage boundary, the tail); works on a run stopped early.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def timeline(out: Path) -> list[dict]:
    """Done records of ``out`` (a sweep's output directory), by start time."""
    records = [json.loads(p.read_text()) for p in out.glob("trials/*/done.json")]
    return sorted(records, key=lambda r: r["started_at"])


def idle_core_seconds(records: list[dict], cores: int) -> float:
    events = sorted(
        [(r["started_at"], 1) for r in records] + [(r["ended_at"], -1) for r in records]
    )
    running, last, idle = 0, events[0][0], 0.0
    for t, change in events:
        idle += max(cores - running, 0) * (t - last)
        running, last = running + change, t
    return idle


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print("usage: python -m bench.timeline OUT [CORES] [-v]", file=sys.stderr)
        return 2
    out, cores = Path(argv[0]), int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 2
    records = timeline(out)
    if not records:
        print(f"no done records under {out}/trials: run a sweep there first", file=sys.stderr)
        return 2
    t0, t1 = records[0]["started_at"], max(r["ended_at"] for r in records)
    busy = sum(r["ended_at"] - r["started_at"] for r in records)
    idle = idle_core_seconds(records, cores)
    print(
        f"{len(records)} trials; span {t1 - t0:.1f} s; busy {busy:.1f} core-s; "
        f"idle {idle:.1f} core-s; busy-core fraction {busy / (cores * (t1 - t0)):.3f}"
    )
    if "-v" in argv:
        for r in records:
            print(f"{r['started_at'] - t0:8.1f} {r['ended_at'] - t0:8.1f}  {r['key']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
