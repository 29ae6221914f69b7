"""Who writes the MLflow store while Tune runs: the driver itself (``InlineRecorder``), or one
writer process of its own (``WriterProcess``), so that Tune's loop does not wait on store writes.

The store's writes (MLflow's SQLAlchemy store: create, one batch, terminate per run) cost the
driver CPU for every trial, in series with Tune's scheduling; in a process of their own they
overlap with it.

The driver sends small JSON messages (a trial key, its done record, live metrics) down a pipe;
the writer holds the sweep's trials (it is forked from the driver, before Ray starts, so it
inherits them and imports nothing) and turns each message into the same idempotent
``trial_runs.py`` calls, through the same ``Outbox`` (a tracking server that is away holds
writes, it does not stop the sweep). It dies with the driver (PR_SET_PDEATHSIG): what it had not
written yet is re-derived from the done records by the next run, as for an in-process write.
Only one process writes at a time: the driver does not touch the store between ``start_writer``
and ``close``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Protocol

from ltsweep.sweep.trial import Trial
from ltsweep.tracking import schema as S
from ltsweep.tracking.outbox import Outbox, is_transient

LIVE_FLUSH_S = 1.0  # the oldest a held tracking write (params, live epochs) gets while Tune runs
LIVE_KEYS = ("step", "epoch", "level", *S.EPOCH_METRICS, S.TRAIN_RESOLUTION)


class Recorder(Protocol):
    """The driver's side of tracking during ``run_trials``: every call returns at once."""

    def start(self, trial: Trial) -> None: ...
    def live(self, trial: Trial, metrics: dict[str, Any]) -> None: ...
    def finish(self, trial: Trial, record: dict[str, Any], trial_dir: Path) -> None: ...
    def fail(self, trial: Trial, reason: str) -> None: ...
    def tick(self) -> None: ...
    def close(self, wait_s: float) -> int: ...


def live_metrics(result: dict[str, Any]) -> dict[str, float]:
    """What ``trial_runs.log_live`` uses of a Tune result (plain floats: they cross a pipe)."""
    return {k: float(result[k]) for k in LIVE_KEYS if isinstance(result.get(k), (int, float))}


class InlineRecorder:
    """Writes in the calling process, through an ``Outbox``."""

    def __init__(self, tracker, parent_id: str, out=None) -> None:
        self.tracker, self.parent_id = tracker, parent_id
        self.outbox = Outbox(out=out)

    def start(self, trial: Trial) -> None:
        from ltsweep.tracking import trial_runs

        self.outbox.send(
            trial.key, lambda retry: trial_runs.start_trial(self.tracker, trial, self.parent_id)
        )

    def live(self, trial: Trial, metrics: dict[str, Any]) -> None:
        from ltsweep.tracking import trial_runs

        self.outbox.send(
            trial.key, lambda retry: trial_runs.log_live(self.tracker, trial, metrics, retry)
        )

    def finish(self, trial: Trial, record: dict[str, Any], trial_dir: Path) -> None:
        from ltsweep.tracking import trial_runs

        self.outbox.send(
            trial.key,
            lambda retry: trial_runs.finish_trial(
                self.tracker, trial, record, self.parent_id, trial_dir
            ),
        )

    def fail(self, trial: Trial, reason: str) -> None:
        from ltsweep.tracking import trial_runs

        self.outbox.send(
            trial.key,
            lambda retry: trial_runs.fail_trial(self.tracker, trial, self.parent_id, reason),
        )

    def tick(self) -> None:
        """Send held writes older than ``LIVE_FLUSH_S`` (they wait while the server is away)."""
        if not self.outbox.pending and self.tracker.holds(LIVE_FLUSH_S):
            self.outbox.send("held", lambda retry: self.tracker.flush_held(LIVE_FLUSH_S))
        else:
            self.outbox.flush()

    def close(self, wait_s: float) -> int:
        """Send everything held, trying up to ``wait_s`` while the server is away; returns how
        many writes are still not sent (the next run derives them from the done records)."""
        self.outbox.send("held", lambda retry: self.tracker.flush_held())
        self.outbox.flush(wait_s=wait_s)
        return len(self.outbox.pending)


# -- the writer process --------------------------------------------------------------------------
class WriterError(RuntimeError):
    """The writer process stopped on an error it could not hold for later (its traceback is on
    stderr)."""


def start_writer(tracker, parent_id: str, trials: list[Trial]) -> Recorder:
    """A ``WriterProcess`` over ``tracker``'s store; ``InlineRecorder`` where a fork is not safe:
    not Linux, or other threads running (Ray's, a storage lease's renewal): a lock one of them
    holds at the fork would stay locked in the writer. Call it from the main thread (the writer
    dies with the thread that forked it)."""
    if sys.platform != "linux" or threading.active_count() > 1:
        return InlineRecorder(tracker, parent_id)
    # What the writer runs, imported here: a Ray job's working_dir (where ltsweep lives) may be
    # re-unpacked while the job starts, and an import in that moment fails (runner.py).
    for name in ("ltsweep.tracking.trial_runs", "ltsweep.core.tickets"):  # tickets: hashes
        importlib.import_module(name)
    _close_connections(tracker)  # no open store connection crosses the fork

    by_key = {t.key: t for t in trials}
    ops_read, ops_write = os.pipe()
    back_read, back_write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    driver = os.getpid()
    # Ctrl-C between the fork and the child's SIG_IGN would kill the writer: SIGINT waits.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pid = os.fork()
        if pid == 0:  # the writer: never returns
            code = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides when it stops
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                os.close(ops_write)
                os.close(back_read)
                _serve(InlineRecorder(tracker, parent_id), by_key, ops_read, back_write, driver)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(ops_read)
        os.close(back_write)
        writer = WriterProcess(pid, ops_write, back_read)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    return writer


class WriterProcess:
    """The driver's end of the writer: ``send`` blocks only while the pipe is full (the writer
    is behind by ~64 KiB of messages), which keeps memory bounded on a grid."""

    def __init__(self, pid: int, ops_fd: int, back_fd: int) -> None:
        self.pid, self._ops, self._back = pid, ops_fd, back_fd
        self._closed = self._interrupted = False

    def start(self, trial: Trial) -> None:
        self._send({"op": "start", "key": trial.key})

    def live(self, trial: Trial, metrics: dict[str, Any]) -> None:
        self._send({"op": "live", "key": trial.key, "metrics": metrics})

    def finish(self, trial: Trial, record: dict[str, Any], trial_dir: Path) -> None:
        self._send({"op": "finish", "key": trial.key, "record": record, "dir": str(trial_dir)})

    def fail(self, trial: Trial, reason: str) -> None:
        self._send({"op": "fail", "key": trial.key, "reason": reason})

    def tick(self) -> None:
        """The writer flushes held writes on its own clock; here only its health is checked."""
        if not self._closed and select.select([self._back], [], [], 0)[0]:
            self._raise_reply()

    def close(self, wait_s: float) -> int:
        """Wait for the writer to send everything (up to ``wait_s`` more while the tracking
        server is away); returns how many writes are still not sent."""
        if self._closed:
            return 0
        if self._interrupted:  # a Ctrl-C stopped the last wait: do not wait again
            self._kill()
            return 0
        self._send({"op": "close", "wait_s": wait_s})
        reply = self._reply()
        if "error" in reply:
            raise WriterError(reply["error"])
        return int(reply["pending"])

    def _send(self, message: dict[str, Any]) -> None:
        if self._closed:
            raise WriterError("the MLflow writer process has stopped")
        data = (json.dumps(message) + "\n").encode()
        try:
            while data:
                data = data[os.write(self._ops, data) :]
        except BrokenPipeError:
            self._raise_reply()
        except BaseException:  # Ctrl-C mid-message: the pipe holds half a line, end it
            self._interrupted = True
            self._kill()
            raise

    def _reply(self) -> dict[str, Any]:
        """The writer's one reply (it exits after it), or an error if it died without one."""
        chunks: list[bytes] = []
        try:
            while not chunks or not chunks[-1].endswith(b"\n"):
                chunk = os.read(self._back, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except BaseException:  # Ctrl-C while waiting for the writer: the next close kills it
            self._interrupted = True
            raise
        status = self._reap()
        text = b"".join(chunks).decode()
        if not text:
            raise WriterError(
                f"the MLflow writer process stopped ({_exit_text(status)}) before it finished; "
                "the next `ltsweep run` records what it had not written"
            )
        return json.loads(text.splitlines()[0])

    def _reap(self) -> int:
        self._closed = True
        os.close(self._ops)
        os.close(self._back)
        return os.waitpid(self.pid, 0)[1]

    def _kill(self) -> None:
        """Stop the writer now; what it had not written, the next run records."""
        if self._closed:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self._reap()

    def _raise_reply(self) -> None:
        reply = self._reply()
        raise WriterError(reply.get("error", f"unexpected reply from the writer: {reply}"))


def _exit_text(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def _die_with(driver: int) -> None:
    """SIGKILL when the driver dies, whatever kills it (a writer alone would race the rerun)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != driver:  # it died before prctl took effect
        os._exit(1)


def _engine(tracker):
    store = getattr(getattr(tracker.client, "_tracking_client", None), "store", None)
    return getattr(store, "engine", None)


def _close_connections(tracker) -> None:
    """Before the fork: a SQLite connection open in both processes shares one set of file locks
    (SQLite's own bookkeeping is per process), so none may cross; the driver reopens on use."""
    engine = _engine(tracker)
    if engine is not None:
        engine.dispose()


def _fresh_connections(tracker) -> None:
    """In the writer: whatever the pool still references stays the driver's."""
    engine = _engine(tracker)
    if engine is not None:
        engine.dispose(close=False)


def _serve(rec: InlineRecorder, by_key: dict[str, Trial], ops: int, back: int, driver: int) -> None:
    _die_with(driver)
    _fresh_connections(rec.tracker)
    try:
        _loop(rec, by_key, ops, back)
    except Exception:
        text = traceback.format_exc()
        print(text, file=sys.stderr, flush=True)
        last = text.strip().splitlines()[-1][:2000]  # a reply the pipe takes whole
        os.write(back, (json.dumps({"error": last}) + "\n").encode())


def _loop(rec: InlineRecorder, by_key: dict[str, Trial], ops: int, back: int) -> None:
    try:
        rec.tracker.statuses()  # every run in one query: ``find`` then needs none per trial
    except Exception as exc:  # a server away now: ``find`` asks per run, through the outbox
        if not is_transient(exc):
            raise
    buffer = b""
    while True:
        ready = select.select([ops], [], [], LIVE_FLUSH_S / 2)[0]
        if not ready:
            rec.tick()
            continue
        chunk = os.read(ops, 1 << 16)
        if not chunk:
            return  # the driver closed the pipe without ``close``: it is going away
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            message = json.loads(line)
            if message["op"] == "close":
                pending = rec.close(float(message["wait_s"]))
                os.write(back, (json.dumps({"pending": pending}) + "\n").encode())
                return
            _apply(rec, by_key, message)
        rec.tick()


_OPS = {
    "start": lambda rec, trial, m: rec.start(trial),
    "live": lambda rec, trial, m: rec.live(trial, m["metrics"]),
    "finish": lambda rec, trial, m: rec.finish(trial, m["record"], Path(m["dir"])),
    "fail": lambda rec, trial, m: rec.fail(trial, m["reason"]),
}


def _apply(rec: InlineRecorder, by_key: dict[str, Trial], message: dict[str, Any]) -> None:
    _OPS[message["op"]](rec, by_key[message["key"]], message)
