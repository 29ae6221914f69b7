"""The driver at grid scale: ltsweep's own cost per trial when training costs nothing.

Candidate: ``run_trials`` (Ray Tune scheduling, the ticket gate, the MLflow recorder callback and
its writer process, progress, done records) over N trials whose body (``null_trainable``) trains
nothing: a generation trial writes one tiny real ticket per level and its done record, a transfer
trial reports one epoch and writes its done record. It runs in a fresh process on a private local
Ray (2 CPUs, ``cpu: 1`` trials) and SQLite; Ray's start-up is excluded (timed apart).
Baseline: the same trial bodies, one after another in a plain loop in a fresh process: no Ray,
no MLflow. Driver overhead per trial = (candidate wall - baseline wall) / N; the CPU seconds
per trial of the driver process and of its MLflow writer process are reported too (less
sensitive to a shared machine).

Sizes: 100, 500, 1000 and 5000 trials by default (the grid is 11,352), one pair each (a 5,000
trial pair takes minutes); ``BENCH_DRIVER_SIZES=100,5000`` chooses them, ``--quick`` runs 42 and
126. A last row compares the largest size's per-trial overhead with the 500-trial one (or the
smallest): no worse than linear growth means a ratio near 1.

Also ``ltsweep plan grid_full`` and ``ltsweep status grid_full`` (half of its trials given done
records) in fresh processes, against a Python that only imports the planner (unless
``BENCH_DRIVER_SIZES`` is set: then only the sizes run).

``python -m bench.bench_driver --tune N OUT`` / ``--loop N OUT`` are the two processes; each
prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import procs
from bench.common import interleave, make_row

NAME = "driver"
SIZES = (100, 500, 1000, 5000)
QUICK_SIZES = (42, 126)
SIZES_ENV = "BENCH_DRIVER_SIZES"
LEVELS = 10  # per generation trial; per seed: 2 generation + 2 x 2 x LEVELS transfer trials
TARGET_MS = 50.0
GROWTH_TARGET = 1.5


def seeds_for(trials: int) -> int:
    """Seeds giving about ``trials`` trials: each seed adds 2 + 4 * LEVELS of them."""
    return max(1, round(trials / (2 + 4 * LEVELS)))


def sweep_yaml(trials: int) -> str:
    """A demo-shaped sweep (digits <-> shapes, SGD) scaled by its seeds to ~``trials`` trials."""
    seeds = list(range(seeds_for(trials)))
    data = {
        "image_size": 16,
        "batch_size": 64,
        "schedule": {"epochs": 1, "milestones": []},
        "workers": 0,
    }
    configs = [{"dataset": "digits", "optimizer": "sgd"}, {"dataset": "shapes", "optimizer": "sgd"}]
    raw = {
        "description": f"bench_driver: ~{trials} trials whose training costs nothing",
        "models": [{"name": "vgg_tiny"}],
        "datasets": {"digits": data, "shapes": data},
        "optimizers": {"sgd": {"lr": 0.05}},
        "sources": configs,
        "targets": configs,
        "imp": {"levels": LEVELS, "rate": 0.2, "rewind_epochs": 1},
        "transfer": {"kinds": ["transferred", "random"]},
        "seeds": seeds,
        "resources": {"generate": {"cpu": 1}, "transfer": {"cpu": 1}},
        "retries": 0,
    }
    return json.dumps(raw)  # JSON is YAML


# -- the trial body that trains nothing ---------------------------------------------------------
def _history(accuracy: float) -> list[dict[str, float]]:
    return [
        {
            "epoch": 0,
            "test_accuracy": accuracy,
            "test_loss": 1.0,
            "train_loss": 1.0,
            "train_accuracy": accuracy,
            "lr": 0.05,
        }
    ]


def null_execute(trial, paths) -> dict[str, Any]:
    """What ``execute`` leaves behind (tickets, done record), without training."""
    import torch

    from ltsweep.core.masks import Mask
    from ltsweep.core.tickets import TicketInfo, read_info, save_ticket
    from ltsweep.storage.done import read_done, write_done
    from ltsweep.sweep.trial import GENERATE
    from ltsweep.trial_layout import ticket_dir

    tdir = paths.trial_dir(trial.key)
    done = read_done(paths, trial.key)
    if done is not None:
        return done
    tdir.mkdir(parents=True, exist_ok=True)
    if trial.stage == GENERATE:
        levels = []
        for level in range(trial.job.imp.levels + 1):
            remaining = 0.8**level
            info = TicketInfo(
                trial.job.model.name,
                trial.trains_on.name,
                trial.trains_on.optimizer,
                level,
                trial.job.seed,
                10,
                1,
                remaining,
                {"w": remaining},
                source_key=trial.key,
            )
            where = ticket_dir(tdir, level)
            save_ticket(where, {"w": torch.zeros(8)}, Mask({"w": torch.ones(8)}), info)
            levels.append(
                {
                    "level": level,
                    "weights_remaining": remaining,
                    "history": _history(0.9),
                    "ticket_dir": str(where),
                }
            )
        record: dict[str, Any] = {"levels": levels}
    else:
        source = ticket_dir(paths.trial_dir(trial.source_key), trial.level)
        info = read_info(source)
        record = {
            "history": _history(0.8),
            "weights_remaining": info.weights_remaining,
            "ticket_sha256": info.sha256,
        }
    record.update(key=trial.key, seconds=0.0, device="cpu")
    write_done(paths, trial.key, record)
    return record


def null_trainable(config: dict[str, Any], trials: dict, out: str, uri: str | None = None) -> None:
    """``tune_trainable`` with ``null_execute``: one epoch report, then the final one."""
    from ray import tune

    from ltsweep.storage.paths import SweepPaths

    trial = trials[config["key"]]
    record = null_execute(trial, SweepPaths(Path(out)))
    history = record.get("history") or record["levels"][-1]["history"]
    tune.report({**history[-1], "step": 0, "final": 0})
    tune.report({"final": 1, "seconds": 0.0})


# -- the two processes --------------------------------------------------------------------------
def _plan(trials: int, out: Path):
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan

    out.mkdir(parents=True, exist_ok=True)
    sweep = out / f"bench_driver_{trials}.yaml"
    sweep.write_text(sweep_yaml(trials))
    return build_plan(load_sweep(sweep))


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def loop_process(trials: int, out: Path) -> dict[str, Any]:
    from ltsweep.storage.paths import SweepPaths

    plan = _plan(trials, out)
    paths = SweepPaths(out)
    started, cpu = time.perf_counter(), _cpu()
    for trial in plan.trials:  # generation trials come first
        null_execute(trial, paths)
    return {
        "trials": len(plan.trials),
        "wall": time.perf_counter() - started,
        "cpu": _cpu() - cpu,
    }


def tune_process(trials: int, out: Path) -> dict[str, Any]:
    from ltsweep.storage.paths import SweepPaths
    from ltsweep.sweep.files import tracking_uri
    from ltsweep.tracking.client import Tracker
    from ltsweep.tracking.writer import start_writer
    from ltsweep.tune.driver import connect_ray, run_trials

    plan = _plan(trials, out)
    paths = SweepPaths(out)
    tracker = Tracker(tracking_uri(paths), plan.sweep.name, paths.artifacts)
    parent = tracker.find_or_create("sweep:bench", "sweep bench", {})
    recorder = start_writer(tracker, parent, plan.trials)  # as `ltsweep run` does
    t0 = time.perf_counter()
    connect_ray(2)
    ray_start = time.perf_counter() - t0
    started, cpu, writer = time.perf_counter(), _cpu(), _cpu(resource.RUSAGE_CHILDREN)
    outcomes = run_trials(
        plan, paths, tracker, parent, trainable_fn=null_trainable, recorder=recorder
    )
    wall, cpu = time.perf_counter() - started, _cpu() - cpu
    writer = _cpu(resource.RUSAGE_CHILDREN) - writer  # the writer, reaped by run_trials
    finished = sum(o.finished for o in outcomes)
    statuses = tracker.statuses()
    recorded = sum(1 for t in plan.trials if statuses.get(t.key) == "FINISHED")
    if finished != len(plan.trials) or recorded != len(plan.trials):
        raise RuntimeError(
            f"driver benchmark: {finished} trials finished and {recorded} recorded FINISHED "
            f"in MLflow, of {len(plan.trials)}"
        )
    return {
        "trials": len(plan.trials),
        "wall": wall,
        "cpu": cpu,
        "writer_cpu": writer,
        "ray_start": ray_start,
    }


def _measure_process(flag: str, trials: int, work: Path, log: Path) -> dict[str, Any]:
    out = work / flag.strip("-")
    shutil.rmtree(out, ignore_errors=True)
    result = work / "result.json"
    result.unlink(missing_ok=True)
    procs.run_python(
        ["-m", "bench.bench_driver", flag, str(trials), str(out), "--result", str(result)],
        log,
        timeout=3600,
    )
    shutil.rmtree(out, ignore_errors=True)
    return json.loads(result.read_text())


# -- rows ---------------------------------------------------------------------------------------
def sizes(quick: bool) -> list[int]:
    chosen = os.environ.get(SIZES_ENV)
    if chosen:
        return [int(s) for s in chosen.split(",") if s.strip()]
    return list(QUICK_SIZES if quick else SIZES)


def measure(trials: int, pairs: int, work: Path, log: Path) -> tuple[dict[str, Any], float]:
    runs: list[tuple[dict, dict]] = []

    def baseline() -> float:
        runs.append((_measure_process("--loop", trials, work, log), {}))
        return runs[-1][0]["wall"]

    def candidate() -> float:
        runs[-1] = (runs[-1][0], _measure_process("--tune", trials, work, log))
        return runs[-1][1]["wall"]

    interleave(baseline, candidate, pairs, warmup=0, log=print)
    n = runs[0][0]["trials"]
    loop_ms = [1000 * b["wall"] / n for b, _ in runs]
    over_ms = [1000 * (c["wall"] - b["wall"]) / n for b, c in runs]
    cpu_ms = sorted(1000 * c["cpu"] / n for _, c in runs)
    writer_ms = sorted(1000 * c.get("writer_cpu", 0.0) / n for _, c in runs)
    ray_s = sorted(c["ray_start"] for _, c in runs)
    load = os.getloadavg()[0]
    notes = (
        f"{n} trials ({seeds_for(trials)} seeds x (2 generation + {4 * LEVELS} transfer)), "
        f"{pairs} pair(s); per trial: driver wall overhead = (Tune run - plain loop) / N, "
        f"driver process CPU {cpu_ms[len(cpu_ms) // 2]:.1f} ms + its MLflow writer process "
        f"{writer_ms[len(writer_ms) // 2]:.1f} ms; Ray start-up "
        f"{ray_s[len(ray_s) // 2]:.1f} s excluded; private local Ray, 2 CPUs, SQLite; load "
        f"average {load:.1f} after (shared machine)"
    )
    row = make_row(
        f"{NAME}: {n} trials",
        "driver overhead per trial",
        "ms",
        "plain loop, ms per trial",
        loop_ms,
        "ltsweep driver (Tune + gate + MLflow), ms per trial beyond the loop",
        over_ms,
        f"candidate <= {TARGET_MS:g}",
        notes,
        ratios=[(o + lp) / lp for o, lp in zip(over_ms, loop_ms)],
    )
    return row, sorted(over_ms)[len(over_ms) // 2]


def growth_row(per_trial: dict[int, float]) -> dict[str, Any] | None:
    """The largest size's per-trial overhead against 500 trials' (or the smallest size's)."""
    if len(per_trial) < 2:
        return None
    largest = max(per_trial)
    base = 500 if 500 in per_trial and largest != 500 else min(per_trial)
    return make_row(
        f"{NAME}: growth {base} -> {largest} trials",
        "per-trial overhead ratio",
        "ms",
        f"{base} trials",
        [per_trial[base]],
        f"{largest} trials",
        [per_trial[largest]],
        f"<= {GROWTH_TARGET:g}",
        "no worse than linear growth: per-trial overhead stays flat; one run per size",
    )


def fake_done(sweep: str, out: Path, every: int = 2) -> int:
    """Done records (a 160-epoch history each) for every ``every``-th trial of ``sweep``, so that
    ``ltsweep status`` has a half-finished grid to count; returns how many."""
    from ltsweep.storage.paths import SweepPaths
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.files import resolve_sweep_file
    from ltsweep.sweep.plan import build_plan

    plan = build_plan(load_sweep(resolve_sweep_file(sweep)))
    paths, written = SweepPaths(out), 0
    record = json.dumps({"history": _history(0.9) * 160})
    for trial in plan.trials[::every]:
        tdir = paths.trial_dir(trial.key)
        tdir.mkdir(parents=True, exist_ok=True)
        (tdir / "done.json").write_text(record)
        written += 1
    return written


def cli_rows(repeats: int, work: Path, log: Path) -> list[dict[str, Any]]:
    """``ltsweep plan grid_full`` and ``ltsweep status grid_full`` (half done) wall seconds,
    each against the floor every command pays: a Python that imports ltsweep's planner."""
    out = work / "grid_full"
    done = fake_done("grid_full", out)
    floor = ["-c", "import ltsweep.sweep.context, ltsweep.core.models.resnet"]
    rows = []
    for name, args in (
        ("plan", ["plan", "grid_full"]),
        ("status", ["status", "grid_full", "--out", str(out)]),
    ):
        base, cand = interleave(
            lambda: procs.run_python(floor, log),
            lambda a=args: procs.run_cli(a, log),
            repeats,
            log=print,
        )
        rows.append(
            make_row(
                f"{NAME}: ltsweep {name} grid_full",
                "command wall time",
                "s",
                "python importing the planner",
                base,
                f"ltsweep {name} grid_full (11,352 trials)",
                cand,
                "candidate < 5",
                (f"{done} of 11,352 trials done; " if name == "status" else "")
                + f"{repeats} interleaved pair(s), fresh processes; load average "
                f"{os.getloadavg()[0]:.1f} after (shared machine)",
            )
        )
    shutil.rmtree(out, ignore_errors=True)
    return rows


def run(repeats: int = 3, quick: bool = False) -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="ltsweep-bench-driver-"))
    log = work / "log.txt"
    rows, per_trial = [], {}
    try:
        if not os.environ.get(SIZES_ENV):
            rows += cli_rows(1 if quick else repeats, work, log)
        for trials in sizes(quick):
            print(f"  {trials} trials")
            row, overhead = measure(trials, 1 if trials >= 500 or quick else repeats, work, log)
            rows.append(row)
            per_trial[trials] = overhead
        growth = growth_row(per_trial)
        return rows + ([growth] if growth else [])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_driver")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--tune", nargs=2, metavar=("N", "OUT"), help="the candidate process")
    group.add_argument("--loop", nargs=2, metavar=("N", "OUT"), help="the baseline process")
    parser.add_argument("--result", type=Path, required=True, help="where the JSON goes")
    args = parser.parse_args(argv)
    fn, (n, out) = (tune_process, args.tune) if args.tune else (loop_process, args.loop)
    result = fn(int(n), Path(out))
    args.result.write_text(json.dumps(result))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
