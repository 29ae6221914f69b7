"""A worker that dies while Ray Tune hands it a trial: the trial is retried, not given up.

Ray Tune 2.60 handles that one death twice (``_actor_failed``, then the ``reset`` task's own
error callback): the first requeues the trial, the second finds it PENDING and ends it in ERROR
whatever ``max_failures`` says. ltsweep runs such trials again (``sweep/retry.py``). The death
is real (the worker process exits inside Tune's ``reset``) and caught with no timing, see
``tests/handoff_death.py``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import REPO
from tests.handoff_death import MARKER

pytestmark = pytest.mark.slow
SWEEP = REPO / "tests" / "sweeps" / "handoff.yaml"
TIMEOUT = 900  # seconds: ~40 s on a quiet 2-core machine, far more beside other work
KEY = re.compile(r"key=([gt]-[0-9a-f]+)")


def test_worker_death_at_handoff_is_retried_not_failed(tmp_path: Path) -> None:
    out, result, log = tmp_path / "out", tmp_path / "result.json", tmp_path / "run.log"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    # Tune's reset waits this long for the parked trial thread (default 2 s): under load the
    # thread's exit must not lose a race with that timeout.
    env["TUNE_FUNCTION_THREAD_TIMEOUT_S"] = "600"
    for inherited in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI"):
        env.pop(inherited, None)
    with open(log, "w") as fh:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.handoff_death", str(SWEEP), str(out), str(result)],
            cwd=REPO,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            timeout=TIMEOUT,
        )
    output = log.read_text(errors="replace")[-6000:]
    assert proc.returncode == 0, f"the sweep driver exited {proc.returncode}:\n{output}"
    marker = out / MARKER
    assert marker.exists(), f"no trial finished and parked its worker for the handoff:\n{output}"
    death = json.loads(marker.read_text() or "{}")
    handed = KEY.search(death.get("handing_over", ""))
    assert handed and handed.group(1) != death["died_in"], (
        f"the worker did not die while being handed a new trial ({death}): the test's premise "
        f"failed, not the retry:\n{output}"
    )
    victim = handed.group(1)
    summary = json.loads(result.read_text())
    assert not summary["failed"] and not summary["blocked"], (
        f"trial {victim}, whose worker died at the handoff, was given up with retries left "
        f"(failed {summary['failed']}, blocked {summary['blocked']}):\n{output}"
    )
    assert summary["finished"] == len(summary["keys"]), f"not every trial finished: {summary}"
    for key in summary["keys"]:
        assert (out / "trials" / key / "done.json").exists(), f"{key} has no done record"
    assert_one_finished_run_per_trial(out, summary["keys"])


def assert_one_finished_run_per_trial(out: Path, keys: list[str]) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    exp = client.get_experiment_by_name("ltsweep/handoff")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    by_key: dict[str, list[str]] = {}
    for r in runs:
        by_key.setdefault(r.data.tags.get("ltsweep.trial_key", ""), []).append(r.info.status)
    for key in keys:
        assert by_key.get(key) == ["FINISHED"], f"MLflow runs of {key}: {by_key.get(key)}"
    trials = [s for k, v in by_key.items() if k.startswith(("g-", "t-")) for s in v]
    assert "RUNNING" not in trials, f"a trial's run was left RUNNING: {by_key}"
