"""Orchestration: ``ltsweep run`` of a sweep vs. the same trials one after another in one process.

Candidate: the real CLI, ``ltsweep run <sweep> --out <fresh dir>``, in a subprocess: Ray Tune
stages, MLflow recording, the lock, everything. On 2 cores Tune runs 2 ``cpu: 1`` trials at once.
Baseline: a fresh ``python`` process that calls ``ltsweep.runtime.trial.execute`` for every trial
of ``build_plan(load_sweep(file))`` in order (generation first), without Ray or MLflow;
``execute`` sets the same per-trial thread count (``torch.set_num_threads(cpu)``) as under Tune.
Both include process start-up. Figure: wall seconds; target ratio <= 1.25 on 2 cores.

Sweeps: bench/sweeps/bench_small.yaml (demo-shaped, ~25 s of training one trial after another)
for ``repeats`` pairs, then ``search_spaces/demo.yaml`` itself (6 + 70 trials, ~5 min one after
another on 2 cores) for one pair per three of those (1 by default). ``--quick``: bench_small cut
to 1 IMP level and 3 epochs, one pair, no demo. ``BENCH_SWEEP=<name or path>``: that sweep only,
``repeats`` pairs.

``python -m bench.bench_orchestration --sequential SWEEP OUT`` is the baseline process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import procs
from bench.common import REPO_ROOT, interleave, make_row

NAME = "orchestration"
SMALL_SWEEP = REPO_ROOT / "bench" / "sweeps" / "bench_small.yaml"
DEFAULT_PAIRS = 3
DEMO = "demo"


def sweeps(repeats: int, quick: bool, work: Path) -> list[tuple[Path, int, str]]:
    """(sweep file, pairs, how it was chosen) to measure."""
    from ltsweep.sweep.paths import resolve_sweep_file

    chosen = os.environ.get("BENCH_SWEEP")
    if chosen:
        return [(resolve_sweep_file(chosen).resolve(), 1 if quick else repeats, "BENCH_SWEEP")]
    if quick:
        return [(procs.quick_variant(SMALL_SWEEP, work), 1, "bench_small cut to 1 level, 3 epochs")]
    return [
        (SMALL_SWEEP, repeats, "bench_small"),
        (resolve_sweep_file(DEMO).resolve(), max(1, repeats // 3), "the demo"),
    ]


def sequential(sweep: Path, out: Path) -> None:
    """Every trial of the sweep in plan order, in this process, without Ray or MLflow."""
    from ltsweep.runtime.trial import execute
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.paths import SweepPaths
    from ltsweep.sweep.plan import build_plan

    plan = build_plan(load_sweep(sweep))
    paths = SweepPaths(out)
    for trial in plan.trials:  # generation trials come first
        execute(trial, paths)


def _count_trials(sweep: Path) -> tuple[int, int]:
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan

    plan = build_plan(load_sweep(sweep))
    return len(plan.generation), len(plan.transfer)


def measure(sweep: Path, pairs: int, why: str, work: Path) -> dict[str, Any]:
    log = work / "log.txt"
    load_before = os.getloadavg()

    def timed_into(tag: str, command) -> float:
        out = work / tag
        shutil.rmtree(out, ignore_errors=True)
        seconds = command(out)
        shutil.rmtree(out, ignore_errors=True)
        return seconds

    def baseline() -> float:
        return timed_into(
            "sequential",
            lambda out: procs.run_python(
                ["-m", "bench.bench_orchestration", "--sequential", str(sweep), str(out)], log
            ),
        )

    def candidate() -> float:
        return timed_into(
            "tune", lambda out: procs.run_cli(["run", str(sweep), "--out", str(out)], log)
        )

    # Warm-up: the imports both sides pay (page cache, .pyc), not a whole sweep each.
    procs.run_python(["-c", "import torch, ray.tune, mlflow, ltsweep.runtime.trial"], log)
    procs.run_cli(["plan", str(sweep)], log)
    gen, transfer = _count_trials(sweep)
    print(f"  {sweep.name}: {gen} + {transfer} trials, {pairs} pair(s)")
    base, cand = interleave(baseline, candidate, pairs, warmup=0, log=print)
    cores = os.cpu_count()
    load_after = os.getloadavg()
    shown = sweep.relative_to(REPO_ROOT) if sweep.is_relative_to(REPO_ROOT) else sweep.name
    notes = (
        f"sweep {shown} ({why}; {gen} generation + {transfer} transfer trials), {pairs} "
        f"interleaved pair(s); Tune runs up to {cores} cpu:1 trials in parallel on {cores} "
        "cores, the baseline one after another at 1 thread each; both fresh processes, start-up "
        "included; candidate on a private local Ray (RAY_AUTH_MODE=disabled); machine shared "
        f"with other developers' work (load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after)"
    )
    if pairs == 1:
        notes += "; one pair: min = max = median"
    return make_row(
        f"{NAME}: ltsweep run ({sweep.stem})",
        "sweep wall time",
        "s",
        "same trials sequential, one process, no Ray/MLflow",
        base,
        "ltsweep run (Ray Tune + MLflow)",
        cand,
        "<= 1.25",
        notes,
    )


def run(repeats: int = DEFAULT_PAIRS, quick: bool = False) -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="ltsweep-bench-orch-"))
    try:
        return [
            measure(sweep, pairs, why, work) for sweep, pairs, why in sweeps(repeats, quick, work)
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_orchestration")
    parser.add_argument(
        "--sequential",
        nargs=2,
        metavar=("SWEEP", "OUT"),
        required=True,
        help="run every trial of SWEEP into OUT without Ray (the baseline)",
    )
    args = parser.parse_args(argv)
    sequential(Path(args.sequential[0]), Path(args.sequential[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
