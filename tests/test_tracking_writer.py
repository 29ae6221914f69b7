"""The MLflow writer process (``ltsweep/runtime/tracking_writer.py``), against a real SQLite
store: writes arrive in order and whole, its errors reach the driver, and it never outlives the
driver or writes after it (the end-to-end sweeps, tracking-server outage included, are in
tests/test_sweep_run.py and tests/test_multinode.py)."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ltsweep.runtime import schema as S
from ltsweep.runtime.tracking import Tracker
from ltsweep.runtime.tracking_writer import TrackingWriter, TrackingWriterError, WriterSetup
from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.plan import build_plan

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "sweeps" / "tiny.yaml"


@pytest.fixture
def store(tmp_path: Path):
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "writer")
    parent = tracker.find_or_create("sweep:writer", "sweep writer", {})
    return tracker, parent


def _trials():
    plan = build_plan(load_sweep(TINY))
    return plan.generation[0], plan.transfer[0]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (ended, not yet reaped by its parent) counts as gone
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][0] != "Z"


def _wait_gone(pid: int, timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    return False


def test_writes_arrive_in_order_and_close_waits_for_them(store) -> None:
    tracker, parent = store
    _, trial = _trials()
    writer = TrackingWriter(WriterSetup(tracker.uri, tracker.sweep, parent))
    writer.send("start", trial)
    for epoch in range(3):
        writer.send("live", trial, {"epoch": epoch, "test_accuracy": 0.1 * epoch, "lr": 0.1})
    writer.send("fail", trial, "out of patience")
    assert writer.close(wait_s=10) == 0, "writes were left pending with the store reachable"
    assert _wait_gone(writer.pid, 5), "the writer process is still there after close()"
    tracker.forget()
    run = tracker.find(trial.key)
    assert run is not None, "the trial's run never reached the store"
    run = tracker.client.get_run(run.info.run_id)
    steps = [m.step for m in tracker.client.get_metric_history(run.info.run_id, "test_accuracy")]
    assert sorted(steps) == [0, 1, 2], f"per-epoch points lost or doubled: steps {steps}"
    assert run.info.status == "FAILED", f"the last write (fail) did not land last: {run.info}"
    assert run.data.tags.get(S.TAG_ERROR) == "out of patience", run.data.tags
    assert run.data.tags.get(S.TAG_PARENT) == parent, "the run is not under the sweep's run"
    assert run.data.params.get("seed") == str(trial.job.seed), "the trial's params are missing"


def test_an_error_in_the_writer_reaches_the_driver(store, tmp_path: Path) -> None:
    tracker, parent = store
    gen, _ = _trials()
    writer = TrackingWriter(WriterSetup(tracker.uri, tracker.sweep, parent))
    # a done record whose tickets are not on disk: recording it cannot succeed
    record = {"levels": [{"level": 0, "weights_remaining": 1.0, "history": []}]}
    writer.send("finish", gen, record, str(tmp_path / "no-such-trial"))
    with pytest.raises(TrackingWriterError, match="tracking writer") as err:
        writer.close(wait_s=10)
    assert "ticket" in str(err.value) or "No such file" in str(err.value), (
        f"the writer's error does not say what failed: {err.value}"
    )
    assert _wait_gone(writer.pid, 30), "the writer kept running after its error"


def test_ctrl_c_does_not_stop_the_writer(store) -> None:
    tracker, parent = store
    _, trial = _trials()
    writer = TrackingWriter(WriterSetup(tracker.uri, tracker.sweep, parent))
    writer.send("start", trial)
    time.sleep(1.0)  # let the writer install its SIGINT handler (it also starts on a busy box)
    deadline = time.monotonic() + 120
    while (
        time.monotonic() < deadline
        and tracker.runs(f"tags.`{S.TAG_TRIAL_KEY}` = '{trial.key}'") == []
    ):
        time.sleep(0.2)  # the first write is made: the writer is up and past its set-up
    os.kill(writer.pid, signal.SIGINT)
    writer.send("fail", trial, "stopped")
    assert writer.close(wait_s=10) == 0, "the writer lost a write after Ctrl-C"
    tracker.forget()
    run = tracker.client.get_run(tracker.find(trial.key).info.run_id)
    assert run.info.status == "FAILED", f"the write sent after Ctrl-C was not made: {run.info}"


def test_a_pickled_copy_refuses_to_write(store) -> None:
    tracker, parent = store
    _, trial = _trials()
    writer = TrackingWriter(WriterSetup(tracker.uri, tracker.sweep, parent))
    try:
        copy = pickle.loads(pickle.dumps(writer))  # what Tune does with its callbacks
        with pytest.raises(TrackingWriterError, match="cannot write"):
            copy.send("start", trial)
    finally:
        assert writer.close(wait_s=10) == 0


DRIVER = textwrap.dedent(
    """
    import sys, time
    from ltsweep.runtime.tracking_writer import TrackingWriter, WriterSetup
    writer = TrackingWriter(WriterSetup(sys.argv[1], "writer", sys.argv[2]))
    print(writer.pid, flush=True)
    time.sleep(600)
    """
)


def test_the_writer_ends_with_its_driver(store) -> None:
    tracker, parent = store
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, tracker.uri, parent], stdout=subprocess.PIPE, text=True
    )
    try:
        pid = int(driver.stdout.readline())
        assert _alive(pid), "the writer did not start"
        driver.kill()  # SIGKILL: no chance to stop its writer
        driver.wait(timeout=60)
        assert _wait_gone(pid), f"the writer (pid {pid}) outlived its SIGKILLed driver"
    finally:
        driver.kill()
        driver.wait(timeout=60)
