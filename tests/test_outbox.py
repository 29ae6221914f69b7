"""Tracking writes held back while the server is away: kept in order, retried, never doubled.

(The real outage, a killed MLflow server, is in tests/test_multinode.py.)
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ltsweep.tracking.outbox import Outbox, is_transient


class Server:
    """A stand-in for the tracking server's availability; the writes are plain functions."""

    def __init__(self) -> None:
        self.up = True
        self.log: list[tuple[str, bool]] = []

    def write(self, name: str):
        def call(retry: bool) -> None:
            if not self.up:
                raise ConnectionError("Connection refused")
            self.log.append((name, retry))

        return call


def test_writes_wait_in_order_while_the_server_is_down_and_go_when_it_is_back() -> None:
    server, err = Server(), io.StringIO()
    box = Outbox(retry_every_s=0.0, out=err)
    box.send("a", server.write("start"))
    server.up = False
    box.send("a", server.write("epoch 1"))
    box.send("a", server.write("epoch 2"))
    assert [n for n, _ in server.log] == ["start"], "a write went through a dead server"
    assert len(box.pending) == 2, "writes made while the server was down were dropped"
    assert "unreachable" in err.getvalue() and err.getvalue().count("\n") == 1, err.getvalue()
    server.up = True
    box.send("a", server.write("finish"))
    assert server.log == [
        ("start", False),
        ("epoch 1", True),
        ("epoch 2", True),
        ("finish", False),
    ], f"held-back writes not sent first, in order, as retries: {server.log}"
    assert box.flush() and not box.pending


def test_flush_gives_up_after_its_wait_and_keeps_the_writes() -> None:
    server = Server()
    server.up = False
    box = Outbox(retry_every_s=0.05, out=io.StringIO())
    box.send("a", server.write("x"))
    assert box.flush(wait_s=0.2) is False and len(box.pending) == 1, "a pending write was lost"


def test_a_bad_request_is_not_buffered() -> None:
    def bad(retry: bool) -> None:
        raise ValueError("INVALID_PARAMETER_VALUE: changed param")

    with pytest.raises(ValueError):
        Outbox(out=io.StringIO()).send("a", bad)
    assert not is_transient(ValueError("INVALID_PARAMETER_VALUE"))
    assert is_transient(RuntimeError("API request failed with error code 503 != 200"))
    broken = "API request to http://h/api failed with exception ('Connection broken: IncompleteRead"
    assert is_transient(RuntimeError(broken)), "a server killed mid-response is transient"


def test_a_retried_metric_write_never_doubles_a_point(tmp_path: Path) -> None:
    from ltsweep.tracking.client import Tracker

    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "outbox")
    run = tracker.find_or_create("k", "k", {})
    rows = [("test_accuracy", 0.5, 0), ("test_accuracy", 0.6, 1)]
    tracker.log_metrics(run, rows)  # reached the store, but the caller saw an error
    tracker.log_metrics(run, [*rows, ("test_accuracy", 0.7, 2)], once=True)  # the retry
    steps = sorted(m.step for m in tracker.client.get_metric_history(run, "test_accuracy"))
    assert steps == [0, 1, 2], f"a retried write doubled or lost points: {steps}"
