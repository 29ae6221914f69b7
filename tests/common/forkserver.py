"""``python -m ltsweep`` for the many bad-input cases, without paying ``import torch`` each time.

One server process per test process imports the heavy third-party libraries (torch, numpy,
yaml) once, single-threaded, then forks a child per command. The child is a fresh
``python -m ltsweep`` in all that matters here: its own argv, environment, working directory and
stdin/stdout/stderr (files), ltsweep itself imported fresh under that environment, and the
interpreter's own exit rules (``SystemExit`` codes, a traceback and exit 1 for anything
uncaught, ``atexit`` handlers). Commands that start Ray or servers keep using real
subprocesses (``tests.common.cli.ltsweep``): this is for commands expected to stop early.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

_SERVER = r"""
import json, os, runpy, sys, traceback
import numpy, torch, yaml  # the slow imports, done once
for line in sys.stdin:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chdir(req["cwd"])
            os.environ.clear()
            os.environ.update(req["env"])
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(os.open(req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
            os.dup2(os.open(req["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
            sys.stdin = open(0, closefd=False)
            sys.stdout = open(1, "w", buffering=1, closefd=False)
            sys.stderr = open(2, "w", buffering=1, closefd=False)
            sys.argv = ["ltsweep", *req["argv"]]
            try:
                runpy.run_module("ltsweep", run_name="__main__", alter_sys=True)
                code = 0
            except SystemExit as exc:
                if exc.code is None:
                    code = 0
                elif isinstance(exc.code, int):
                    code = exc.code
                else:
                    print(exc.code, file=sys.stderr)
                    code = 1
            except BaseException:
                traceback.print_exc()
                code = 1
            import atexit
            atexit._run_exitfuncs()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    print(json.dumps({"pid": pid}), flush=True)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"rc": os.waitstatus_to_exitcode(status)}), flush=True)
"""

_server: subprocess.Popen | None = None


def _start() -> subprocess.Popen:
    global _server
    if _server is None or _server.poll() is not None:
        _server = subprocess.Popen(
            [sys.executable, "-c", _SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        atexit.register(_server.kill)
    return _server


def _read(server: subprocess.Popen, deadline_s: float) -> dict:
    ready, _, _ = select.select([server.stdout], [], [], deadline_s)
    if not ready:
        raise TimeoutError
    line = server.stdout.readline()
    if not line:
        raise RuntimeError("the CLI fork server died (see the test output above)")
    return json.loads(line)


def run_cli(
    args: tuple[str, ...], cwd: Path | None, env: dict, timeout: float
) -> subprocess.CompletedProcess:
    """Run ``ltsweep ARGS`` in a forked child; a ``CompletedProcess`` as ``subprocess.run`` gives.
    Its output goes through files in a directory of its own, outside anything a test inspects."""
    server = _start()
    scratch = Path(tempfile.mkdtemp(prefix="ltsweep-cli-"))
    out, err = scratch / "stdout", scratch / "stderr"
    request = {
        "argv": list(args),
        "cwd": str(cwd or os.getcwd()),
        "env": env,
        "out": str(out),
        "err": str(err),
    }
    server.stdin.write(json.dumps(request) + "\n")
    server.stdin.flush()
    pid = _read(server, 60)["pid"]
    try:
        rc = _read(server, timeout)["rc"]
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        _read(server, 60)
        raise subprocess.TimeoutExpired(["ltsweep", *args], timeout) from None
    try:
        stdout, stderr = out.read_text(errors="replace"), err.read_text(errors="replace")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return subprocess.CompletedProcess(["ltsweep", *args], rc, stdout, stderr)
