"""A sweep whose storage is an S3 bucket: a real S3 API (moto in server mode on 127.0.0.1)
reached through pyarrow's S3FileSystem with ``endpoint_override``, the real CLI, real Ray and
MLflow. The same contract as on disk: every trial FINISHED once, tickets verified, a SIGKILL of
the driver and its trial mid-sweep resumed to the accuracies of an uninterrupted run, the
one-writer lock, and bad URIs refused with one line before anything starts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.common.cli import REPO
from tests.common.leases import race
from tests.common.sweep_checks import assert_store_complete, final_accuracies

TINY = REPO / "tests" / "sweeps" / "tiny.yaml"
BUCKET = "ltsweep-test"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
pytestmark = pytest.mark.slow


class S3:
    """The moto server, a boto3 client on it, and the environment every CLI call gets."""

    def __init__(self, tmp: Path) -> None:
        from moto.server import ThreadedMotoServer

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            **CREDENTIALS,
            "AWS_EC2_METADATA_DISABLED": "true",  # never ask an instance-metadata address
            "LTSWEEP_CACHE": str(tmp / "cache"),
            "RAY_AUTH_MODE": "disabled",
            "PYTHONUNBUFFERED": "1",
        }
        for inherited in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS"):
            self.env.pop(inherited, None)
        import boto3

        self.client = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self.client.create_bucket(Bucket=BUCKET)

    def uri(self, prefix: str, bucket: str = BUCKET) -> str:
        return f"s3://{bucket}/{prefix}?endpoint_override=127.0.0.1:{self.port}&scheme=http"

    def keys(self, prefix: str) -> dict[str, object]:
        """Every object under ``prefix``: key -> LastModified."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=prefix + "/"
        )
        return {o["Key"]: o["LastModified"] for p in pages for o in p.get("Contents", [])}

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def run(self, *args: str, env: dict | None = None, cwd: Path | None = None):
        return subprocess.run(
            [sys.executable, "-m", "ltsweep", *args],
            env=env or self.env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=900,
        )

    def quick(self, *args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
        """``run`` for a command expected to stop early: forked, torch already imported."""
        from tests.common.forkserver import run_cli

        return run_cli(args, cwd, env, timeout=120)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "ltsweep", *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    server = S3(tmp_path_factory.mktemp("s3"))
    yield server
    server.server.stop()


def cache_of(s3: S3, prefix: str) -> Path:
    from ltsweep.storage.store import cache_dir

    return Path(s3.env["LTSWEEP_CACHE"]) / "stores" / cache_dir(s3.uri(prefix)).name


def accuracies(s3: S3, prefix: str) -> dict[str, list[float]]:
    out = {}
    for key in s3.keys(prefix):
        if key.endswith("/done.json"):
            record = json.loads(s3.read(key))
            histories = [lv["history"] for lv in record["levels"]] if "levels" in record else []
            out[key.split("/")[-2]] = [h[-1]["test_accuracy"] for h in histories] or [
                record["history"][-1]["test_accuracy"]
            ]
    return out


@pytest.fixture(scope="module")
def killed(s3) -> dict[str, dict[str, object]]:
    """The module's one sweep on S3, SIGKILLed (the driver, its Ray and a trial mid-level) once a
    mid-IMP checkpoint is in the bucket: what the bucket held then, and just before the rerun."""
    proc = s3.popen("run", str(TINY), "--out", s3.uri("ref"), "--num-cpus", "2")
    deadline = time.time() + 600
    seen: dict[str, object] = {}
    try:
        while time.time() < deadline and proc.poll() is None:
            seen = s3.keys("ref")
            if any(k.endswith(MID_LEVEL) for k in seen):
                break
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver, its Ray and the trial mid-level
        proc.wait()
    time.sleep(2)
    return {"at_kill": seen, "before_rerun": s3.keys("ref")}


@pytest.fixture(scope="module")
def reference(s3, killed):
    """That sweep run again to the end: the complete sweep in ``ref/`` that the tests read
    (one sweep serves them all: a second, uninterrupted one would double the module's time)."""
    result = s3.run("run", str(TINY), "--out", s3.uri("ref"), "--num-cpus", "2")
    assert result.returncode == 0, f"the resumed run failed: {result.stdout}{result.stderr}"
    return result


MID_LEVEL = ("level_01/checkpoint.pt", "level_02/checkpoint.pt")


def test_sweep_on_s3_records_every_trial_once_with_verified_tickets(s3, reference) -> None:
    assert "[transfer] 6/6 done" in reference.stdout, reference.stdout
    assert "on this machine's disk" in reference.stdout, "where MLflow's SQLite went is unsaid"
    assert_store_complete(cache_of(s3, "ref"), TINY, "tiny")
    keys = s3.keys("ref")
    done = [k for k in keys if k.endswith("/done.json")]
    assert len(done) == 8, f"expected 8 done records in the bucket, found {done}"
    assert any(k.startswith("ref/tune/") for k in keys), "Ray Tune's state is not in the bucket"
    assert not [k for k in keys if k.endswith("checkpoint.pt")], "checkpoints left after done"
    import hashlib

    infos = [k for k in keys if k.endswith("/ticket.json")]
    assert len(infos) == 6, f"expected 2 trials x 3 levels of tickets, found {infos}"
    for info in infos:
        weights = s3.read(info.replace("ticket.json", "weights.safetensors"))
        expected = json.loads(s3.read(info))["sha256"]
        assert hashlib.sha256(weights).hexdigest() == expected, f"{info}: sha256 mismatch"
    again = s3.run("status", str(TINY), "--out", s3.uri("ref"), "--json")
    assert json.loads(again.stdout)["transfer"]["done"] == 6, again.stdout + again.stderr


def test_sigkill_mid_sweep_on_s3_resumes_to_the_uninterrupted_results(
    s3, killed, reference, tiny_sweep
) -> None:
    """The uninterrupted run is the local one (``tiny_sweep``): storage must not change a
    result either."""
    assert any(k.endswith(MID_LEVEL) for k in killed["at_kill"]), (
        "no mid-IMP checkpoint reached the bucket before the kill"
    )
    before, after = killed["before_rerun"], s3.keys("ref")
    finished = {k: v for k, v in before.items() if k.endswith(("result.json", "done.json"))}
    redone = [k for k, v in finished.items() if after.get(k) != v]
    assert not redone, f"the rerun rewrote finished levels or trials: {redone}"
    uninterrupted = final_accuracies(tiny_sweep[0])
    assert accuracies(s3, "ref") == uninterrupted, (
        "resumed results differ from an uninterrupted run"
    )


def test_lease_lock_on_s3_refuses_a_live_holder_and_takes_over_an_expired_one(
    s3, reference
) -> None:
    lock = {"host": socket.gethostname(), "since": "2026-11-25 12:00:00", "token": "other"}
    holder = subprocess.Popen(["sleep", "120"])
    try:
        body = {**lock, "pid": holder.pid, "expires": time.time() + 120}
        s3.client.put_object(Bucket=BUCKET, Key="ref/.lock", Body=json.dumps(body).encode())
        refused = s3.run("run", str(TINY), "--out", s3.uri("ref"))
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert f"pid {holder.pid}" in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    finally:
        holder.kill()
        holder.wait()
    expired = {**lock, "host": "elsewhere", "pid": 1, "expires": time.time() - 1}
    s3.client.put_object(Bucket=BUCKET, Key="ref/.lock", Body=json.dumps(expired).encode())
    taken = s3.run("run", str(TINY), "--out", s3.uri("ref"))
    assert taken.returncode == 0, taken.stdout + taken.stderr
    assert "nothing to do" in taken.stdout, taken.stdout
    assert "ref/.lock" not in s3.keys("ref"), "the lease was not released"


def test_two_drivers_racing_for_the_lease_exactly_one_wins(s3, monkeypatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    from ltsweep.storage.leases.s3 import S3Lease
    from ltsweep.storage.store import open_store

    store = open_store(s3.uri("race"))
    won, lost = race([S3Lease(store) for _ in range(4)])
    assert len(won) == 1 and len(lost) == 3, f"{len(won)} drivers took one lease"
    assert won[0].renew(), "the winner could not renew its own lease"
    assert not lost[0].renew(), "a loser renewed a lease it never held"
    won[0].release()


BAD = {
    # name: (--out, substrings of the one line)
    "malformed URI": ("s3:/ltsweep-test/x", ["malformed URI", "s3://BUCKET/PREFIX"]),
    "unknown scheme": ("ftp://ltsweep-test/x", ["unknown storage scheme 'ftp'"]),
    "no bucket": ("s3:///x", ["names no bucket"]),
    "bad query": ("s3://ltsweep-test/x?endpointoverride=1", ["malformed URI", "endpointoverride"]),
    "missing bucket": (None, ["no-such-bucket", "does not exist", "create it"]),
    "missing credentials": (None, ["no AWS credentials", "AWS_ACCESS_KEY_ID"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_out_uri_is_one_line_exit_2_before_anything(s3, tmp_path: Path, case: str) -> None:
    out, needles = BAD[case]
    env = dict(s3.env)
    if case == "missing bucket":
        out = s3.uri("x", bucket="no-such-bucket")
    if case == "missing credentials":
        out = s3.uri("nocreds")
        for name in CREDENTIALS:
            env.pop(name)
        env.update(HOME=str(tmp_path / "home"), AWS_CONFIG_FILE=str(tmp_path / "none"))
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "none")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    result = s3.quick("run", str(TINY), "--out", out, env=env, cwd=cwd)
    assert result.returncode == 2, f"{case}: exit {result.returncode}\n{result.stderr}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"{case}: expected one line, got {lines}"
    assert all(n in lines[0] for n in needles), f"{case}: {lines[0]!r} lacks {needles}"
    assert list(cwd.iterdir()) == [], f"{case}: wrote {list(cwd.iterdir())} locally"
    assert not s3.keys("nocreds") and not s3.keys("x"), f"{case}: wrote to the bucket"


def test_tickets_from_the_bucket_are_verified_before_use(s3, reference, monkeypatch) -> None:
    """A damaged cached copy is fetched again; a damaged object in the bucket never enters the
    cache and stops the trial with a one-line CorruptArtifactError."""
    for name, value in {**CREDENTIALS, "LTSWEEP_CACHE": s3.env["LTSWEEP_CACHE"]}.items():
        monkeypatch.setenv(name, value)
    from ltsweep.errors import CorruptArtifactError
    from ltsweep.storage.paths import SweepPaths
    from ltsweep.storage.staging import fetch_ticket

    paths = SweepPaths.for_uri(s3.uri("ref"))
    info = next(k for k in s3.keys("ref") if k.endswith("tickets/level_01/ticket.json"))
    key = info.split("/")[2]
    cached = fetch_ticket(paths, key, 1)
    (cached / "weights.safetensors").write_bytes(b"damaged")
    again = fetch_ticket(paths, key, 1)
    assert (again / "weights.safetensors").read_bytes() != b"damaged", "damaged cache was used"
    weights = info.replace("ticket.json", "weights.safetensors")
    s3.client.put_object(Bucket=BUCKET, Key=weights, Body=b"damaged in the bucket")
    import shutil

    shutil.rmtree(again)
    with pytest.raises(CorruptArtifactError, match="sha256"):
        fetch_ticket(paths, key, 1)
    assert not again.exists(), "a corrupt download entered the ticket cache"


TRAIN_WORKERS = REPO / "tests" / "sweeps" / "train_workers.yaml"  # 1 generation, workers: 2


def _train_worker_pids(root: int) -> list[int]:
    import psutil

    found = []
    for child in psutil.Process(root).children(recursive=True):
        try:
            if "RayTrainWorker" in " ".join(child.cmdline()):
                found.append(child.pid)
        except psutil.Error:
            continue
    return found


def test_ray_train_generation_on_s3_resumes_from_the_bucket(s3, tmp_path: Path) -> None:
    """``workers: 2`` on a bucket: each rank mirrors the trial in its own directory, rank 0
    writes to the bucket, and a worker killed mid-level makes Ray Train restart the group,
    which resumes from the epoch checkpoint in the bucket (its epochs are kept, not redone)."""
    import io

    import torch

    log = tmp_path / "driver.log"
    command = ["run", str(TRAIN_WORKERS), "--out", s3.uri("train"), "--num-cpus", "2"]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ltsweep", *command],
            env=s3.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline, keys = time.time() + 600, {}
        while time.time() < deadline and proc.poll() is None:
            keys = s3.keys("train")
            if any(k.endswith("level_01/checkpoint.pt") for k in keys):
                break
            time.sleep(0.2)
        ckpt = next((k for k in keys if k.endswith("level_01/checkpoint.pt")), None)
        assert ckpt, f"no level-1 checkpoint reached the bucket:\n{log.read_text()[-3000:]}"
        trial = ckpt.split("/")[2]
        saved = torch.load(io.BytesIO(s3.read(ckpt)), map_location="cpu", weights_only=True)
        level0 = f"train/trials/{trial}/level_00/result.json"
        level0_written = keys[level0]
        workers = _train_worker_pids(proc.pid)
        assert len(workers) == 2, f"expected 2 Ray Train workers, found {workers}"
        os.kill(workers[-1], signal.SIGKILL)
        assert f"train/trials/{trial}/level_01/result.json" not in s3.keys("train"), (
            "level 1 finished before the kill: nothing was resumed"
        )
        proc.wait(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, log.read_text()[-3000:]
    after = s3.keys("train")
    assert after[level0] == level0_written, "the restarted group retrained the finished level 0"
    result = json.loads(s3.read(f"train/trials/{trial}/level_01/result.json"))
    kept = saved["history"]
    assert result["history"][: len(kept)] == kept, (
        "level 1 did not resume from the bucket's checkpoint: its first epochs were redone"
    )
    assert [m["epoch"] for m in result["history"]] == [1, 2, 3], result["history"]
    nodes = [json.loads(s3.read(k)) for k in sorted(after) if "/nodes/rank_" in k]
    dirs = {n["workdir"] for n in nodes}
    assert len(nodes) == 2 and len(dirs) == 2, f"ranks shared a working directory: {nodes}"
    assert not any(Path(d).exists() for d in dirs), f"rank mirrors left behind: {dirs}"
    done = json.loads(s3.read(f"train/trials/{trial}/done.json"))
    assert len(done["train_nodes"]) == 2, done
    assert not [k for k in after if k.endswith("checkpoint.pt")], "checkpoints left after done"
    import hashlib

    for level in (0, 1):
        info = f"train/trials/{trial}/tickets/level_{level:02d}/ticket.json"
        weights = s3.read(info.replace("ticket.json", "weights.safetensors"))
        expected = json.loads(s3.read(info))["sha256"]
        assert hashlib.sha256(weights).hexdigest() == expected, f"{info}: sha256 mismatch"
    assert any(k.startswith("train/ray_train/") for k in after), "Ray Train's state is not there"
