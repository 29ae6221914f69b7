"""The sweep's MLflow writes, made in a process of their own while the driver goes on.

Recording was most of the driver's work per trial: SQLAlchemy's Python for every write to a
SQLite store (about 70 statements per transfer trial), or an HTTP round trip per write to a
tracking server, and Tune's loop waited on each one before it handed the next trial to a free
worker. Now the driver sends each write as a message and returns; one writer process makes them
in order, through the same idempotent functions (``recording.py``) and the same outbox
(``outbox.py``: a server that is down holds writes back, it never ends the sweep). A thread
would not do: SQLAlchemy's CPU-bound Python holds the GIL against Tune's loop (tried: slower).

The writer is a fresh interpreter (``python -c``), not a fork of a driver that has started Ray's
threads. It stops at once, writing nothing more, when the driver is gone (its end of the socket
closes): a rerun marks what the dead driver left RUNNING as KILLED and records done trials from
their done records, and a writer still writing then would undo that. It ignores Ctrl-C: the
driver, which gets it too, sends what is left and then stops the writer.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ltsweep.runtime.trials import Trial


@dataclass(frozen=True)
class WriterSetup:
    """What the writer process needs to open the sweep's store."""

    uri: str
    sweep: str
    parent_id: str
    retry_every_s: float = 5.0


class TrackingWriterError(RuntimeError):
    """The writer process met an error that is not a tracking server being away."""


# -- the writer process --------------------------------------------------------------------------
def _start(tracker, parent_id: str, trial: Trial):
    from ltsweep.runtime import recording

    return lambda retry: recording.start_trial(tracker, trial, parent_id)


def _live(tracker, parent_id: str, trial: Trial, metrics: dict[str, Any]):
    from ltsweep.runtime import recording

    return lambda retry: recording.log_live(tracker, trial, metrics, retry)


def _finish(tracker, parent_id: str, trial: Trial, record: dict[str, Any], trial_dir: str):
    from ltsweep.runtime import recording

    return lambda retry: recording.finish_trial(tracker, trial, record, parent_id, Path(trial_dir))


def _fail(tracker, parent_id: str, trial: Trial, reason: str):
    from ltsweep.runtime import recording

    return lambda retry: recording.fail_trial(tracker, trial, parent_id, reason)


# message kind -> the write it stands for (the driver's ``send(kind, trial, ...)``)
WRITES: dict[str, Callable[..., Callable[[bool], None]]] = {
    "start": _start,
    "live": _live,
    "finish": _finish,
    "fail": _fail,
}


def serve(conn: Connection, setup: WriterSetup) -> None:
    """The writer's loop: one write per message, in order; ``drain`` answers with how many
    writes a server outage still holds back; an error that is not transient is sent back and
    ends the writer."""
    from ltsweep.runtime.outbox import Outbox
    from ltsweep.runtime.tracking import Tracker

    try:
        tracker = Tracker(setup.uri, setup.sweep)
        tracker.statuses()  # one query fills the run cache: no lookup per trial
    except BaseException as exc:  # whatever it is, the driver must hear it
        conn.send(("error", _describe(exc)))
        return
    box = Outbox(retry_every_s=setup.retry_every_s)
    while True:
        if not conn.poll(setup.retry_every_s):
            if not _guard(conn, box.flush):  # retry held-back writes while no trial reports
                return
            continue
        try:
            kind, *args = conn.recv()
        except (EOFError, OSError):
            return  # the driver is gone: write nothing more (see the module's docstring)
        if kind == "stop":
            return
        if kind == "drain":
            if not _guard(conn, box.flush, args[0]):
                return
            conn.send(("drained", len(box.pending)))
            continue
        trial = args[0]
        write = WRITES[kind](tracker, setup.parent_id, *args)
        if not _guard(conn, box.send, trial.key, write):
            return


def _guard(conn: Connection, call: Callable[..., Any], *args: Any) -> bool:
    """``call(*args)``; on an error, send it to the driver and say so (False)."""
    try:
        call(*args)
    except Exception as exc:  # the driver decides; the writer only reports
        conn.send(("error", _describe(exc)))
        return False
    return True


def _describe(exc: BaseException) -> str:
    first = str(exc).splitlines()[0][:300] if str(exc) else ""
    return f"{type(exc).__name__}: {first}\n{traceback.format_exc()[-4000:]}"


# Imports retried for a few seconds: a Ray job's driver runs from its unpacked working_dir, which
# each node's runtime-env agent deletes and unpacks again as the job's workers start there
# (runner.DRIVER_MODULES); a fresh interpreter importing from it in that moment would fail.
_BOOT = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver ends the writer, not Ctrl-C
for attempt in range(40):
    try:
        from ltsweep.runtime.tracking_writer import child_main
        break
    except (ImportError, OSError):
        if attempt == 39:
            raise
        time.sleep(0.25)
sys.exit(child_main(int(sys.argv[1])))
"""


def child_main(fd: int) -> int:
    import json

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # (also set first thing in _BOOT)
    sock = socket.socket(fileno=fd)
    conn = Connection(os.dup(sock.fileno()))
    sock.close()
    setup = WriterSetup(**json.loads(conn.recv_bytes().decode()))
    serve(conn, setup)
    conn.close()
    return 0


# -- the driver's side ---------------------------------------------------------------------------
class TrackingWriter:
    """The driver's handle: ``send`` a write, ``close`` to send what is left and stop."""

    def __init__(self, setup: WriterSetup) -> None:
        ours, theirs = socket.socketpair()
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
        )
        theirs.close()
        self._conn = Connection(os.dup(ours.fileno()))
        ours.close()
        import json

        self._conn.send_bytes(json.dumps(asdict(setup)).encode())
        self._closed = False

    @property
    def pid(self) -> int:
        return self._proc.pid

    def __reduce__(self):
        # Tune pickles its callbacks with the experiment's state (for a restore ltsweep never
        # does): the copy is a handle that refuses writes, not a second writer.
        return (_DetachedWriter, (self.pid,))

    def send(self, kind: str, trial: Trial, *args: Any) -> None:
        """Queue one write (``WRITES``); raises the writer's error, if it met one since."""
        self._raise_error(wait_s=0.0)
        try:
            self._conn.send((kind, trial, *args))
        except OSError:
            self._raise_error(wait_s=5.0)
            raise TrackingWriterError(self._died()) from None

    def close(self, wait_s: float) -> int:
        """Let the writer make every write sent so far, waiting up to ``wait_s`` for a server
        that is away; then stop it. Returns how many writes are still held back (0: all made)."""
        if self._closed:
            return 0
        self._closed = True
        try:
            self._conn.send(("drain", wait_s))
            deadline = time.monotonic() + wait_s + 120
            while True:
                left = max(deadline - time.monotonic(), 0.0)
                if not self._conn.poll(min(left, 1.0)):
                    if self._proc.poll() is not None:
                        raise TrackingWriterError(self._died())
                    if left <= 0:
                        raise TrackingWriterError(
                            f"the tracking writer (pid {self.pid}) did not finish within "
                            f"{wait_s + 120:.0f} s"
                        )
                    continue
                reply = self._conn.recv()
                if reply[0] == "error":
                    raise TrackingWriterError(f"tracking writer: {reply[1]}")
                self._conn.send(("stop",))
                return int(reply[1])
        except (EOFError, OSError):
            raise TrackingWriterError(self._died()) from None
        finally:
            self._stop()

    def abandon(self) -> None:
        """Stop without waiting for what is queued (the driver is failing anyway)."""
        self._closed = True
        self._stop(grace_s=0.0)

    def _stop(self, grace_s: float = 30.0) -> None:
        self._conn.close()  # the writer reads EOF and returns
        try:
            self._proc.wait(timeout=grace_s if grace_s > 0 else 0.01)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def _raise_error(self, wait_s: float) -> None:
        try:
            ready = self._conn.poll(wait_s)
        except (EOFError, OSError):
            return
        if not ready:
            return
        try:
            reply = self._conn.recv()
        except (EOFError, OSError):
            raise TrackingWriterError(self._died()) from None
        if reply[0] == "error":
            raise TrackingWriterError(f"tracking writer: {reply[1]}")

    def _died(self) -> str:
        code = self._proc.poll()
        return f"the tracking writer (pid {self.pid}) ended unexpectedly (exit code {code})"


class _DetachedWriter:
    """A pickled ``TrackingWriter``: it stands for a process it cannot reach."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def send(self, kind: str, trial: Trial, *args: Any) -> None:
        raise TrackingWriterError(
            f"a copy of the tracking writer (pid {self.pid}) cannot write: only the driver "
            "that started it can"
        )
