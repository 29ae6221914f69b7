"""``ltsweep run`` end to end with real Ray Tune (2 CPUs) and a real MLflow SQLite store:
records, rerun, SIGKILL + resume, the output lock, and failures."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ltsweep.storage.done import read_done
from ltsweep.storage.paths import SweepPaths
from tests.common.cli import REPO, ltsweep
from tests.common.sweep_checks import (
    assert_store_complete,
    final_accuracies,
    plan_keys,
    store_runs,
)

TINY = REPO / "tests" / "sweeps" / "tiny.yaml"
pytestmark = pytest.mark.slow
RUN = (sys.executable, "-m", "ltsweep", "run")
STEP_TIMEOUT = 900  # seconds for any one step: generous, a loaded 2-core machine is slow
RERUN = 1800  # a whole tiny sweep took ~7 min beside five other test suites on 2 cores
KEY_IN_CWD = re.compile(r"key=([gt]-[0-9a-f]+)")


@pytest.fixture(scope="module")
def finished(tiny_sweep):
    """The uninterrupted reference run (conftest.py: one per session, shared with S3's tests)."""
    return tiny_sweep


def test_run_records_every_trial_once(finished) -> None:
    from ltsweep.core.kernels import kernel_family

    out, result, _ = finished
    assert "[transfer] 6/6 done" in result.stdout
    assert_store_complete(out, TINY, "tiny")
    _, runs = store_runs(out, "tiny")
    kinds = {
        r.data.tags.get("ltsweep.kind")
        for r in runs
        if "result" in r.data.tags.get("ltsweep.role", "")
    }
    assert kinds == {"same", "dense", "transferred", "random"}
    gen = [r for r in runs if r.data.tags.get("ltsweep.role") == "trial"]
    assert len(gen) == 2
    eager = "eager: compile is off (sweep key compile: false)"  # how tiny.yaml's steps ran
    trials = [r for r in runs if "trial" in r.data.tags.get("ltsweep.role", "")]
    assert {r.data.tags.get("ltsweep.steps") for r in trials} == {eager}, "steps tag missing"
    paths = SweepPaths(out)
    assert {read_done(paths, key)["steps"] for key in plan_keys(TINY)} == {eager}
    here = kernel_family("cpu")  # which arithmetic the results came from, in record and tag
    assert {read_done(paths, key)["kernels"] for key in plan_keys(TINY)} == {here}
    assert {r.data.tags.get("ltsweep.kernels") for r in trials} == {here}, "kernels tag missing"
    assert all(f"ltsweep.ticket_sha256.level_0{lv}" in g.data.tags for g in gen for lv in range(3))
    from ltsweep.storage.plan_keys import read_plan_keys
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan
    from ltsweep.tracking.axes import from_tags

    plan = build_plan(load_sweep(TINY))
    assert read_plan_keys(SweepPaths(out)) == plan.keys(), "run did not record the plan's keys"
    by_key = {t.key: t for t in plan.trials}
    for r in runs:  # every trial's run reads back as the typed record the planner built
        key = r.data.tags.get("ltsweep.trial_key", "")
        if key in by_key:
            assert from_tags(r.data.tags) == by_key[key].axes, f"{key}: tags lost an axis"


def test_progress_counts_concurrent_trials_and_epochs(finished) -> None:
    _, result, _ = finished
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("[trials]")]
    running = {int(ln.split(" running")[0].rsplit("· ", 1)[1]) for ln in lines}
    assert max(running) <= 2, f"more trials shown running than 2 CPUs can hold: {lines}"
    # Whether two trials really overlapped depends on the machine's load (a second Ray actor
    # can take longer to start than the first takes to run every trial): the truth is in the
    # done records' start and end times. Where two trials ran together for a few seconds, a
    # line must have said "2 running". (Without such an overlap Tune may still count a trial
    # whose actor is starting as running, so only the upper bound above holds.)
    out = finished[0]
    spans = sorted(
        (r["started_at"], r["ended_at"])
        for r in (json.loads(p.read_text()) for p in out.glob("trials/*/done.json"))
    )
    assert len(spans) == 8, f"expected 8 done records with start/end times, found {len(spans)}"
    overlap = max(
        (min(a[1], b[1]) - max(a[0], b[0]) for i, a in enumerate(spans) for b in spans[i + 1 :]),
        default=0.0,
    )
    if overlap >= 2.0:
        assert 2 in running, (
            f"two trials ran together for {overlap:.1f} s but no line said 2 running: {lines}"
        )
    assert "8/8 done" in lines[-1] and "epochs 24/24" in lines[-1], lines[-1]


def test_rerun_does_no_training_and_status_reports_done(finished) -> None:
    out, _, _ = finished
    mtimes = {p: p.stat().st_mtime for p in out.glob("trials/*/done.json")}
    again = ltsweep("run", str(TINY), "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout
    assert {p: p.stat().st_mtime for p in out.glob("trials/*/done.json")} == mtimes
    status = ltsweep("status", str(TINY), "--out", str(out), "--json")
    assert json.loads(status.stdout) == {
        "generate": {"done": 2, "running": 0, "failed": 0, "left": 0},
        "transfer": {"done": 6, "running": 0, "failed": 0, "left": 0},
    }


def test_ctrl_c_then_sigkill_then_resume_matches_uninterrupted(finished, tmp_path: Path) -> None:
    """One sweep interrupted twice, then finished: Ctrl-C once a generation trial is done (a
    clean stop, exit 130), the same command again SIGKILLed (the driver and its Ray) once one
    more trial is done, then the same command to the end: its results equal an uninterrupted
    run's. (One sweep takes both interruptions: each rerun to the end costs a sweep.)"""
    reference_out, _, _ = finished
    out = tmp_path / "out"
    stopped = Sweep(TINY, out, tmp_path / "ctrl-c.log")
    try:
        stopped.wait_for(
            "a generation trial finishes before Ctrl-C",
            lambda: list(out.glob("trials/g-*/done.json")),
        )
        stopped.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        code = stopped.finish("the sweep stops after Ctrl-C")
    finally:
        stopped.kill_all()
    output = stopped.output()
    assert code == 130, f"Ctrl-C: want exit 130, got {code}: {output}"
    assert "run the same command again" in output and "Traceback" not in output, output
    _, runs = store_runs(out, "tiny")
    assert runs, f"the interrupted driver had recorded nothing in MLflow: {output}"
    assert not [r for r in runs if r.info.status == "RUNNING"], "Ctrl-C left a run RUNNING"

    done_at_ctrl_c = len(list(out.glob("trials/*/done.json")))
    killed = Sweep(TINY, out, tmp_path / "sigkill.log")
    try:
        killed.wait_for(
            "one more trial finishes before the SIGKILL",
            lambda: len(list(out.glob("trials/*/done.json"))) > done_at_ctrl_c,
        )
    finally:
        killed.kill_all()  # the driver and its Ray processes, mid-sweep
    rerun = ltsweep("run", str(TINY), "--out", str(out), "--num-cpus", "2", timeout=RERUN)
    assert rerun.returncode == 0, f"the resumed run failed: {rerun.stdout}{rerun.stderr}"
    assert_store_complete(out, TINY, "tiny")
    assert final_accuracies(out) == final_accuracies(reference_out), (
        "results after Ctrl-C, SIGKILL and resume differ from an uninterrupted run"
    )


def test_live_lock_refuses_dead_lock_is_taken_over(finished) -> None:
    out, _, _ = finished
    holder = subprocess.Popen(["sleep", "3600"])  # alive until killed below, however slow the run
    try:
        (out / ".lock").write_text(
            json.dumps(
                {"pid": holder.pid, "host": os.uname().nodename, "since": "2026-11-25 12:00:00"}
            )
        )
        refused = ltsweep("run", str(TINY), "--out", str(out))
        assert refused.returncode == 2, f"a live lock did not refuse: {refused.stderr}"
        assert f"pid {holder.pid}" in refused.stderr and "since 2026-11-25" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    finally:
        holder.kill()
        holder.wait()
    taken = ltsweep("run", str(TINY), "--out", str(out))  # the holder is dead now
    assert taken.returncode == 0, f"a dead holder's lock was not taken over: {taken.stderr}"
    assert not (out / ".lock").exists(), "the lock outlived the run"


def test_diverging_trials_fail_and_the_sweep_goes_on(tmp_path: Path) -> None:
    cfg = yaml.safe_load(TINY.read_text())
    cfg["optimizers"]["adam"] = {"lr": 1.0e30}  # overflows to inf, then NaN
    cfg["retries"] = 0
    sweep = tmp_path / "diverge.yaml"
    sweep.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    result = ltsweep("run", str(sweep), "--out", str(out), "--num-cpus", "2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED g-" in result.stderr and "diverged" in result.stderr
    _, runs = store_runs(out, "diverge")
    failed = [
        r for r in runs if r.info.status == "FAILED" and r.data.tags.get("ltsweep.role") != "sweep"
    ]
    assert failed and all("diverged" in r.data.tags["ltsweep.error"] for r in failed)
    sgd_gen = [
        r
        for r in runs
        if r.data.tags.get("ltsweep.role") == "trial"
        and r.data.tags.get("ltsweep.source_optimizer") == "sgd"
    ]
    assert sgd_gen and sgd_gen[0].info.status == "FINISHED"
    assert not [r for r in runs if r.info.status == "RUNNING"]


class Sweep:
    """``ltsweep run`` in its own session, its output in a file (a pipe nobody reads while the
    test waits would fill up and stall the sweep), failing each step with what it printed."""

    def __init__(self, sweep: Path, out: Path, log: Path, env: dict | None = None) -> None:
        env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1", **(env or {})}
        env.pop("RAY_ADDRESS", None)
        env.pop("MLFLOW_TRACKING_URI", None)
        self.out, self.log = out, log
        with open(log, "w") as fh:
            self.proc = subprocess.Popen(
                [*RUN, str(sweep), "--out", str(out), "--num-cpus", "2"],
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def fail(self, step: str) -> None:
        rc = self.proc.poll()
        state = "still running" if rc is None else f"exited with code {rc}"
        pytest.fail(f"step '{step}' failed; the sweep {state}; its output:\n{self.output()}")

    def wait_for(self, step: str, condition, timeout: float = STEP_TIMEOUT):
        """Poll ``condition()`` until it returns something truthy; fail if the sweep exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = condition()
            if found:
                return found
            if self.proc.poll() is not None:
                found = condition()  # it may have happened just before the exit
                if found:
                    return found
                self.fail(f"{step} (the sweep ended before it happened)")
            time.sleep(0.05)
        self.fail(f"{step} (not within {timeout:.0f} s)")

    def finish(self, step: str, timeout: float = STEP_TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"{step} (not within {timeout:.0f} s)")
        return -1

    def kill_all(self) -> None:
        """SIGKILL the driver's process group, then wait until nothing of its session is left
        (Ray daemons that left the group are killed by pid), so nothing writes into ``out``."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        deadline = time.monotonic() + STEP_TIMEOUT
        while left := _session_processes(self.proc.pid, ""):
            if time.monotonic() > deadline:
                self.fail(f"the killed sweep's processes exit (left: {left})")
            _signal(left, signal.SIGKILL)
            time.sleep(0.2)


def _session_processes(sid: int, needle: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) != sid:
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ProcessLookupError):
            continue
        if needle in cmdline:
            pids.append(int(entry.name))
    return pids


def _training(pid: int) -> str | None:
    """The trial key a stopped Tune worker is training, or None when it is starting or idle.

    Ray titles a worker ``ray::ImplicitFunc.train`` only while it executes Tune's ``train`` call,
    which Tune issues once it has marked the trial RUNNING; its working directory names the trial.
    """
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode().strip()
        match = KEY_IN_CWD.search(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None
    return match.group(1) if match and "ImplicitFunc.train" in title else None


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def kill_worker_mid_trial(sweep: Sweep, prefix: str, checkpoint: str) -> str:
    """SIGKILL the worker of one ``prefix`` trial while it trains on from its own checkpoint.

    Deterministic under load: the trial workers run in short slices between SIGSTOPs, and each
    stop checks, on frozen processes, that a worker is inside Tune's ``train`` call for a trial
    whose ``checkpoint`` glob has a file and that has no done record. A worker killed while Tune
    is still handing it a trial (``reset``) instead makes Tune 2.60 count the one death twice and
    give up on that trial whatever the retries (the cause of this test's failures under load).
    """

    def frozen_target() -> str | None:
        workers = _session_processes(sweep.proc.pid, "ImplicitFunc")
        _signal(workers, signal.SIGSTOP)
        try:
            for pid in workers:
                key = _training(pid)
                tdir = sweep.out / "trials" / str(key)
                if (
                    key
                    and key.startswith(prefix)
                    and list(tdir.glob(checkpoint))
                    and not (tdir / "done.json").exists()
                ):
                    os.kill(pid, signal.SIGKILL)
                    return key
        finally:
            _signal(workers, signal.SIGCONT)
            time.sleep(0.05)  # the slice the workers run for
        return None

    return sweep.wait_for(f"kill a {prefix} trial's worker mid-trial", frozen_target)


def test_killed_trial_worker_is_retried_from_its_checkpoint(finished, tmp_path: Path) -> None:
    """SIGKILL the Ray worker of a generation trial, then of a transfer trial, each while it
    trains on from its checkpoint: Tune retries them, each resumes from its own checkpoint, and
    the results equal an uninterrupted run's."""
    reference_out, _, _ = finished
    cfg = yaml.safe_load(TINY.read_text())
    cfg["retries"] = 3
    sweep_file = tmp_path / "tiny.yaml"
    sweep_file.write_text(yaml.safe_dump(cfg))
    sweep = Sweep(sweep_file, tmp_path / "out", tmp_path / "sweep.log")
    try:
        killed = [
            kill_worker_mid_trial(sweep, "g-", "level_*/checkpoint.pt"),
            kill_worker_mid_trial(sweep, "t-", "checkpoint.pt"),
        ]
        code = sweep.finish("the sweep finishes after the kills")
    finally:
        sweep.kill_all()
    if code != 0:
        sweep.fail(f"the sweep exits 0 after killing the workers of {killed}")
    for key in killed:
        assert (sweep.out / "trials" / key / "done.json").exists(), f"{key}: {sweep.output()}"
    assert_store_complete(sweep.out, TINY, "tiny")
    assert final_accuracies(sweep.out) == final_accuracies(reference_out), (
        f"results differ from an uninterrupted run after killing {killed}"
    )
