"""`ltsweep ui SWEEP`: the MLflow UI on a sweep's tracking store, bound to 127.0.0.1 by default.

Runs ``mlflow ui`` from this environment as a child process (an argument list, no shell) and
stays in the foreground until Ctrl-C or SIGTERM, which it passes on. The URL is printed once the
server answers (a URL that does not open yet reads as a broken one); one server worker by
default (a laptop or a 2-core box serves one user), and no deprecation warnings from the
server's dependencies, which a user can do nothing about.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys

from ltsweep.commands import add_sweep_arguments
from ltsweep.errors import UserError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# MLflow 3's server also starts a job runner (huey consumers, for GenAI jobs ltsweep never uses):
# several extra processes that slow start-up and shut-down on a laptop. Off unless the user sets it.
# Starlette's warning about its WSGI middleware (which MLflow's server imports) is a UserWarning
# subclass: filtered by its message. DeprecationWarnings go as well.
CHILD_ENV_DEFAULTS = {
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "PYTHONWARNINGS": "ignore::DeprecationWarning,ignore:starlette.middleware.wsgi is deprecated",
}
DEFAULT_WORKERS = 1
START_TIMEOUT_S = 300.0  # a loaded 2-core machine takes ~10 s; give up only on a hung server


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sweep_arguments(parser)
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="interface to bind (default: 127.0.0.1, this machine only)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: 5000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help=f"server worker processes (default: {DEFAULT_WORKERS})",
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


def wait_until_up(base: str, proc: subprocess.Popen, timeout: float = START_TIMEOUT_S) -> bool:
    """Whether the server at ``base`` answered ``/health`` before it exited or ``timeout``."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2):
                return True
        except OSError:
            time.sleep(0.25)
    return False


def run(args: argparse.Namespace) -> int:
    from ltsweep.tracking import sweep_store, ui_view

    where = sweep_store.locate(args.sweep, args.out, args.tracking_uri)
    name, uri = where.name, where.tracking_uri
    client, experiment_id = sweep_store.open_experiment(uri, name, where)
    plan = where.recorded_plan()
    with sweep_store.reading(uri):  # also stores made before the view existed
        hidden = ui_view.ensure_tags(client, experiment_id, plan)
    if hidden:
        sys.stderr.write(
            f"ltsweep: {hidden} results of an earlier version of this sweep are not shown\n"
        )
    _check_port(args.host, args.port)
    argv = build_command(uri, args.host, args.port, args.workers)
    url = ui_view.runs_url(address(args.host, args.port), experiment_id)
    if args.host not in LOCAL_HOSTS:
        sys.stderr.write(f"ltsweep: warning: bound to {args.host}: other machines can reach it\n")
    sys.stderr.write(f"ltsweep: starting the MLflow UI on store {uri} ...\n")

    def _stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _stop)
    # The server's own messages (and its access log) go to stderr: stdout carries the URL only.
    proc = subprocess.Popen(argv, env=child_env(), stdout=sys.stderr)
    try:
        if not wait_until_up(address(args.host, args.port), proc):
            code = proc.poll()
            proc.terminate()
            proc.wait()
            why = f"it exited with code {code}" if code is not None else "it did not answer"
            raise UserError(f"the MLflow UI did not start ({why}; its messages are above)")
        print(
            f"MLflow UI for sweep {name}: {url} (trial runs, axis columns; store {uri}); "
            "Ctrl-C to stop",
            flush=True,
        )
        if args.open:
            import webbrowser

            webbrowser.open(url)
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
