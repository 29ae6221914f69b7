"""Tracking writes that survive a tracking server going away for a while.

The done records on the sweep's storage are the truth; MLflow is derived from them by idempotent
calls (``recording.py``). So a write that fails because the server is unreachable is kept, in
order, and tried again later (on the next trial event, and before the run ends): the sweep goes
on training meanwhile. A write still pending when the run ends is redone by the next
``ltsweep run`` from the done records, so nothing is lost; and because every retry skips what the
store already has (runs by trial key, metric points by step), nothing is doubled either.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

# A write that is retried is called with retry=True: it must then skip what is already stored.
Write = Callable[[bool], None]

_TRANSIENT_TEXT = (
    "failed with exception",  # MlflowException around any transport error: no HTTP answer
    "Connection broken",  # the server died mid-response (IncompleteRead)
    "Connection reset",
    "Max retries exceeded",
    "Connection refused",
    "ConnectionError",
    "Connection aborted",
    "Read timed out",
    "RemoteDisconnected",
    "TEMPORARILY_UNAVAILABLE",
    "error code 50",  # MlflowException: "failed with error code 503 != 200"
    "response code 50",
    "status code 50",
)


def is_transient(exc: BaseException) -> bool:
    """A tracking server that is down or restarting, not a bad request."""
    try:
        import requests

        if isinstance(exc, requests.exceptions.RequestException):
            return True
    except ImportError:  # pragma: no cover - requests comes with mlflow
        pass
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    text = f"{type(exc).__name__}: {exc}"
    return any(marker in text for marker in _TRANSIENT_TEXT)


class Outbox:
    """Ordered pending tracking writes; ``send`` never raises on a transient tracking error."""

    def __init__(self, retry_every_s: float = 5.0, out=None) -> None:
        self.pending: list[tuple[str, Write]] = []
        self.retry_every_s = retry_every_s
        self._last_try = 0.0
        self._out = out or sys.stderr

    def send(self, label: str, write: Write) -> None:
        """Write now, after what is pending (order matters: a run before its metrics)."""
        self.flush()
        if self.pending:
            self.pending.append((label, write))
            return
        self._attempt(label, write, retry=False)

    def flush(self, wait_s: float = 0.0) -> bool:
        """Retry pending writes (at most every ``retry_every_s`` unless waiting); True if none
        is left. ``wait_s`` > 0 keeps trying that long (the end of a run)."""
        if not self.pending:
            return True
        if wait_s <= 0 and time.monotonic() - self._last_try < self.retry_every_s:
            return False
        deadline = time.monotonic() + wait_s
        while self.pending:
            label, write = self.pending.pop(0)
            if not self._attempt(label, write, retry=True, front=True):
                if time.monotonic() >= deadline:
                    return False
                time.sleep(min(self.retry_every_s, max(0.0, deadline - time.monotonic())))
        return True

    def _attempt(self, label: str, write: Write, retry: bool, front: bool = False) -> bool:
        try:
            write(retry)
        except Exception as exc:
            if not is_transient(exc):
                raise
            if not self.pending and not front:
                first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                print(
                    f"ltsweep: tracking server unreachable ({first}); training goes on, "
                    "records are kept and sent when it is back",
                    file=self._out,
                    flush=True,
                )
            if front:
                self.pending.insert(0, (label, write))
            else:
                self.pending.append((label, write))
            self._last_try = time.monotonic()
            return False
        if retry and not self.pending:
            print("ltsweep: tracking server is back; pending records sent", file=self._out)
        return True
