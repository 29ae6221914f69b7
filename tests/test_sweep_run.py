"""``ltsweep run`` end to end with real Ray Tune (2 CPUs) and a real MLflow SQLite store:
records, rerun, SIGKILL + resume, the output lock, and failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.cli_helpers import REPO, ltsweep

TINY = REPO / "tests" / "sweeps" / "tiny.yaml"
pytestmark = pytest.mark.slow


def store_runs(out: Path, sweep: str):
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    exp = client.get_experiment_by_name(f"ltsweep/{sweep}")
    return client, client.search_runs([exp.experiment_id], max_results=5000)


def plan_keys(sweep_file: Path) -> list[str]:
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan

    plan = build_plan(load_sweep(sweep_file))
    return [t.key for t in plan.trials]


def final_accuracies(out: Path) -> dict[str, list[float]]:
    result = {}
    for done in sorted((out / "trials").glob("*/done.json")):
        record = json.loads(done.read_text())
        histories = (
            [lv["history"] for lv in record["levels"]]
            if "levels" in record
            else [record["history"]]
        )
        result[done.parent.name] = [h[-1]["test_accuracy"] for h in histories]
    return result


def assert_store_complete(out: Path, sweep_file: Path, sweep: str) -> None:
    client, runs = store_runs(out, sweep)
    by_key: dict[str, list] = {}
    for r in runs:
        by_key.setdefault(r.data.tags.get("ltsweep.trial_key"), []).append(r)
    assert all(len(v) == 1 for v in by_key.values()), "a trial key has two runs"
    assert not [r for r in runs if r.info.status == "RUNNING"], "a run was left RUNNING"
    for key in plan_keys(sweep_file):
        assert by_key[key][0].info.status == "FINISHED", key
    results = [r for r in runs if "result" in r.data.tags.get("ltsweep.role", "")]
    axes = (
        "stage",
        "kind",
        "model",
        "source_dataset",
        "source_optimizer",
        "target_dataset",
        "target_optimizer",
        "level",
        "weights_remaining",
        "seed",
        "trial_key",
    )
    for r in results:
        assert all(f"ltsweep.{a}" in r.data.tags for a in axes), r.data.tags
        history = client.get_metric_history(r.info.run_id, "test_accuracy")
        assert len({m.step for m in history}) == len(history) > 0  # one point per epoch
        last = max(history, key=lambda m: m.step)  # MLflow returns points in no set order
        assert r.data.metrics["final_test_accuracy"] == last.value
        assert "train_loss" in r.data.metrics


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "out"
    started = time.time()
    result = ltsweep("run", str(TINY), "--out", str(out), "--num-cpus", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    return out, result, time.time() - started


def test_run_records_every_trial_once(finished) -> None:
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
    assert all(f"ltsweep.ticket_sha256.level_0{lv}" in g.data.tags for g in gen for lv in range(3))


def test_progress_counts_concurrent_trials_and_epochs(finished) -> None:
    _, result, _ = finished
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("[trials]")]
    running = {int(ln.split(" running")[0].rsplit("· ", 1)[1]) for ln in lines}
    assert 2 in running, f"two trials ran at once on 2 CPUs but no line said so: {lines}"
    assert max(running) <= 2, f"more trials shown running than 2 CPUs can hold: {lines}"
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


def test_sigkill_then_resume_matches_uninterrupted(finished, tmp_path: Path) -> None:
    reference_out, _, _ = finished
    out = tmp_path / "out"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ltsweep", "run", str(TINY), "--out", str(out), "--num-cpus", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 240
    while time.time() < deadline and not list(out.glob("trials/g-*/done.json")):
        time.sleep(0.5)
    assert list(out.glob("trials/g-*/done.json")), "no generation trial finished in time"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its Ray processes, mid-sweep
    proc.wait()
    time.sleep(2)
    _, runs = store_runs(out, "tiny")
    assert runs  # the killed driver had started recording
    rerun = ltsweep("run", str(TINY), "--out", str(out), "--num-cpus", "2")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_store_complete(out, TINY, "tiny")
    assert final_accuracies(out) == final_accuracies(reference_out)


def test_live_lock_refuses_dead_lock_is_taken_over(finished) -> None:
    out, _, _ = finished
    holder = subprocess.Popen(["sleep", "60"])
    try:
        (out / ".lock").write_text(
            json.dumps(
                {"pid": holder.pid, "host": os.uname().nodename, "since": "2026-11-25 12:00:00"}
            )
        )
        refused = ltsweep("run", str(TINY), "--out", str(out))
        assert refused.returncode == 2
        assert f"pid {holder.pid}" in refused.stderr and "since 2026-11-25" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    finally:
        holder.kill()
        holder.wait()
    taken = ltsweep("run", str(TINY), "--out", str(out))  # the holder is dead now
    assert taken.returncode == 0, taken.stderr
    assert not (out / ".lock").exists()


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


def test_killed_trial_worker_is_retried_from_its_checkpoint(finished, tmp_path: Path) -> None:
    """SIGKILL the Ray worker running trials, twice, mid-epoch: Tune retries them, each resumes
    from its own checkpoint, and the results equal an uninterrupted run's."""
    reference_out, _, _ = finished
    cfg = yaml.safe_load(TINY.read_text())
    cfg["retries"] = 3
    sweep = tmp_path / "tiny.yaml"
    sweep.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ltsweep", "run", str(sweep), "--out", str(out), "--num-cpus", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    kills = 0
    deadline = time.time() + 300
    try:
        for marker in ("trials/g-*/level_00/checkpoint.pt", "trials/t-*/checkpoint.pt"):
            while time.time() < deadline and not list(out.glob(marker)):
                time.sleep(0.05)
            workers = _session_processes(proc.pid, "ImplicitFunc")
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            kills += bool(workers)
        output, _ = proc.communicate(timeout=max(10, deadline - time.time()))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert kills >= 1, "no trial worker was found to kill"
    assert proc.returncode == 0, output
    assert_store_complete(out, TINY, "tiny")
    assert final_accuracies(out) == final_accuracies(reference_out)


def test_ctrl_c_stops_cleanly_then_resumes(finished, tmp_path: Path) -> None:
    reference_out, _, _ = finished
    out = tmp_path / "out"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ltsweep", "run", str(TINY), "--out", str(out), "--num-cpus", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 240
    while time.time() < deadline and not list(out.glob("trials/g-*/done.json")):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "run the same command again" in err and "Traceback" not in err
    _, runs = store_runs(out, "tiny")
    assert not [r for r in runs if r.info.status == "RUNNING"]
    rerun = ltsweep("run", str(TINY), "--out", str(out), "--num-cpus", "2")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_store_complete(out, TINY, "tiny")
    assert final_accuracies(out) == final_accuracies(reference_out)
