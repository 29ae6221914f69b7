"""Orchestration: ``ltsweep run`` of a sweep vs the same trials one after another in one process
without Ray or MLflow (``--sequential SWEEP OUT``); with ``BENCH_FLOOR=1`` also the machine's
floor, the trials on one plain process per core handed out by the real ticket gate
(``--parallel SWEEP OUT``; ``--generation SWEEP OUT`` trains only the tickets, for ``packing``).
Sweeps, pairs and variables: bench/README.md, "orchestration".
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from itertools import count
from pathlib import Path
from typing import Any

from bench import procs
from bench.common import REPO_ROOT, interleave, make_row
from ltsweep.storage.paths import SweepPaths

SMALL_SWEEP = REPO_ROOT / "bench" / "sweeps" / "bench_small.yaml"


def sweeps(repeats: int, quick: bool, work: Path) -> list[tuple[Path, int, str]]:
    """(sweep file, pairs, how it was chosen) to measure."""
    from ltsweep.sweep.files import resolve_sweep_file

    if chosen := os.environ.get("BENCH_SWEEP"):
        return [(resolve_sweep_file(chosen).resolve(), 1 if quick else repeats, "BENCH_SWEEP")]
    if quick:
        return [(procs.quick_variant(SMALL_SWEEP, work), 1, "bench_small cut to 1 level, 3 epochs")]
    demo = resolve_sweep_file("demo").resolve()
    return [(SMALL_SWEEP, repeats, "bench_small"), (demo, max(1, repeats // 3), "the demo")]


def run_trial(trial, out: Path) -> None:
    """One trial as a Tune worker runs it (``execute``), here, without Ray or MLflow."""
    from ltsweep.tune.trainable import execute

    execute(trial, SweepPaths(out))


def parallel(sweep: Path | str, out: Path | str, workers: int | None = None) -> None:
    """The floor; every trial on ``workers`` plain processes (default: one per core), no Ray
    runtime or MLflow, in the order ltsweep's ticket gate hands them out (the gate itself)."""
    from ray.tune.search import Searcher

    from ltsweep.tune.gate import TicketGate

    plan, out = procs.load_plan(Path(sweep)), Path(out)
    trials = {t.key: t for t in plan.trials}
    gate = TicketGate(plan.generation, plan.transfer, SweepPaths(out), poll_seconds=0.2)
    slots, finished, running, ids = workers or os.cpu_count() or 1, False, {}, count()
    with ProcessPoolExecutor(slots, mp_context=multiprocessing.get_context("spawn")) as pool:
        while not finished or running:
            while not finished and len(running) < slots:
                trial_id = f"floor-{next(ids)}"
                config = gate.suggest(trial_id)
                finished = config == Searcher.FINISHED
                if config is None or finished:
                    break
                running[pool.submit(run_trial, trials[config["key"]], out)] = trial_id
            if not running and not finished:
                raise RuntimeError("floor: transfer trials wait on tickets no trial will write")
            done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()  # a failed trial fails the benchmark
                gate.on_trial_complete(running.pop(future))


def measure(sweep: Path, pairs: int, why: str, work: Path) -> list[dict[str, Any]]:
    log, load_before, cores = work / "log.txt", os.getloadavg()[0], os.cpu_count()

    def plain(mode: str) -> float:
        """The sweep without Ray or MLflow: ``sequential`` (baseline) or ``parallel`` (floor)."""
        with procs.fresh(work / mode) as out:
            args = ["-m", "bench.bench_orchestration", f"--{mode}", str(sweep), str(out)]
            return procs.run_python(args, log)

    floors: list[float] = []

    def candidate() -> float:
        seconds = procs.run_sweep(sweep, work / "tune", log)
        if os.environ.get("BENCH_FLOOR"):
            floors.append(plain("parallel"))
        return seconds

    # Warm-up: the imports both sides pay (page cache, .pyc), not a whole sweep each.
    procs.run_python(["-c", "import torch, ray.tune, mlflow, ltsweep.tune.trainable"], log)
    procs.run_cli(["plan", str(sweep)], log)
    plan = procs.load_plan(sweep)
    gen, transfer = len(plan.generation), len(plan.transfer)
    print(f"  {sweep.name}: {gen} + {transfer} trials, {pairs} pair(s)")
    base, cand = interleave(lambda: plain("sequential"), candidate, pairs, warmup=0, log=print)
    shown = sweep.relative_to(REPO_ROOT) if sweep.is_relative_to(REPO_ROOT) else sweep.name
    notes = (
        f"sweep {shown} ({why}; {gen} generation + {transfer} transfer trials), {pairs} "
        f"interleaved pair(s); Tune runs up to {cores} cpu:1 trials at once, the baseline one "
        "after another; both fresh processes, start-up included; private local Ray; load "
        f"average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    sequential, tune = "same trials sequential, one process", "ltsweep run (Tune + MLflow)"
    name, metric = f"orchestration: ltsweep run ({sweep.stem})", "sweep wall time"
    rows = [make_row(name, metric, "s", sequential, base, tune, cand, "<= 1.25", notes)]
    if floors:
        name = f"orchestration: {cores} plain processes ({sweep.stem}), the machine's floor"
        floor = f"same trials on {cores} plain processes, ticket-gate order"
        target = f"{1 / cores:.2f} if {cores} cores scaled perfectly"
        notes = "run right after each candidate"
        rows.append(make_row(name, metric, "s", sequential, base, floor, floors, target, notes))
        name = f"orchestration: ltsweep run vs the floor ({sweep.stem})"
        target = "what orchestration adds beyond the cores"
        notes = "ratio = ltsweep run / floor, pair by pair"
        rows.append(make_row(name, metric, "s", floor, floors, tune, cand, target, notes))
    return rows


def run(repeats: int = 3, quick: bool = False) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="ltsweep-bench-orch-") as tmp:
        work = Path(tmp)
        return [
            row for s, n, why in sweeps(repeats, quick, work) for row in measure(s, n, why, work)
        ]


def sequential(sweep: str, out: str, stage: str = "trials") -> None:
    """The baseline; the plan's trials one after another in this process (generation first)."""
    for trial in getattr(procs.load_plan(Path(sweep)), stage):
        run_trial(trial, Path(out))


def generation(sweep: str, out: str) -> None:
    """Tickets only (for packing); the generation trials, as ``sequential``."""
    sequential(sweep, out, "generation")


def main(argv: list[str] | None = None) -> int:
    modes = {"sequential": sequential, "parallel": parallel, "generation": generation}
    return procs.subcommand("bench.bench_orchestration", argv, ("SWEEP", "OUT"), modes)


if __name__ == "__main__":
    sys.exit(main())
