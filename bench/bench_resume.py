"""Resume: the epochs redone after a SIGKILL mid-sweep (saved epochs retrained, seen as other
metrics in the final record, + 1 for the epoch in progress: an upper bound), and rerunning a
finished sweep vs ``ltsweep plan`` of it. Kill points: bench/README.md, "resume".
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import procs
from bench.common import REPO_ROOT, interleave, make_row
from ltsweep.storage.done import read_done
from ltsweep.storage.paths import SweepPaths
from ltsweep.trial_layout import CHECKPOINT_FILE as CHECKPOINT
from ltsweep.trial_layout import DONE_FILE as DONE
from ltsweep.trial_layout import RESULT_FILE as RESULT

SWEEP = REPO_ROOT / "bench" / "sweeps" / "bench_small.yaml"
Epochs = dict[tuple[int, int], dict[str, float]]  # (level, epoch) -> metrics; level -1: transfer


def _epochs(histories: list[tuple[int, list[dict[str, float]]]]) -> Epochs:
    return {(level, int(m["epoch"])): dict(m) for level, history in histories for m in history}


def saved_epochs(tdir: Path) -> Epochs:
    """Every epoch whose result is on disk: finished levels' results, checkpoints' histories."""
    import torch

    def history(path: Path) -> list[dict[str, float]]:
        if path.name == RESULT:
            return json.loads(path.read_text())["history"]
        return torch.load(path, map_location="cpu", weights_only=True)["history"]

    found = []
    for ldir in sorted(tdir.glob("level_*")):
        path = ldir / RESULT if (ldir / RESULT).exists() else ldir / CHECKPOINT
        if path.exists():
            found.append((int(ldir.name.split("_")[1]), history(path)))
    if (tdir / CHECKPOINT).exists():
        found.append((-1, history(tdir / CHECKPOINT)))
    return _epochs(found)


def final_epochs(out: Path, key: str) -> Epochs:
    if (record := read_done(SweepPaths(out), key)) is None:
        raise RuntimeError(f"{key}: no done record after the rerun")
    levels = [(int(lv["level"]), lv["history"]) for lv in record.get("levels", [])]
    return _epochs([*levels, (-1, record.get("history", []))])


def last_write(tdir: Path) -> float:
    return max([tdir.stat().st_mtime] + [p.stat().st_mtime for p in tdir.rglob("*")])


def unfinished(out: Path) -> tuple[int, list[Path]]:
    """(trials done, directories of the trials begun but not done) under ``out``."""
    dirs = [p for p in (out / "trials").glob("*") if p.is_dir()]
    return sum((d / DONE).exists() for d in dirs), [d for d in dirs if not (d / DONE).exists()]


def kill_and_resume(sweep: Path, out: Path, log: Path, done_before_kill: int) -> dict[str, Any]:
    """One kill experiment in ``out``; per-trial figures of what the rerun redid."""
    proc, marker = procs.start([str(procs.LTSWEEP), "run", str(sweep), "--out", str(out)], log)
    deadline = time.time() + 900
    try:
        while True:
            if proc.poll() is not None:
                why = f"the sweep ended (exit {proc.returncode}) before the kill point"
                raise RuntimeError(f"{why}: {procs.tail(log)}")
            if time.time() > deadline:
                raise TimeoutError("no kill point reached in time")
            done, begun = unfinished(out)
            progress = (CHECKPOINT, f"level_*/{RESULT}", f"level_*/{CHECKPOINT}")
            if done >= done_before_kill and any(any(d.glob(p)) for d in begun for p in progress):
                break
            time.sleep(0.1)
        killed_at = time.time()
        stragglers = procs.hard_kill(proc, marker)
    finally:
        if proc.poll() is None:
            procs.hard_kill(proc, marker)
    done_at_kill, begun = unfinished(out)
    in_flight = {d.name: (saved_epochs(d), last_write(d)) for d in begun}
    rerun_seconds = procs.run_cli(["run", str(sweep), "--out", str(out)], log)
    retrained, saved_counts, since_save = [], [], []
    for key, (saved, wrote) in in_flight.items():
        final = final_epochs(out, key)
        retrained.append(sum(1 for k, m in saved.items() if final.get(k) != m))
        saved_counts.append(len(saved))
        since_save.append(max(0.0, killed_at - wrote))
    # The epoch in progress at the kill restarts from its beginning: count it as one whole
    # epoch redone (an upper bound) for resume and for a restart from scratch alike.
    return {
        "in_flight": len(in_flight),
        "done_at_kill": done_at_kill,
        "redone": [r + 1 for r in retrained],
        "scratch": [n + 1 for n in saved_counts],
        "retrained": sum(retrained),
        "saved": sum(saved_counts),
        "since_save": since_save,
        "rerun_seconds": rerun_seconds,
        "stragglers": stragglers,
    }


def run(repeats: int = 5, quick: bool = False) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="ltsweep-bench-resume-") as tmp:
        work = Path(tmp)
        log, rerun_log = work / "log.txt", work / "rerun.txt"
        sweep = procs.quick_variant(SWEEP, work) if quick else SWEEP
        n_all = len(procs.load_plan(sweep).trials)
        # Kill points: once the first trial is done, then once half of all trials are.
        kills = []
        for i, point in enumerate([1, max(2, n_all // 2)][: 1 if quick else 2]):
            kills.append(k := kill_and_resume(sweep, work / f"kill{i}", log, point))
            print(f"  kill {i + 1}: {k['in_flight']} in flight, redone {k['redone']}")
        pairs = 2 if quick else repeats
        finished = ["run", str(sweep), "--out", str(work / "kill0")]  # by the first rerun
        plan, rerun = (
            (lambda: procs.run_cli(["plan", str(sweep)], log)),
            (lambda: procs.run_cli(finished, rerun_log)),
        )
        base, cand = interleave(plan, rerun, pairs, warmup=0, log=print)
        noop = rerun_log.read_text().count("nothing to do")
    label = f"{SWEEP.stem}{', cut to 1 level, 3 epochs' if quick else ''}"
    name, target = f"resume: rerun a finished sweep ({label})", "candidate < 15"
    floor, rerun = "ltsweep plan (CLI floor)", "ltsweep run, all trials done"
    notes = (
        f"{noop}/{pairs} reruns printed 'nothing to do'; {pairs} interleaved pairs after a full "
        f"run; load average {os.getloadavg()[0]:.1f}"
    )
    rows = [make_row(name, "wall time", "s", floor, base, rerun, cand, target, notes)]
    notes = "; ".join(
        f"kill {i + 1}: {k['done_at_kill']}/{n_all} trials done, {k['in_flight']} in flight "
        f"with {k['saved']} saved epochs, {k['retrained']} of them retrained; time since each "
        f"one's last save {', '.join(f'{x:.1f}' for x in k['since_save'])} s; "
        f"{k['stragglers']} processes outside the group ended; rerun to the end "
        f"{k['rerun_seconds']:.0f} s"
        for i, k in enumerate(kills)
    )
    notes += "; redone = saved epochs retrained + 1 for the epoch in progress"
    name = f"resume: work redone after SIGKILL mid-sweep ({label})"
    scratch = [statistics.mean(k["scratch"]) for k in kills]
    redone = [statistics.mean(k["redone"]) for k in kills]
    labels = "restart in-flight trials from scratch", "ltsweep run again (resume from checkpoints)"
    metric, target = "epochs redone per in-flight trial", "candidate <= 1"
    row = make_row(name, metric, "epochs", labels[0], scratch, labels[1], redone, target, notes)
    return [*rows, row]
