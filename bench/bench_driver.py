"""The driver at grid scale: ``run_trials`` (Tune, ticket gate, MLflow recorder and writer, done
records) over N trials whose body trains nothing but leaves real tickets and done records, vs the
same bodies in a plain loop; plus ``ltsweep plan``/``status`` of grid_full (bench/README.md,
"driver"). ``python -m bench.bench_driver --tune N OUT`` / ``--loop N OUT`` are the two processes.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import procs
from bench.common import REPO_ROOT, interleave, make_row
from ltsweep.storage.done import read_done, write_done
from ltsweep.storage.paths import SweepPaths
from ltsweep.trial_layout import ticket_dir

if TYPE_CHECKING:
    from ltsweep.sweep.plan import Plan

SWEEP = REPO_ROOT / "bench" / "sweeps" / "bench_driver.yaml"
SIZES, QUICK_SIZES, SIZES_ENV = (100, 500, 1000, 5000), (42, 126), "BENCH_DRIVER_SIZES"
LEVELS = 10  # the sweep's; per seed: 2 generation + 2 x 2 x LEVELS transfer trials


def seeds_for(trials: int) -> int:
    """Seeds giving about ``trials`` trials: each seed adds 2 + 4 * LEVELS of them."""
    return max(1, round(trials / (2 + 4 * LEVELS)))


def sweep_yaml(trials: int) -> str:
    """The driver's sweep scaled by its seeds to about ``trials`` trials."""
    import yaml

    raw = yaml.safe_load(SWEEP.read_text())
    raw["seeds"] = list(range(seeds_for(trials)))
    return json.dumps(raw)  # JSON is YAML


# -- the trial body that trains nothing ---------------------------------------------------------
def _history(accuracy: float) -> list[dict[str, float]]:
    metrics = {"test_loss": 1.0, "train_loss": 1.0, "train_accuracy": accuracy, "lr": 0.05}
    return [{"epoch": 0, "test_accuracy": accuracy, **metrics}]


def null_execute(trial, paths) -> dict[str, Any]:
    """What ``execute`` leaves behind (tickets, done record), without training."""
    import torch

    from ltsweep.core.masks import Mask
    from ltsweep.core.tickets import TicketInfo, read_info, save_ticket
    from ltsweep.sweep.trial import GENERATE

    if (done := read_done(paths, trial.key)) is not None:
        return done
    tdir = paths.trial_dir(trial.key)
    tdir.mkdir(parents=True, exist_ok=True)
    if trial.stage == GENERATE:
        levels = []
        for level in range(trial.job.imp.levels + 1):
            left, where = 0.8**level, ticket_dir(tdir, level)
            axes = trial.job.model.name, trial.trains_on.name, trial.trains_on.optimizer, level
            info = TicketInfo(*axes, trial.job.seed, 10, 1, left, {"w": left}, source_key=trial.key)
            save_ticket(where, {"w": torch.zeros(8)}, Mask({"w": torch.ones(8)}), info)
            level_record = {"level": level, "weights_remaining": left, "history": _history(0.9)}
            levels.append({**level_record, "ticket_dir": str(where)})
        record: dict[str, Any] = {"levels": levels}
    else:
        info = read_info(ticket_dir(paths.trial_dir(trial.source_key), trial.level))
        record = {"history": _history(0.8), "weights_remaining": info.weights_remaining}
        record["ticket_sha256"] = info.sha256
    record.update(key=trial.key, seconds=0.0, device="cpu")
    write_done(paths, trial.key, record)
    return record


def null_trainable(config: dict[str, Any], trials: dict, out: str, uri: str | None = None) -> None:
    """``tune_trainable`` with ``null_execute``: one epoch report, then the final one."""
    from ray import tune

    record = null_execute(trials[config["key"]], SweepPaths(Path(out)))
    history = record.get("history") or record["levels"][-1]["history"]
    tune.report({**history[-1], "step": 0, "final": 0})
    tune.report({"final": 1, "seconds": 0.0})


# -- the two processes --------------------------------------------------------------------------
def _plan(trials: int, out: Path) -> Plan:
    out.mkdir(parents=True, exist_ok=True)
    sweep = out / f"bench_driver_{trials}.yaml"
    sweep.write_text(sweep_yaml(trials))
    return procs.load_plan(sweep)


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def loop_process(trials: int, out: Path) -> dict[str, Any]:
    """The baseline; the null trials in a plain loop."""
    plan, paths = _plan(trials, out), SweepPaths(out)
    started, cpu = time.perf_counter(), _cpu()
    for trial in plan.trials:  # generation trials come first
        null_execute(trial, paths)
    return {"trials": len(plan.trials), "wall": time.perf_counter() - started, "cpu": _cpu() - cpu}


def tune_process(trials: int, out: Path) -> dict[str, Any]:
    """The candidate; the null trials through ``run_trials`` (Tune, gate, MLflow, as a run)."""
    from ltsweep.sweep.files import tracking_uri
    from ltsweep.tracking.client import Tracker
    from ltsweep.tracking.writer import start_writer
    from ltsweep.tune.driver import connect_ray, run_trials

    plan, paths = _plan(trials, out), SweepPaths(out)
    tracker = Tracker(tracking_uri(paths), plan.sweep.name, paths.artifacts)
    parent = tracker.find_or_create("sweep:bench", "sweep bench", {})
    recorder = start_writer(tracker, parent, plan.trials)  # as `ltsweep run` does
    t0 = time.perf_counter()
    connect_ray(2)
    ray_start = time.perf_counter() - t0
    started, cpu, writer = time.perf_counter(), _cpu(), _cpu(resource.RUSAGE_CHILDREN)
    outcomes = run_trials(plan, paths, tracker, parent, null_trainable, recorder=recorder)
    wall, cpu = time.perf_counter() - started, _cpu() - cpu
    writer = _cpu(resource.RUSAGE_CHILDREN) - writer  # the writer, reaped by run_trials
    finished = sum(o.finished for o in outcomes)
    statuses = tracker.statuses()
    recorded = sum(statuses.get(t.key) == "FINISHED" for t in plan.trials)
    if finished != len(plan.trials) or recorded != len(plan.trials):
        raise RuntimeError(
            f"driver benchmark: {finished} trials finished and {recorded} recorded FINISHED "
            f"in MLflow, of {len(plan.trials)}"
        )
    result = {"trials": len(plan.trials), "wall": wall, "cpu": cpu, "writer_cpu": writer}
    return {**result, "ray_start": ray_start}


def _measure_process(flag: str, trials: int, work: Path, log: Path) -> dict[str, Any]:
    result = work / "result.json"
    result.unlink(missing_ok=True)  # never read a previous run's figures
    with procs.fresh(work / flag.strip("-")) as out:
        args = ["-m", "bench.bench_driver", flag, str(trials), str(out), str(result)]
        procs.run_python(args, log, timeout=3600)
    return json.loads(result.read_text())


# -- rows ---------------------------------------------------------------------------------------
def measure(trials: int, pairs: int, work: Path, log: Path) -> tuple[dict[str, Any], float]:
    loops: list[dict] = []
    tunes: list[dict] = []

    def run_into(runs: list[dict], flag: str) -> float:
        runs.append(_measure_process(flag, trials, work, log))
        return runs[-1]["wall"]

    interleave(
        lambda: run_into(loops, "--loop"), lambda: run_into(tunes, "--tune"), pairs, 0, print
    )
    n = loops[0]["trials"]
    loop_ms = [1000 * b["wall"] / n for b in loops]
    over_ms = [1000 * (c["wall"] - b["wall"]) / n for b, c in zip(loops, tunes)]

    def median(key: str, scale: float = 1000 / n) -> float:
        return statistics.median(scale * c.get(key, 0.0) for c in tunes)

    notes = (
        f"{n} trials ({seeds_for(trials)} seeds x (2 generation + {4 * LEVELS} transfer)), "
        f"{pairs} pair(s); per trial: driver wall overhead = (Tune run - plain loop) / N, "
        f"driver process CPU {median('cpu'):.1f} ms + its MLflow writer process "
        f"{median('writer_cpu'):.1f} ms; Ray start-up {median('ray_start', 1.0):.1f} s excluded; "
        f"private local Ray, 2 CPUs, SQLite; load average {os.getloadavg()[0]:.1f} after"
    )
    loop = "plain loop, ms per trial"
    driver = "ltsweep driver (Tune + gate + MLflow), ms per trial beyond the loop"
    ratios = [(o + lp) / lp for o, lp in zip(over_ms, loop_ms)]
    args = ("driver overhead per trial", "ms", loop, loop_ms, driver, over_ms, "candidate <= 50")
    return make_row(f"driver: {n} trials", *args, notes, ratios), statistics.median(over_ms)


def growth_row(per_trial: dict[int, float]) -> dict[str, Any] | None:
    """The largest size's per-trial overhead against 500 trials' (or the smallest size's)."""
    if len(per_trial) < 2:
        return None
    largest = max(per_trial)
    base = 500 if 500 in per_trial and largest != 500 else min(per_trial)
    name, metric = f"driver: growth {base} -> {largest} trials", "per-trial overhead ratio"
    figures = f"{base} trials", [per_trial[base]], f"{largest} trials", [per_trial[largest]]
    notes = "per-trial overhead flat = no worse than linear; one run per size"
    return make_row(name, metric, "ms", *figures, "<= 1.5", notes)


def fake_done(sweep: str, out: Path, every: int = 2) -> tuple[int, int]:
    """Done records (a 160-epoch history each) for every ``every``-th trial of ``sweep``, so that
    ``ltsweep status`` has a half-finished grid to count; (written, trials)."""
    from ltsweep.sweep.files import resolve_sweep_file

    plan = procs.load_plan(resolve_sweep_file(sweep))
    paths, record = SweepPaths(out), {"history": _history(0.9) * 160}
    for trial in plan.trials[::every]:
        write_done(paths, trial.key, record)
    return len(plan.trials[::every]), len(plan.trials)


def cli_rows(repeats: int, work: Path, log: Path) -> list[dict[str, Any]]:
    """``ltsweep plan grid_full`` and ``ltsweep status grid_full`` (half done) wall seconds,
    each against the floor every command pays: a Python that imports ltsweep's planner."""
    done, total = fake_done("grid_full", work / "grid_full")
    floor = ["-c", "import ltsweep.sweep.context, ltsweep.core.models.resnet"]
    rows = []
    for command, args in (("plan", []), ("status", ["--out", str(work / "grid_full")])):
        argv = [command, "grid_full", *args]
        base, cand = interleave(
            lambda: procs.run_python(floor, log), lambda a=argv: procs.run_cli(a, log), repeats
        )
        notes = f"{done} of {total} trials done; " if command == "status" else ""
        notes += f"{repeats} pair(s), fresh processes; load {os.getloadavg()[0]:.1f} after"
        name, metric = f"driver: ltsweep {command} grid_full", "command wall time"
        importing, cli = "python importing the planner", f"ltsweep {command} grid_full"
        rows.append(make_row(name, metric, "s", importing, base, cli, cand, "candidate < 5", notes))
    return rows


def run(repeats: int = 3, quick: bool = False) -> list[dict[str, Any]]:
    chosen = os.environ.get(SIZES_ENV)
    sizes = [int(s) for s in chosen.split(",") if s.strip()] if chosen else None
    rows, per_trial = [], {}
    with tempfile.TemporaryDirectory(prefix="ltsweep-bench-driver-") as tmp:
        work, log = Path(tmp), Path(tmp) / "log.txt"
        if not chosen:
            rows += cli_rows(1 if quick else repeats, work, log)
        for trials in sizes or (QUICK_SIZES if quick else SIZES):
            print(f"  {trials} trials")
            pairs = 1 if trials >= 500 or quick else repeats
            row, per_trial[trials] = measure(trials, pairs, work, log)
            rows.append(row)
    growth = growth_row(per_trial)
    return rows + ([growth] if growth else [])


def main(argv: list[str] | None = None) -> int:
    def process(fn):  # fn's figures, as JSON, to RESULT
        def run(n: str, out: str, result: str) -> None:
            Path(result).write_text(json.dumps(fn(int(n), Path(out))))

        run.__doc__ = fn.__doc__
        return run

    modes = {"tune": process(tune_process), "loop": process(loop_process)}
    return procs.subcommand("bench.bench_driver", argv, ("N", "OUT", "RESULT"), modes)


if __name__ == "__main__":
    sys.exit(main())
