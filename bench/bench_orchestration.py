"""Orchestration: ``ltsweep run`` of a sweep vs. the same trials one after another in one process.

Candidate: the real CLI, ``ltsweep run <sweep> --out <fresh dir>``, in a subprocess: Ray Tune
stages, MLflow recording, the lock, everything. On 2 cores Tune runs 2 ``cpu: 1`` trials at once.
Baseline: a fresh ``python`` process that calls ``ltsweep.tune.trainable.execute`` for every trial
of ``build_plan(load_sweep(file))`` in order (generation first), without Ray or MLflow;
``execute`` sets the same per-trial thread count (``torch.set_num_threads(cpu)``) as under Tune.
Both include process start-up. Figure: wall seconds; target ratio <= 1.25 on 2 cores.

Sweeps: bench/sweeps/bench_small.yaml (demo-shaped, ~25 s of training one trial after another)
for ``repeats`` pairs, then ``search_spaces/demo.yaml`` itself (6 + 70 trials, ~5 min one after
another on 2 cores) for one pair per three of those (1 by default). ``--quick``: bench_small cut
to 1 IMP level and 3 epochs, one pair, no demo. ``BENCH_SWEEP=<name or path>``: that sweep only,
``repeats`` pairs.

Floor: ``BENCH_FLOOR=1`` adds a third process per pair, the same trials on ``nproc`` plain
worker processes without Ray or MLflow, handed out in the ticket gate's order (generation trials
first, each transfer once its ticket file exists, costliest first). What this machine's cores
give in parallel at best: ``floor / sequential`` is the hardware's own parallel efficiency, and
``ltsweep run / floor`` what orchestration (Ray, Tune, MLflow, the driver) adds beyond it.

``python -m bench.bench_orchestration --sequential SWEEP OUT`` is the baseline process;
``--parallel SWEEP OUT`` the floor.
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
    from ltsweep.sweep.files import resolve_sweep_file

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
    from ltsweep.storage.paths import SweepPaths
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan
    from ltsweep.tune.trainable import execute

    plan = build_plan(load_sweep(sweep))
    paths = SweepPaths(out)
    for trial in plan.trials:  # generation trials come first
        execute(trial, paths)


def _run_one(trial, out: str) -> str:
    from ltsweep.storage.paths import SweepPaths
    from ltsweep.tune.trainable import execute

    execute(trial, SweepPaths(Path(out)))
    return trial.key


def parallel(sweep: Path, out: Path, workers: int | None = None) -> None:
    """Every trial on ``workers`` plain processes (default: one per core), no Ray or MLflow,
    in the ticket gate's order: generation first, then each transfer once its ticket exists."""
    import heapq
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from ltsweep.storage.paths import SweepPaths
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.order import generation_order, image_epochs
    from ltsweep.sweep.plan import build_plan
    from ltsweep.trial_layout import ticket_dir

    plan = build_plan(load_sweep(sweep))
    paths = SweepPaths(out)
    queue = list(generation_order(plan.generation, plan.transfer))
    waiting = [(-image_epochs(t), i, t) for i, t in enumerate(plan.transfer)]
    ready: list = []
    slots = workers or os.cpu_count() or 1
    with ProcessPoolExecutor(slots, mp_context=multiprocessing.get_context("spawn")) as pool:
        running: set = set()
        while queue or waiting or ready or running:
            still = []
            for item in waiting:
                t = item[2]
                if (ticket_dir(paths.trial_dir(t.source_key), t.level) / "ticket.json").exists():
                    heapq.heappush(ready, item)
                else:
                    still.append(item)
            waiting = still
            while len(running) < slots and (queue or ready):
                trial = queue.pop(0) if queue else heapq.heappop(ready)[2]
                running.add(pool.submit(_run_one, trial, str(out)))
            if running:
                done, running = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()  # a failed trial fails the benchmark
            elif waiting and not queue and not ready:
                raise RuntimeError(
                    f"floor: {len(waiting)} transfer trials wait on tickets that every "
                    f"generation trial finished without, e.g. {waiting[0][2].key}"
                )


def _count_trials(sweep: Path) -> tuple[int, int]:
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan

    plan = build_plan(load_sweep(sweep))
    return len(plan.generation), len(plan.transfer)


def measure(sweep: Path, pairs: int, why: str, work: Path) -> list[dict[str, Any]]:
    log = work / "log.txt"
    load_before = os.getloadavg()

    def timed_into(tag: str, command) -> float:
        out = work / tag
        shutil.rmtree(out, ignore_errors=True)
        seconds = command(out)
        shutil.rmtree(out, ignore_errors=True)
        return seconds

    def plain(mode: str) -> float:
        """The sweep without Ray or MLflow: ``sequential`` (baseline) or ``parallel`` (floor)."""
        return timed_into(
            mode,
            lambda out: procs.run_python(
                ["-m", "bench.bench_orchestration", f"--{mode}", str(sweep), str(out)], log
            ),
        )

    def baseline() -> float:
        return plain("sequential")

    def candidate() -> float:
        return timed_into(
            "tune", lambda out: procs.run_cli(["run", str(sweep), "--out", str(out)], log)
        )

    floors: list[float] = []

    def floor() -> float:
        return plain("parallel")

    def candidate_then_floor() -> float:
        seconds = candidate()
        if with_floor:
            floors.append(floor())
        return seconds

    # Warm-up: the imports both sides pay (page cache, .pyc), not a whole sweep each.
    procs.run_python(["-c", "import torch, ray.tune, mlflow, ltsweep.tune.trainable"], log)
    procs.run_cli(["plan", str(sweep)], log)
    gen, transfer = _count_trials(sweep)
    print(f"  {sweep.name}: {gen} + {transfer} trials, {pairs} pair(s)")
    with_floor = bool(os.environ.get("BENCH_FLOOR"))
    base, cand = interleave(baseline, candidate_then_floor, pairs, warmup=0, log=print)
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
    rows = [
        make_row(
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
    ]
    if floors:
        print(f"  floor ({cores} plain processes): " + ", ".join(f"{f:.1f} s" for f in floors))
        rows.append(
            make_row(
                f"{NAME}: {cores} plain processes ({sweep.stem}), the machine's floor",
                "sweep wall time",
                "s",
                "same trials sequential, one process",
                base,
                f"same trials on {cores} plain processes, gate order, no Ray/MLflow",
                floors,
                f"{1 / cores:.2f} if {cores} cores scaled perfectly",
                "the hardware's own parallel efficiency on this sweep; run right after each "
                "candidate (sequential, ltsweep run, floor, ...)",
            )
        )
        rows.append(
            make_row(
                f"{NAME}: ltsweep run vs the floor ({sweep.stem})",
                "sweep wall time",
                "s",
                f"same trials on {cores} plain processes (the floor)",
                floors,
                "ltsweep run (Ray Tune + MLflow)",
                cand,
                "what orchestration adds beyond the cores' own scaling",
                "ratio = ltsweep run / floor, pair by pair",
            )
        )
    return rows


def run(repeats: int = DEFAULT_PAIRS, quick: bool = False) -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="ltsweep-bench-orch-"))
    try:
        return [
            row
            for sweep, pairs, why in sweeps(repeats, quick, work)
            for row in measure(sweep, pairs, why, work)
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_orchestration")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--sequential",
        nargs=2,
        metavar=("SWEEP", "OUT"),
        help="run every trial of SWEEP into OUT without Ray (the baseline)",
    )
    group.add_argument(
        "--parallel",
        nargs=2,
        metavar=("SWEEP", "OUT"),
        help="the same on one plain process per core, in the gate's order (the floor)",
    )
    args = parser.parse_args(argv)
    if args.sequential:
        sequential(Path(args.sequential[0]), Path(args.sequential[1]))
    else:
        parallel(Path(args.parallel[0]), Path(args.parallel[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
