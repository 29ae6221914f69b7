"""``ltsweep`` subprocesses for the sweep benchmarks: their environment, timing, and clean-up.

Every process a benchmark starts carries a marker in its environment (inherited by Ray's raylet,
GCS and workers), so that exactly those processes, and no one else's, are found in /proc and
ended, even when SIGKILL orphaned them: the machine is shared (bench/README.md, "Environment").
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import REPO_ROOT

if TYPE_CHECKING:
    from ltsweep.sweep.plan import Plan

MARKER = "LTSWEEP_BENCH_MARKER"
LTSWEEP = Path(sys.executable).with_name("ltsweep")
DROPPED = ("RAY_ADDRESS", "MLFLOW_TRACKING_URI")  # a private local Ray, SQLite in the run's out


def bench_env(marker: str) -> dict[str, str]:
    """Without ``DROPPED``; ``RAY_AUTH_MODE=disabled``: a throwaway local Ray needs no token."""
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    return {**env, "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1", MARKER: marker}


def marked_pids(marker: str) -> list[int]:
    """Live processes of this user whose environment carries ``marker``."""
    needle, found = f"{MARKER}={marker}".encode(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):  # gone, or another user's
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def kill_marked(marker: str, grace: float = 5.0) -> int:
    """SIGKILL every process carrying ``marker`` until none is left; returns how many."""
    killed: set[int] = set()
    deadline = time.time() + grace
    while (pids := marked_pids(marker)) and time.time() <= deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
        time.sleep(0.2)
    return len(killed)


def run_cli(args: list[str], log: Path, timeout: float = 1800) -> float:
    """Run ``ltsweep ARGS`` to completion; wall seconds. Raises with the log's tail on failure."""
    return run_python(args, log, timeout, str(LTSWEEP))


def run_python(
    args: list[str], log: Path, timeout: float = 1800, exe: str = sys.executable
) -> float:
    """Run ``python ARGS`` (or ``exe ARGS``) from the repo root to completion; wall seconds."""
    argv, started = [exe, *args], time.perf_counter()
    proc, marker = start(argv, log)
    try:
        code = proc.wait(timeout)
    finally:
        kill_marked(marker)  # Ray normally leaves nothing behind; make sure of it
    if code != 0:
        label = " ".join([Path(argv[0]).name, *argv[1:]])
        raise RuntimeError(f"`{label}` exited {code}: {tail(log)}")
    return time.perf_counter() - started


def start(argv: list[str], log: Path) -> tuple[subprocess.Popen, str]:
    """Start ``argv`` in its own session, its output appended to ``log``; (process, marker)."""
    marker = f"bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=bench_env(marker),
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc, marker


def run_sweep(sweep: Path, out: Path, log: Path, timeout: float = 1800) -> float:
    """Wall seconds of ``ltsweep run SWEEP --out OUT`` into a fresh ``out``, removed afterwards."""
    with fresh(out):
        return run_cli(["run", str(sweep), "--out", str(out)], log, timeout)


@contextlib.contextmanager
def fresh(path: Path) -> Iterator[Path]:
    """``path`` removed on entry (a killed run's leftovers) and on exit (disk, between runs)."""
    shutil.rmtree(path, ignore_errors=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def load_plan(sweep: Path) -> Plan:
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan

    return build_plan(load_sweep(sweep))


def subcommand(prog: str, argv: list[str] | None, metavar: tuple[str, ...], modes: dict) -> int:
    """``python -m PROG --MODE ARG...``: a benchmark's own processes, ``modes[MODE](*ARGS)``;
    every mode takes the same arguments, and its function's docstring is its help."""
    parser = argparse.ArgumentParser(prog=f"python -m {prog}")
    group = parser.add_mutually_exclusive_group(required=True)
    for mode, fn in modes.items():
        help_ = (fn.__doc__ or "").split(";")[0].strip()
        group.add_argument(f"--{mode}", nargs=len(metavar), metavar=metavar, help=help_)
    args = vars(parser.parse_args(argv))
    mode = next(m for m in modes if args[m])
    modes[mode](*args[mode])
    return 0


def hard_kill(proc: subprocess.Popen, marker: str) -> int:
    """SIGKILL the process group at once (as ``kill -9`` would), then every marked straggler."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return kill_marked(marker)


def quick_variant(sweep: Path, dest: Path) -> Path:
    """A copy of ``sweep`` cut down for ``--quick``: 1 seed, 1 IMP level, 3 epochs per training."""
    import yaml

    raw = yaml.safe_load(sweep.read_text())
    raw["seeds"], raw["imp"]["levels"] = raw["seeds"][:1], 1
    raw.get("transfer", {}).pop("levels", None)
    for data in raw["datasets"].values():
        data["schedule"] = {**data["schedule"], "epochs": 3, "milestones": [2]}
    path = dest / f"{sweep.stem}_quick.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def tail(log: Path, lines: int = 5) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " / ".join([ln for ln in text if "gcs_client.cc" not in ln][-lines:])[-800:]
