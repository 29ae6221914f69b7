"""A worker that dies while Ray Tune hands it a trial: the trial is retried, not given up.

Ray Tune 2.60 handles that one death twice (``_actor_failed``, then the ``reset`` task's own
error callback): the first requeues the trial, the second finds it PENDING and ends it in ERROR
whatever ``max_failures`` says. ltsweep runs such trials again (``tune/retry.py``). The death
is real (the worker process exits inside Tune's ``reset``) and caught with no timing, see
``tests/common/handoff_death.py``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.common.cli import REPO
from tests.common.handoff_death import MARKER

SWEEP = REPO / "tests" / "sweeps" / "handoff.yaml"
TIMEOUT = 1800  # seconds for the whole sweep: ~1.5 min alone on 2 cores, 10+ min at load 25
KEY = re.compile(r"key=([gt]-[0-9a-f]+)")


@pytest.mark.slow
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
            [sys.executable, "-m", "tests.common.handoff_death", str(SWEEP), str(out), str(result)],
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


# -- the retry bookkeeping alone (no Ray): budgets, order, blocked transfers, interruption -----
class Passes:
    """``run_pass`` for ``settle``, scripted: each call takes the next outcome (trial key ->
    deaths Tune counted twice again, or "failed"), and, as a real pass does, leaves done records
    for the trials it finishes and, for a generation trial, its tickets."""

    def __init__(self, paths, trials, script: list[dict[str, object]]) -> None:
        self.paths, self.trials, self.script = paths, trials, list(script)
        self.calls: list[tuple[list[str], int]] = []
        self.failed: set[str] = set()

    def __call__(self, gens, xfers, budget, number):
        from ltsweep.storage.done import write_done
        from ltsweep.tune.retry import PassResult

        keys = [t.key for t in gens + xfers]
        self.calls.append((keys, budget))
        step = self.script.pop(0)
        owed = {k: v for k, v in step.items() if isinstance(v, int)}
        self.failed |= {k for k, v in step.items() if v == "failed"}
        for key in keys:
            if key not in step:
                write_done(self.paths, key, {"key": key})
                make_tickets(self.paths, key)
        return PassResult(keys, owed, [])


def make_tickets(paths, key: str) -> None:
    for level in (0, 1):
        where = paths.trial_dir(key) / "tickets" / f"level_{level:02d}"
        where.mkdir(parents=True, exist_ok=True)
        (where / "ticket.json").write_text("{}")


@pytest.fixture
def handoff(tmp_path: Path):
    from ltsweep.storage.paths import SweepPaths
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan

    plan = build_plan(load_sweep(SWEEP))
    xfer = plan.transfer[0]
    return SweepPaths(tmp_path), {t.key: t for t in plan.trials}, xfer.source_key, xfer.key


def _settle(paths, trials, first, script, retries=2):
    from ltsweep.tune.retry import settle

    passes = Passes(paths, trials, script)
    blocked = settle(first, passes, trials, retries, paths, lambda k: k in passes.failed)
    return passes, blocked


def test_settle_runs_the_source_again_then_its_waiting_transfer(handoff) -> None:
    from ltsweep.tune.retry import PassResult

    paths, trials, gen, xfer = handoff
    first = PassResult([gen, xfer], {gen: 1}, [xfer])  # gen: one death, counted twice
    passes, blocked = _settle(paths, trials, first, [{}, {}])
    assert passes.calls == [([gen], 1), ([xfer], 2)], (
        f"want the generation trial again with 2 - 1 = 1 retries left, then the transfer that "
        f"waited on its ticket with all 2; ran {passes.calls}"
    )
    assert blocked == [], f"the transfer stayed blocked: {blocked}"


def test_settle_keeps_retries_the_bound(handoff) -> None:
    from ltsweep.tune.retry import PassResult

    paths, trials, gen, xfer = handoff
    first = PassResult([gen, xfer], {gen: 1}, [xfer])
    # gen's retry dies at a handoff again (a 2nd death), then really fails: its transfer never
    # gets a ticket and is blocked, not run.
    passes, blocked = _settle(paths, trials, first, [{gen: 1}, {gen: "failed"}])
    assert [budget for _, budget in passes.calls] == [1, 0], (
        f"after 1 then 2 deaths of retries 2, want passes with 1 then 0 retries: {passes.calls}"
    )
    assert blocked == [xfer], f"the transfer of a failed source must be blocked: {blocked}"


def test_settle_runs_nothing_after_an_interrupted_pass(handoff) -> None:
    from ltsweep.tune.retry import PassResult

    paths, trials, gen, xfer = handoff
    # xfer is neither done, failed, owed nor blocked: Ctrl-C stopped the pass
    first = PassResult([gen, xfer], {gen: 1}, [])
    passes, _ = _settle(paths, trials, first, [])
    assert passes.calls == [], f"an interrupted run went on retrying: {passes.calls}"


def test_ledger_tells_a_double_count_from_a_second_death() -> None:
    from ltsweep.tune.retry import Ledger

    ledger = Ledger()
    ledger.recovered("g-a", iteration=7)
    assert ledger.given_up_by_mistake("g-a", iteration=7), "same step: the one death, twice"
    ledger.recovered("g-b", iteration=7)
    assert not ledger.given_up_by_mistake("g-b", iteration=9), "a later step is a real death"
    assert not ledger.given_up_by_mistake("g-c", iteration=7), "never recovered: a real error"
    assert ledger.owed == {"g-a": 1}, f"owed retries: {ledger.owed}"
