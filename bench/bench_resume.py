"""Resume: the work redone after a SIGKILL mid-sweep, and rerunning a finished sweep.

Kill: ``ltsweep run`` of bench/sweeps/bench_small.yaml gets SIGKILL (its process group, then
every process of that run) once trials are done and another has saved progress; what each
unfinished trial had saved is read at the kill, the sweep is run again to the end, and a saved
epoch retrained shows up with other metrics in the final record. Redone = saved epochs retrained
+ 1 for the epoch in progress (an upper bound); target <= 1. Rerun: the finished sweep run again
vs ``ltsweep plan`` of it; target < 15 s (bench/README.md, "resume").
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import procs
from bench.common import REPO_ROOT, interleave, make_row
from ltsweep.trial_layout import CHECKPOINT_FILE as CHECKPOINT
from ltsweep.trial_layout import DONE_FILE as DONE
from ltsweep.trial_layout import RESULT_FILE as RESULT

NAME = "resume"
SWEEP = REPO_ROOT / "bench" / "sweeps" / "bench_small.yaml"


# -- what a trial directory holds -----------------------------------------------------------------
def saved_epochs(tdir: Path) -> dict[tuple[int, int], dict[str, float]]:
    """(level, epoch) -> metrics of every epoch whose result is on disk; level -1 for transfers."""
    import json

    import torch

    out: dict[tuple[int, int], dict[str, float]] = {}

    def add(level: int, history: list[dict[str, float]]) -> None:
        for m in history:
            out[(level, int(m["epoch"]))] = dict(m)

    for ldir in sorted(tdir.glob("level_*")):
        level = int(ldir.name.split("_")[1])
        if (ldir / RESULT).exists():
            add(level, json.loads((ldir / RESULT).read_text())["history"])
        elif (ldir / CHECKPOINT).exists():
            payload = torch.load(ldir / CHECKPOINT, map_location="cpu", weights_only=True)
            add(level, payload["history"])
    if (tdir / CHECKPOINT).exists():
        payload = torch.load(tdir / CHECKPOINT, map_location="cpu", weights_only=True)
        add(-1, payload["history"])
    return out


def final_epochs(tdir: Path) -> dict[tuple[int, int], dict[str, float]]:
    import json

    record = json.loads((tdir / DONE).read_text())
    out: dict[tuple[int, int], dict[str, float]] = {}
    for lv in record.get("levels", []):
        for m in lv["history"]:
            out[(int(lv["level"]), int(m["epoch"]))] = dict(m)
    for m in record.get("history", []):
        out[(-1, int(m["epoch"]))] = dict(m)
    return out


def last_write(tdir: Path) -> float:
    return max([tdir.stat().st_mtime] + [p.stat().st_mtime for p in tdir.rglob("*")])


def _trial_dirs(out: Path) -> list[Path]:
    trials = out / "trials"
    return sorted(p for p in trials.iterdir() if p.is_dir()) if trials.is_dir() else []


def _has_progress(tdir: Path) -> bool:
    return (
        any(tdir.glob(f"level_*/{RESULT}"))
        or any(tdir.glob(f"level_*/{CHECKPOINT}"))
        or (tdir / CHECKPOINT).exists()
    )


# -- (b) kill mid-sweep -------------------------------------------------------------------------
def kill_and_resume(
    sweep: Path, out: Path, log: Path, done_before_kill: int, timeout: float = 900
) -> dict[str, Any]:
    """One kill experiment in ``out``; per-trial figures of what the rerun redid."""
    proc, marker = procs.start_cli(["run", str(sweep), "--out", str(out)], log)
    deadline = time.time() + timeout
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the sweep ended (exit {proc.returncode}) before the kill "
                    f"point: {procs.tail(log)}"
                )
            if time.time() > deadline:
                raise TimeoutError("no kill point reached in time")
            dirs = _trial_dirs(out)
            done = sum((d / DONE).exists() for d in dirs)
            busy = [d for d in dirs if not (d / DONE).exists() and _has_progress(d)]
            if done >= done_before_kill and busy:
                break
            time.sleep(0.1)
        killed_at = time.time()
        stragglers = procs.hard_kill(proc, marker)
    finally:
        if proc.poll() is None:
            procs.hard_kill(proc, marker)
    in_flight = {
        d.name: (saved_epochs(d), last_write(d))
        for d in _trial_dirs(out)
        if not (d / DONE).exists()
    }
    done_at_kill = sum((d / DONE).exists() for d in _trial_dirs(out))
    rerun_seconds = procs.run_cli(["run", str(sweep), "--out", str(out)], log)
    retrained, saved_counts, since_save = [], [], []
    for key, (saved, wrote) in in_flight.items():
        final = final_epochs(out / "trials" / key)
        retrained.append(sum(1 for k, m in saved.items() if final.get(k) != m))
        saved_counts.append(len(saved))
        since_save.append(max(0.0, killed_at - wrote))
    # The epoch in progress at the kill restarts from its beginning: count it as one whole
    # epoch redone (an upper bound) for resume and for a restart from scratch alike.
    return {
        "in_flight": len(in_flight), "done_at_kill": done_at_kill,
        "redone": [r + 1 for r in retrained], "scratch": [n + 1 for n in saved_counts],
        "retrained": sum(retrained), "saved": sum(saved_counts), "since_save": since_save,
        "rerun_seconds": rerun_seconds, "stragglers": stragglers,
    }  # fmt: skip


def run(repeats: int = 5, quick: bool = False) -> list[dict[str, Any]]:
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan

    work = Path(tempfile.mkdtemp(prefix="ltsweep-bench-resume-"))
    log = work / "log.txt"
    sweep = procs.quick_variant(SWEEP, work) if quick else SWEEP
    plan = build_plan(load_sweep(sweep))
    n_all = len(plan.trials)
    # Kill points: once the first trial is done, then once half of all trials are.
    kill_points = [1, max(2, n_all // 2)][: 1 if quick else 2]
    rerun_pairs = 2 if quick else repeats
    label = f"{SWEEP.stem}{', cut to 1 level, 3 epochs' if quick else ''}"
    try:
        kills = []
        for i, point in enumerate(kill_points):
            out = work / f"kill{i}"
            kills.append(kill_and_resume(sweep, out, log, point))
            print(
                f"  kill {i + 1}: {kills[-1]['in_flight']} in flight, redone "
                f"{kills[-1]['redone']}, from scratch {kills[-1]['scratch']}"
            )
        finished = work / "kill0"  # finished by its rerun: (a) reruns it again
        rerun_log = work / "rerun.txt"
        base, cand = interleave(
            lambda: procs.run_cli(["plan", str(sweep)], log),
            lambda: procs.run_cli(["run", str(sweep), "--out", str(finished)], rerun_log),
            rerun_pairs,
            warmup=0,
            log=print,
        )
        noop = rerun_log.read_text().count("nothing to do")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rerun_row = make_row(
        f"{NAME}: rerun a finished sweep ({label})", "wall time", "s", "ltsweep plan (CLI floor)",
        base, "ltsweep run, all trials done", cand, "candidate < 15",
        f"{noop}/{rerun_pairs} reruns printed 'nothing to do'; {rerun_pairs} interleaved pairs "
        f"after a full run; load average {os.getloadavg()[0]:.1f}",
    )  # fmt: skip
    per_kill_redone = [statistics.mean(k["redone"]) for k in kills]
    per_kill_scratch = [statistics.mean(k["scratch"]) for k in kills]
    detail = "; ".join(
        f"kill {i + 1}: {k['done_at_kill']}/{n_all} trials done, {k['in_flight']} in flight "
        f"with {k['saved']} saved epochs, {k['retrained']} of them retrained; time since each "
        f"one's last save {', '.join(f'{x:.1f}' for x in k['since_save'])} s; "
        f"{k['stragglers']} processes outside the group ended; rerun to the end "
        f"{k['rerun_seconds']:.0f} s"
        for i, k in enumerate(kills)
    )
    kill_row = make_row(
        f"{NAME}: work redone after SIGKILL mid-sweep ({label})",
        "epochs redone per in-flight trial", "epochs", "restart in-flight trials from scratch",
        per_kill_scratch, "ltsweep run again (resume from checkpoints)", per_kill_redone,
        "candidate <= 1", f"{detail}; redone = saved epochs retrained + 1 for the epoch in progress",
    )  # fmt: skip
    return [rerun_row, kill_row]
