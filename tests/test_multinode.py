"""The cluster path, on one machine: a head with no CPUs, two worker raylets (one with a logical
GPU), an MLflow server, and ``ltsweep run`` joining through ``RAY_ADDRESS``; then the faults a
cluster has (a lost node, the tracking server restarted, the driver killed).

Each test re-executes itself inside its own network namespace (``tests.common.netns_cluster.reexec``).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.common.cli import REPO, ltsweep
from tests.common.netns_cluster import (
    VENV_BIN,
    MlflowServer,
    RayCluster,
    in_netns,
    kill_children,
    reexec,
    start_cluster,
    wait_for,
)

pytestmark = pytest.mark.slow
CLUSTER_SWEEP = REPO / "tests" / "sweeps" / "cluster.yaml"
TINY = REPO / "tests" / "sweeps" / "tiny.yaml"
ONE_GENERATION = REPO / "tests" / "sweeps" / "one_generation.yaml"
REFERENCE_ENV = "LTSWEEP_TEST_REFERENCE_OUT"  # the outer session's uninterrupted tiny sweep


# -- helpers ---------------------------------------------------------------------------------
def sweep_copy(src: Path, tmp: Path, **changes) -> Path:
    raw = yaml.safe_load(src.read_text())
    raw.update(changes)
    path = tmp / src.name
    path.write_text(yaml.safe_dump(raw))
    return path


def plan_of(sweep: Path):
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan

    return build_plan(load_sweep(sweep))


def store(uri: str, sweep: str):
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(f"ltsweep/{sweep}")
    return client, client.search_runs([exp.experiment_id], max_results=5000)


def assert_complete(uri: str, sweep_file: Path) -> tuple:
    """Every trial key FINISHED exactly once, nothing RUNNING, one metric point per step."""
    plan = plan_of(sweep_file)
    client, runs = store(uri, plan.sweep.name)
    by_key: dict[str, list] = {}
    for r in runs:
        by_key.setdefault(r.data.tags.get("ltsweep.trial_key"), []).append(r)
    doubled = {k: len(v) for k, v in by_key.items() if len(v) > 1}
    assert not doubled, f"trial keys with more than one run: {doubled}"
    running = [r.data.tags.get("ltsweep.trial_key") for r in runs if r.info.status == "RUNNING"]
    assert not running, f"runs left RUNNING: {running}"
    for t in plan.trials:
        status = by_key[t.key][0].info.status if t.key in by_key else None
        assert status == "FINISHED", f"trial {t.key} is {status}, not FINISHED once"
    for r in runs:
        if "result" not in r.data.tags.get("ltsweep.role", ""):
            continue
        steps = [m.step for m in client.get_metric_history(r.info.run_id, "test_accuracy")]
        assert steps and len(steps) == len(set(steps)), f"metric points lost or doubled: {steps}"
        finals = client.get_metric_history(r.info.run_id, "final_test_accuracy")
        assert len(finals) == 1, f"final accuracy logged {len(finals)} times"
    return client, runs, plan


def final_accuracies(client, runs) -> dict[str, float]:
    return {
        r.data.tags["ltsweep.trial_key"]: r.data.metrics["final_test_accuracy"]
        for r in runs
        if "final_test_accuracy" in r.data.metrics
    }


def local_run_beside(sweep_file: Path, out: Path, cluster: RayCluster) -> None:
    """A local ``ltsweep run`` (no ``RAY_ADDRESS``) while the cluster runs beside it in the same
    namespace: it must start a private Ray, not join or crash on the cluster."""
    done = ltsweep("run", str(sweep_file), "--out", str(out), "--num-cpus", "2", timeout=900)
    assert done.returncode == 0, f"a local run beside a cluster failed:\n{done.stderr[-3000:]}"
    cluster_nodes = {cluster.head_id, cluster.gpu_node.node_id, cluster.cpu_node.node_id}
    records = [json.loads(p.read_text()) for p in (out / "trials").glob("*/done.json")]
    assert records, f"the local run beside the cluster finished no trial:\n{done.stdout}"
    for record in records:
        assert node_id(record["node"]) not in cluster_nodes, "the local run joined the cluster"


def accuracies_on_disk(out: Path) -> dict[str, float]:
    """Final accuracies of a finished sweep directory, keyed as in MLflow."""
    acc = {}
    for path in (out / "trials").glob("*/done.json"):
        record = json.loads(path.read_text())
        key = path.parent.name
        for lv in record.get("levels", []):
            acc[f"{key}/L{int(lv['level']):02d}"] = lv["history"][-1]["test_accuracy"]
        if "history" in record:
            acc[key] = record["history"][-1]["test_accuracy"]
    return acc


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    now = best = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def node_id(label: str) -> str:
    return label.split("@")[0]


def start_run(sweep: Path, out: Path, cluster: RayCluster, server: MlflowServer, log: Path):
    env = {
        **os.environ,
        "RAY_ADDRESS": cluster.address,
        "MLFLOW_TRACKING_URI": server.uri,
        "RAY_AUTH_MODE": "disabled",
        "PYTHONUNBUFFERED": "1",
        "LTSWEEP_TRACKING_WAIT_S": "600",
    }
    with open(log, "a") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "ltsweep", "run", str(sweep), "--out", str(out)],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def store_tag(runs, key: str, tag: str) -> str:
    return next(r.data.tags[tag] for r in runs if r.data.tags.get("ltsweep.trial_key") == key)


def done_count(out: Path) -> int:
    return len(list((out / "trials").glob("*/done.json")))


@pytest.fixture
def cluster_env(tmp_path: Path):
    """Start an MLflow server and a 3-node Ray cluster (``cpus`` per worker node); both are
    stopped, by pid, when the test ends."""
    started: list = []

    def start(cpus: float = 2, dashboard: bool = False) -> tuple[RayCluster, MlflowServer]:
        server = MlflowServer(tmp_path).start()
        started.append(server.kill)
        cluster = start_cluster(cpus_per_node=cpus, dashboard=dashboard)
        started.append(cluster.shutdown)
        return cluster, server

    try:
        yield start
    finally:
        for stop in reversed(started):
            stop()
        kill_children()  # anything of ours a failed start left behind


# -- the cluster path ------------------------------------------------------------------------
def test_sweep_on_a_three_node_cluster_through_an_mlflow_server(
    request, tmp_path: Path, cluster_env
) -> None:
    if reexec(request):
        return
    pytest.importorskip("ffcv", reason="FFCV is not installed (scripts/setup.sh installs it)")
    from ltsweep.core.data.ffcv_convert import convert_dataset

    cluster, server = cluster_env(2)
    convert_dataset("digits", tmp_path / "ffcv", image_size=8, workers=1)
    sweep = sweep_copy(CLUSTER_SWEEP, tmp_path, ffcv_dir=str(tmp_path / "ffcv"))
    log = tmp_path / "run.log"
    proc = start_run(sweep, tmp_path / "out", cluster, server, log)
    assert proc.wait(timeout=900) == 0, f"ltsweep run failed:\n{log.read_text()[-4000:]}"
    text = log.read_text()
    assert "View run" not in text and "View experiment" not in text, "MLflow's URL lines leak"

    client, runs, plan = assert_complete(server.uri, sweep)
    trials = {r.data.tags["ltsweep.trial_key"]: r for r in runs}
    gpu, cpu = cluster.gpu_node.node_id, cluster.cpu_node.node_id
    spans, gpu_spans = [], []
    for t in plan.trials:
        tags = trials[t.key].data.tags
        where = node_id(tags["ltsweep.node"])
        assert where != cluster.head_id, f"trial {t.key} ran on the head node"
        assert where in (gpu, cpu), f"trial {t.key} ran on an unknown node {where}"
        assert tags["ltsweep.device"] == "cpu", "no CUDA here: the record must say cpu"
        span = (float(tags["ltsweep.started_at"]), float(tags["ltsweep.ended_at"]))
        spans.append(span)
        if t.resources.gpu:
            assert where == gpu, f"a gpu trial ran on the CPU-only node: {t.key}"
            gpu_spans.append(span)
        if t.resources.workers == 2:
            ranks = [node_id(n) for n in tags["ltsweep.train_nodes"].split(",")]
            assert sorted(ranks) == sorted([gpu, cpu]), f"Train workers not spread: {ranks}"
    timeline = json.dumps(sorted(gpu_spans))
    assert max_overlap(gpu_spans) == 4, f"gpu: 0.25 trials not four at a time: {timeline}"
    limit = plan.sweep.max_concurrent_trials
    assert max_overlap(spans) <= limit, f"more than max_concurrent_trials={limit} at once"

    # The stock client downloads a ticket over HTTP; `ltsweep ticket show` verifies it.
    gen = next(
        r
        for r in runs
        if r.data.tags.get("ltsweep.stage") == "generate"
        and r.data.tags.get("ltsweep.role") == "trial"
        and r.data.tags.get("ltsweep.ticket_sha256.level_01")
    )
    got = Path(client.download_artifacts(gen.info.run_id, "tickets/level_01", str(tmp_path)))
    shown = ltsweep("ticket", "show", str(got))
    assert shown.returncode == 0, f"downloaded ticket does not verify: {shown.stderr}"
    assert gen.data.tags["ltsweep.ticket_sha256.level_01"][:12] in shown.stdout + shown.stderr


# -- faults ----------------------------------------------------------------------------------
def test_lost_node_server_restart_and_killed_driver(request, tmp_path: Path, cluster_env) -> None:
    """One small sweep takes all three faults in turn: SIGKILL the CPU worker node while it
    trains, SIGKILL the driver and run the same command again, and during that rerun SIGKILL
    the MLflow server and start it again 15 s later. The uninterrupted reference is the
    session's local run of the same sweep (conftest ``tiny_sweep``, shared with the other
    kill/resume tests); a one-trial local run beside the cluster must start a Ray of its own."""
    if not in_netns():  # outside: the reference, computed (or reused) by this session
        reference = str(request.getfixturevalue("tiny_sweep")[0])
        assert reexec(request, env={REFERENCE_ENV: reference})
        return
    cluster, server = cluster_env(1)  # one trial per node at a time
    sweep = sweep_copy(TINY, tmp_path, retries=3, name="faults")
    out, log = tmp_path / "out", tmp_path / "run.log"
    proc = start_run(sweep, out, cluster, server, log)
    try:
        # 1. the CPU node dies while a trial is on it: the trial runs again on the GPU node.
        ckpts = lambda: list(out.glob("trials/**/checkpoint.pt"))  # noqa: E731
        wait_for(ckpts, "a trial checkpoint", 900)
        in_flight = {p.relative_to(out / "trials").parts[0] for p in ckpts()}
        killed_at = time.time()
        cluster.kill_node(cluster.cpu_node)
        # 2. the driver is killed mid-sweep ...
        wait_for(lambda: done_count(out) >= 2 or proc.poll() is not None, "two done trials", 900)
        assert proc.poll() is None, f"the sweep ended early:\n{log.read_text()[-3000:]}"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # ... and the same command run again, during which 3. the tracking server goes away for
    # a while and comes back on the same port.
    mark = len(log.read_text())
    rerun = start_run(sweep, out, cluster, server, log)
    try:
        wait_for(lambda: "[trials]" in log.read_text()[mark:], "the rerun to start trials", 900)
        server.kill()
        time.sleep(15)
        # down until the sweep has met the outage (a write failed): on a loaded machine 15 s
        # may pass without a single tracking write, and the fault would not be tested
        noticed = lambda: "unreachable" in log.read_text()[mark:] or rerun.poll() is not None  # noqa: E731
        wait_for(noticed, "the sweep to meet the server's outage", 900)
        assert rerun.poll() is None, f"the sweep died with the server:\n{log.read_text()[-3000:]}"
        server.start()
        assert rerun.wait(timeout=900) == 0, f"the rerun failed:\n{log.read_text()[-4000:]}"
    finally:
        if rerun.poll() is None:
            os.killpg(rerun.pid, signal.SIGKILL)
    text = log.read_text()[mark:]
    assert "unreachable" in text, "the outage went unnoticed: was the server really down?"
    assert "Traceback" not in text, f"a traceback in the rerun:\n{text[-4000:]}"
    client, runs, _ = assert_complete(server.uri, sweep)
    local_run_beside(ONE_GENERATION, tmp_path / "beside", cluster)
    expected = accuracies_on_disk(Path(os.environ[REFERENCE_ENV]))
    assert expected, f"no reference accuracies under {os.environ[REFERENCE_ENV]}"
    gpu = cluster.gpu_node.node_id
    for r in runs:
        tags = r.data.tags
        started = float(tags.get("ltsweep.started_at", 0))
        if tags.get("ltsweep.role", "").startswith("trial") and started > killed_at:
            where = node_id(tags["ltsweep.node"])
            assert where == gpu, f"a trial ran on the killed node after the kill: {where}"
    retried = [k for k in in_flight if float(store_tag(runs, k, "ltsweep.started_at")) > killed_at]
    print(f"in flight at the kill: {sorted(in_flight)}; ran again after it: {sorted(retried)}")
    got = final_accuracies(client, runs)
    missing = sorted(set(expected) - set(got))
    assert not missing, f"final accuracies missing for {missing}"
    differ = {k: (got[k], v) for k, v in expected.items() if got[k] != v}
    assert not differ, f"final accuracies differ from an uninterrupted run: {differ}"


# -- ray job submit --------------------------------------------------------------------------
def test_ray_job_submit_status_while_it_runs_and_stop_leaves_it_resumable(
    request, tmp_path: Path, cluster_env
) -> None:
    if reexec(request):
        return
    pytest.importorskip("aiohttp_cors", reason="the job API needs ray[default] (the dev extra)")
    cluster, server = cluster_env(2, dashboard=True)
    job_dir = tmp_path / "job"  # what --working-dir uploads: the package and the sweep
    shutil.copytree(
        REPO / "ltsweep", job_dir / "ltsweep", ignore=shutil.ignore_patterns("__pycache__")
    )
    sweep = sweep_copy(TINY, job_dir)
    out = tmp_path / "out"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "MLFLOW_TRACKING_URI": server.uri}
    env.pop("RAY_ADDRESS", None)
    runtime_env = json.dumps({"env_vars": {"MLFLOW_TRACKING_URI": server.uri}})

    def ray_job(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(VENV_BIN / "ray"), "job", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def submit(job_id: str, *extra: str) -> subprocess.CompletedProcess:
        return ray_job(
            "submit",
            "--address",
            cluster.dashboard_url,
            "--working-dir",
            str(job_dir),
            "--runtime-env-json",
            runtime_env,
            "--submission-id",
            job_id,
            *extra,
            "--",
            sys.executable,
            "-m",
            "ltsweep",
            "run",
            sweep.name,
            "--out",
            str(out),
        )

    first = submit("sweep-1", "--no-wait")
    assert first.returncode == 0, f"ray job submit failed: {first.stdout}{first.stderr}"

    def running() -> dict | None:
        got = ltsweep(
            "status",
            str(sweep),
            "--out",
            str(out),
            "--json",
            env={"MLFLOW_TRACKING_URI": server.uri},
        )
        status = json.loads(got.stdout) if got.returncode == 0 and got.stdout.strip() else {}
        busy = sum(c["running"] for c in status.values())
        return status if busy else None

    def job_said(job_id: str) -> str:
        info = ray_job("status", "--address", cluster.dashboard_url, job_id)
        logs = ray_job("logs", "--address", cluster.dashboard_url, job_id)
        return (
            f"job status: {(info.stdout + info.stderr)[-1500:]}\njob logs:\n{logs.stdout[-6000:]}"
        )

    polls = itertools.count(1)

    def running_or_ended() -> dict | None:
        status = running()
        if status is None and next(polls) % 10 == 0:  # a dead job must not wait out the deadline
            info = ray_job("status", "--address", cluster.dashboard_url, "sweep-1")
            said = (info.stdout + info.stderr).lower()
            if any(w in said for w in ("failed", "succeeded", "stopped")):
                raise AssertionError("the job ended before any trial ran")
        return status

    try:
        status = wait_for(
            running_or_ended, "`ltsweep status` to report running trials of the job", 600, 2
        )
    except AssertionError as exc:  # the job's own account, whichever way the wait failed
        raise AssertionError(f"{exc}\n{job_said('sweep-1')}") from None
    print(f"ltsweep status while the job runs: {status}")
    stop = ray_job("stop", "--address", cluster.dashboard_url, "sweep-1")
    assert stop.returncode == 0, f"ray job stop failed: {stop.stdout}{stop.stderr}"
    stopped = ray_job("status", "--address", cluster.dashboard_url, "sweep-1")
    said = stopped.stdout + stopped.stderr
    assert "was stopped" in said or "STOPPED" in said, f"the job is not stopped: {said}"
    left = sum(t["left"] + t["running"] for t in ltsweep_status(sweep, out, server).values())
    print(f"trials not done when the job was stopped: {left}")

    again = submit("sweep-2")  # waits, streaming the job's output
    assert again.returncode == 0, f"the resubmitted job failed:\n{again.stdout[-4000:]}"
    assert_complete(server.uri, sweep)


def ltsweep_status(sweep: Path, out: Path, server: MlflowServer) -> dict:
    got = ltsweep(
        "status", str(sweep), "--out", str(out), "--json", env={"MLFLOW_TRACKING_URI": server.uri}
    )
    assert got.returncode == 0, got.stderr
    return json.loads(got.stdout)
