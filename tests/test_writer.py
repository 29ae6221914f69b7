"""The MLflow writer process (``tracking/writer.py``): what the driver sends it lands in a real
SQLite store exactly as the driver would have written it; its errors reach the driver; it never
outlives the driver; Ctrl-C does not stop it half-way."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from ltsweep.tracking import schema as S
from ltsweep.tracking.client import Tracker
from ltsweep.tracking.trial_runs import record_dir
from ltsweep.tracking.writer import InlineRecorder, WriterError, WriterProcess, start_writer
from tests.common.done_trials import recorded_trials

ROOT = Path(__file__).resolve().parent.parent


def _store(tmp_path: Path) -> tuple[str, Tracker, str]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, "writer", tmp_path / "artifacts")
    return uri, tracker, tracker.find_or_create("sweep:writer", "sweep", {})


def records_like_the_driver(tmp_path: Path) -> None:
    paths, done = recorded_trials(tmp_path)
    (gen, gen_record), (xfer, xfer_record) = done
    uri, tracker, parent = _store(tmp_path)
    recorder = start_writer(tracker, parent, [gen, xfer])
    assert isinstance(recorder, WriterProcess), f"no writer process on Linux: {recorder!r}"
    recorder.start(gen)
    recorder.finish(gen, gen_record, record_dir(paths, gen))
    recorder.start(xfer)
    recorder.live(xfer, {**xfer_record["history"][0], "step": 0})
    recorder.finish(xfer, xfer_record, record_dir(paths, xfer))
    assert recorder.close(wait_s=0.0) == 0, "the writer reports writes it could not send"
    with pytest.raises(ChildProcessError):
        os.waitpid(recorder.pid, os.WNOHANG)  # reaped by close: no zombie left

    fresh = Tracker(uri, "writer", tmp_path / "artifacts")
    statuses = fresh.statuses()
    levels = [f"{gen.key}/L{lv:02d}" for lv in range(gen.job.imp.levels + 1)]
    for key in [gen.key, xfer.key, *levels]:
        assert statuses.get(key) == "FINISHED", f"{key} is {statuses.get(key)} in the store"
    run = fresh.find(xfer.key)
    history = fresh.client.get_metric_history(run.info.run_id, "test_accuracy")
    assert [m.step for m in history] == [0], (
        f"the live epoch and the final record of step 0 gave steps {[m.step for m in history]}"
    )
    assert run.data.metrics[S.FINAL_ACCURACY] == pytest.approx(
        xfer_record["history"][-1]["test_accuracy"]
    ), "the transfer's final accuracy is not the done record's"
    assert run.data.params, "the transfer run has no params"


def error_reaches_the_driver(tmp_path: Path) -> None:
    paths, done = recorded_trials(tmp_path)
    (gen, _), (xfer, xfer_record) = done
    _, tracker, parent = _store(tmp_path)
    recorder = start_writer(tracker, parent, [gen, xfer])
    broken = {k: v for k, v in xfer_record.items() if k != "weights_remaining"}
    recorder.finish(xfer, broken, record_dir(paths, xfer))
    with pytest.raises(WriterError, match="weights_remaining"):
        recorder.close(wait_s=0.0)
    assert recorder.close(wait_s=0.0) == 0, "a second close of a failed writer must not hang"


def _in_a_fresh_process(body: str, tmp_path: Path) -> None:
    """Run ``body`` in a process with one thread, as ``ltsweep run`` has when it forks the
    writer (a test process may hold threads of earlier tests: then no writer is forked)."""
    code = (
        "from pathlib import Path; "  # -c in cwd ROOT: this checkout's tests and ltsweep first
        f"from tests.test_writer import {body}; {body}(Path({str(tmp_path)!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{body} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"


def test_writer_process_records_like_the_driver(tmp_path) -> None:
    _in_a_fresh_process("records_like_the_driver", tmp_path)


def test_writer_error_reaches_the_driver(tmp_path) -> None:
    _in_a_fresh_process("error_reaches_the_driver", tmp_path)


def test_no_fork_while_other_threads_run(tmp_path) -> None:
    """A lock another thread (Ray's, a storage lease's renewal) holds at the fork would stay
    locked in the writer for good: with other threads running, the driver writes inline."""
    _, tracker, parent = _store(tmp_path)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        recorder = start_writer(tracker, parent, [])
    finally:
        stop.set()
        other.join()
    assert isinstance(recorder, InlineRecorder), f"forked a writer beside a thread: {recorder!r}"


DRIVER = textwrap.dedent(
    """
    import os, sys, time
    from ltsweep.tracking.client import Tracker
    from ltsweep.tracking.writer import start_writer
    tracker = Tracker({uri!r}, "writer")
    recorder = start_writer(tracker, tracker.find_or_create("sweep:w", "w", {{}}), [])
    print(recorder.pid, flush=True)
    time.sleep(600)
    """
)


def _wait_gone(pid: int, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def _driver(tmp_path: Path) -> tuple[subprocess.Popen, int]:
    script = DRIVER.format(uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    driver = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,  # -c puts the working directory first: this checkout's ltsweep
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    line = driver.stdout.readline()
    assert line.strip().isdigit(), f"the driver printed no writer pid (exit {driver.poll()})"
    return driver, int(line)


def test_writer_dies_with_its_driver_and_ignores_ctrl_c(tmp_path) -> None:
    driver, writer = _driver(tmp_path)
    try:
        os.kill(writer, signal.SIGINT)  # Ctrl-C reaches the whole process group
        time.sleep(1.0)
        os.kill(writer, 0)  # still there: raises ProcessLookupError if SIGINT stopped it
        driver.kill()  # SIGKILL: no cleanup code of the driver runs
        driver.wait(timeout=60)
        assert _wait_gone(writer), f"writer {writer} outlived its SIGKILLed driver by 60 s"
    finally:
        if driver.poll() is None:
            driver.kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(writer, signal.SIGKILL)
