"""`ltsweep ui`: the argument list it builds, and a real MLflow UI bound to 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ltsweep import cli
from ltsweep.commands import ui
from ltsweep.tracking import schema
from tests.common.net import free_port

NAME = "uitest"
WAIT = 600  # seconds for the server to answer or stop: generous, a loaded 2-core box is slow


def _listening_on(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp writes them) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(addr)
    return found


def test_argv_and_defaults() -> None:
    args = cli.build_parser().parse_args(["ui", "demo"])
    assert (args.host, args.port) == ("127.0.0.1", 5000)
    argv = ui.build_command("sqlite:////x/mlflow.db", args.host, args.port)
    assert argv[:4] == [sys.executable, "-m", "mlflow", "ui"]
    assert argv[4:] == [
        "--backend-store-uri",
        "sqlite:////x/mlflow.db",
        "--host",
        "127.0.0.1",
        "--port",
        "5000",
    ]
    assert ui.build_command("u", "::1", 8080, workers=1)[-2:] == ["--workers", "1"]
    assert ui.address("::1", 8080) == "http://[::1]:8080"
    assert ui.child_env({})["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert (
        ui.child_env({"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true"})[
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"
        ]
        == "true"
    )


def test_no_store_is_one_line_error(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert cli.main(["ui", NAME]) == 2
    err = capsys.readouterr().err.strip()
    assert "no MLflow store at" in err and f"no sweep named {NAME!r}" in err, err
    assert "\n" not in err, err
    assert not (tmp_path / "runs").exists()


def _group(pgid: int) -> list[str]:
    """Command lines of the processes in process group ``pgid``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getpgid(int(pid)) == pgid:
                found.append(Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " "))
        except OSError:
            continue
    return found


@pytest.mark.slow
def test_serves_the_store_on_localhost(tmp_path: Path) -> None:
    """The URL is printed once the server answers it, by one server process (the default), with
    no deprecation warnings; bound to 127.0.0.1; SIGTERM stops it and frees the port."""
    import mlflow

    out = tmp_path / "runs" / NAME
    out.mkdir(parents=True)
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    client.create_experiment(schema.experiment_name(NAME), artifact_location=str(out / "art"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ltsweep", "ui", NAME, "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.txt").open("w"),
        text=True,
        start_new_session=True,  # its own process group: the server's workers stop with it
    )
    try:
        first = proc.stdout.readline()  # printed once the server answers (minutes if busy)
        assert f"http://127.0.0.1:{port}" in first and NAME in first, f"no URL: {first!r}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as resp:
            body = resp.read().decode()
        assert body.strip() == "OK", "the printed URL does not answer yet"
        servers = [c for c in _group(proc.pid) if "uvicorn" in c or "multiprocessing" in c]
        assert len(servers) == 1, f"expected one server process, found: {servers}"
        assert _listening_on(port) <= {"0100007F"}  # 127.0.0.1 only, not 0.0.0.0
        query = f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=ltsweep/{NAME}"
        with urllib.request.urlopen(query, timeout=WAIT) as resp:
            assert schema.experiment_name(NAME) in resp.read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)  # ltsweep passes it on to mlflow ui
        try:
            proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, f"ltsweep ui exited {proc.returncode} on SIGTERM"
    deadline = time.monotonic() + WAIT
    while _listening_on(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _listening_on(port), f"port {port} still listened on {WAIT} s after SIGTERM"
    err = (tmp_path / "stderr.txt").read_text()
    assert "deprecat" not in err.lower(), f"deprecation noise on stderr: {err}"
