"""`ltsweep ui SWEEP`: the MLflow UI on a sweep's tracking store, bound to 127.0.0.1 by default.

Runs ``mlflow ui`` from this environment as a child process (an argument list, no shell) and
stays in the foreground until Ctrl-C or SIGTERM, which it passes on.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys

from ltsweep.commands import add_store_arguments
from ltsweep.errors import UserError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# MLflow 3's server also starts a job runner (huey consumers, for GenAI jobs ltsweep never uses):
# several extra processes that slow start-up and shut-down on a laptop. Off unless the user sets it.
CHILD_ENV_DEFAULTS = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_arguments(parser)
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="interface to bind (default: 127.0.0.1, this machine only)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: 5000)")
    parser.add_argument(
        "--workers", type=int, default=None, help="server worker processes (default: mlflow's)"
    )
    parser.add_argument(
        "--open", action="store_true", help="open the printed URL in a browser once it answers"
    )


def build_command(
    uri: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, workers: int | None = None
) -> list[str]:
    """The ``mlflow ui`` argument list, run with this interpreter so the versions match."""
    argv = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        host,
        "--port",
        str(port),
    ]
    if workers is not None:
        argv += ["--workers", str(workers)]
    return argv


def child_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: ours, plus ``CHILD_ENV_DEFAULTS`` where not already set."""
    env = dict(os.environ if environ is None else environ)
    for key, value in CHILD_ENV_DEFAULTS.items():
        env.setdefault(key, value)
    return env


def address(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _check_port(host: str, port: int) -> None:
    if not 0 < port < 65536:
        raise UserError(f"port {port} is out of range: pass --port between 1 and 65535")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(
                f"cannot listen on {host}:{port} ({exc.strerror}): pass another --port or --host"
            ) from None


def _open_when_up(url: str, base: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Open ``url`` in the user's browser once the server answers (a background thread)."""
    import threading
    import time
    import urllib.request
    import webbrowser

    def wait_then_open() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    webbrowser.open(url)
                    return
            except OSError:
                time.sleep(0.5)

    threading.Thread(target=wait_then_open, daemon=True).start()


def run(args: argparse.Namespace) -> int:
    from ltsweep.tracking import sweep_store, ui_view

    where = sweep_store.locate(args.sweep, args.out, args.tracking_uri)
    name, uri = where.name, where.tracking_uri
    client, experiment_id = sweep_store.open_experiment(uri, name)
    with sweep_store.reading(uri):
        ui_view.ensure_tags(client, experiment_id)  # stores made before the view existed
    _check_port(args.host, args.port)
    argv = build_command(uri, args.host, args.port, args.workers)
    url = ui_view.runs_url(address(args.host, args.port), experiment_id)
    print(
        f"MLflow UI for sweep {name}: {url} (trial runs, axis columns; store {uri}); "
        "Ctrl-C to stop",
        flush=True,
    )
    if args.host not in LOCAL_HOSTS:
        sys.stderr.write(f"ltsweep: warning: bound to {args.host}: other machines can reach it\n")
    proc = subprocess.Popen(argv, env=child_env())
    if args.open:
        _open_when_up(url, address(args.host, args.port), proc)

    def _stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
