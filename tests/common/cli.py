"""Running the real ``ltsweep`` entry point in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # tests/common/cli.py -> the repository


def ltsweep(
    *args: str,
    cwd: Path | None = None,
    env: dict | None = None,
    timeout: float = 600,
    prefix: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    """``prefix`` runs the CLI under another command (e.g. ``setpriv`` dropping capabilities)."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "ltsweep", *args],
        cwd=cwd,
        env=_cli_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _cli_env(env: dict | None) -> dict:
    """This process's environment plus ``env``; a stray tracking URI or Ray address is dropped."""
    full_env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1", **(env or {})}
    for inherited in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS"):
        if inherited not in (env or {}):
            full_env.pop(inherited, None)
    return full_env


def tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


def ltsweep_quick(
    *args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """``ltsweep`` for a command expected to stop early (bad input): the same entry point and
    exit rules as ``ltsweep()``, forked from a process that has imported torch already
    (``tests/common/forkserver.py``), so a case costs a fraction of a second instead of seconds."""
    from tests.common.forkserver import run_cli

    return run_cli(args, cwd, _cli_env(env), timeout)
