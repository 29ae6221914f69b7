"""A multi-node Ray cluster and an MLflow server on loopback, inside a network namespace.

On Linux Ray rewrites 127.0.0.1 to the host's own address for multi-node clusters, so a test
re-executes itself under ``unshare -n`` with only ``lo`` up: there Ray falls back to 127.0.0.1,
nothing can reach another address, and no other Ray on the host sees these nodes. Every process
is started here and stopped here by its pid (never ``ray stop``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

NETNS_ENV = "LTSWEEP_TEST_NETNS"
VENV_BIN = Path(sys.executable).parent


def in_netns() -> bool:
    return os.environ.get(NETNS_ENV) == "1"


def reexec(
    request: pytest.FixtureRequest, timeout: float = 3000, env: dict[str, str] | None = None
) -> bool:
    """Outside the namespace: run this very test inside a new one and assert it passed (True:
    the caller returns). Inside: False, the caller runs the test body. ``env`` reaches the
    inner run (what the outer session computed once, e.g. a shared reference sweep).

    ``timeout`` is only a backstop above the sum of the inner test's own deadlines (each wait
    there says what it waited for): at 900 s it cut off a three-node test that was merely slow
    beside CPU burners (scripts/loaded_tests.sh), with no word on which step it was in."""
    if in_netns():
        return False
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        reason = "needs root, unshare and ip to make a network namespace (CI runs as root)"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    nodeid = request.node.nodeid
    root = Path(request.config.rootpath)
    # its own basetemp: pytest prunes old numbered temp dirs that other sessions may still use
    basetemp = request.getfixturevalue("tmp_path") / "inner"
    inner = (
        f"{sys.executable} -m pytest -q -x -p no:cacheprovider -s "
        f"--basetemp='{basetemp}' '{nodeid}'"
    )
    # Ray's session files and "current cluster" file in a directory of this test's own (short:
    # Unix socket paths are limited), so no Ray elsewhere on the host ever reads them.
    ray_tmp = tempfile.mkdtemp(prefix="ltsweep-ray-", dir="/tmp")
    extra = env or {}
    env = {**os.environ, NETNS_ENV: "1", "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    env["RAY_TMPDIR"] = ray_tmp
    for inherited in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI"):
        env.pop(inherited, None)
    proc = subprocess.Popen(
        ["unshare", "-n", "bash", "-c", f"ip link set lo up && exec {inner}"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: stopped whole, by its pid
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        out = _interrupt(proc)
        print(out[-8000:])
        raise AssertionError(
            f"{nodeid} did not finish within {timeout:.0f} s inside its network namespace "
            f"(interrupted; its fixtures stopped what it started); its output:\n{out[-8000:]}"
        ) from None
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    out = out[-8000:]
    print(out)
    assert proc.returncode == 0, f"{nodeid} failed inside its network namespace:\n{out}"
    return True


def _interrupt(proc: subprocess.Popen) -> str:
    """Ctrl-C for the inner pytest (its fixtures then stop its nodes and server), SIGKILL for
    its process group if that takes over two minutes; returns what it printed."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    return out or ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, what: str, timeout: float = 300, every: float = 0.5):
    """Poll ``check()`` until it returns something truthy; a loaded machine gets minutes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# as cluster.yaml starts it: no job runner (eight processes MLflow would start beside it)
SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


class MlflowServer:
    """``mlflow server`` as cluster.yaml starts it (SQLite backend, served artifacts)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = root / "mlflow-server.log"

    def start(self) -> MlflowServer:
        cmd = [
            str(VENV_BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{self.root / 'mlflow.db'}",
            "--artifacts-destination",
            str(self.root / "mlflow-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        with open(self.log, "a") as log:
            # its own session: the server's worker processes share its process group id
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=log,
                start_new_session=True,
                env={**os.environ, **SERVER_ENV},
            )
        _SERVERS.append(self.proc.pid)
        wait_for(self._healthy, f"the MLflow server on port {self.port} (log {self.log})")
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.log.read_text()[-2000:]
        try:
            with urllib.request.urlopen(f"{self.uri}/health", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL the server and the workers it started (its process group, by its pid)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=60)
        self.proc = None


_SERVERS: list[int] = []  # MLflow servers started here survive a failed cluster start


def kill_children(keep_servers: bool = False) -> None:
    """SIGKILL what this process started and did not stop (a node that failed to come up is
    not in the ``Cluster``'s own list): only our own descendants, by pid."""
    import psutil

    keep: set[int] = set()
    for pid in _SERVERS if keep_servers else []:
        with contextlib.suppress(psutil.NoSuchProcess):
            keep |= {pid} | {c.pid for c in psutil.Process(pid).children(recursive=True)}
    for child in psutil.Process().children(recursive=True):
        if child.pid not in keep:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


def start_cluster(tries: int = 3, **kwargs) -> RayCluster:
    """A loaded machine can miss Ray's fixed 30 s raylet registration wait: try again."""
    for attempt in range(tries):
        try:
            return RayCluster(**kwargs)
        except Exception as exc:
            if "timed out during startup" not in str(exc) or attempt == tries - 1:
                raise
            print(f"ray node start timed out (attempt {attempt + 1}); retrying", flush=True)
            kill_children(keep_servers=True)
    raise AssertionError("unreachable")


class RayCluster:
    """Head (0 CPUs, 0 GPUs) + a worker with one logical GPU + a CPU worker, each a raylet."""

    def __init__(self, cpus_per_node: float = 2, dashboard: bool = False) -> None:
        from ray.cluster_utils import Cluster

        head: dict = {"num_cpus": 0, "num_gpus": 0, "include_dashboard": dashboard}
        if dashboard:  # the job API, on loopback as cluster.yaml has it
            head.update(dashboard_host="127.0.0.1", dashboard_port=free_port())
            self.dashboard_url = f"http://127.0.0.1:{head['dashboard_port']}"
        self.cluster = Cluster(initialize_head=True, head_node_args=head)
        self.gpu_node = self.cluster.add_node(num_cpus=cpus_per_node, num_gpus=1)
        self.cpu_node = self.cluster.add_node(num_cpus=cpus_per_node, num_gpus=0)
        self.cluster.wait_for_nodes()
        self.address = self.cluster.address
        if dashboard:
            wait_for(self._dashboard_up, f"the Ray dashboard at {self.dashboard_url}")

    def _dashboard_up(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.dashboard_url}/api/version", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    @property
    def head_id(self) -> str:
        return self.cluster.head_node.node_id

    def kill_node(self, node) -> None:
        """SIGKILL a worker node's raylet and everything it started (Ray's own test helper)."""
        self.cluster.remove_node(node, allow_graceful=False)

    def shutdown(self) -> None:
        self.cluster.shutdown()  # kills exactly the processes this Cluster started
