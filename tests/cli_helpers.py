"""Running the real ``ltsweep`` entry point in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def ltsweep(
    *args: str,
    cwd: Path | None = None,
    env: dict | None = None,
    timeout: float = 600,
    prefix: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    """``prefix`` runs the CLI under another command (e.g. ``setpriv`` dropping capabilities)."""
    full_env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1", **(env or {})}
    for inherited in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS"):
        if inherited not in (env or {}):
            full_env.pop(inherited, None)
    return subprocess.run(
        [*prefix, sys.executable, "-m", "ltsweep", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}
