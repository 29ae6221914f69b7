"""One background thread that writes the tracking store while Tune's control loop keeps
scheduling.

Tune calls its callbacks inside its own loop: recording a trial in MLflow there (a dozen SQLite
commits) kept every worker waiting for the next trial. Here the callbacks only enqueue; the
writer applies the records in order, in one thread (still one writer, as SQLite needs), and the
driver drains the queue before it summarizes. Records a kill leaves unwritten are rebuilt from
the done records on the next run (``runner._sync_done``), as before.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any


class StoreWriter:
    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="ltsweep-store-writer", daemon=True)
        self._thread.start()

    def __getstate__(self) -> dict[str, Any]:
        return {}  # Tune pickles its callbacks into snapshots nobody restores: no thread, no queue

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._queue, self._error, self._thread = None, None, None  # type: ignore[assignment]

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` after everything submitted before it; re-raises a writer error."""
        if self._error is not None:
            raise self._error
        if self._queue is None:  # an unpickled copy: write at once
            fn(*args)
            return
        self._queue.put((fn, args))

    def drain(self) -> None:
        """Wait until every submitted write is done; raise the first one that failed."""
        if self._queue is None:
            return
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # after a failure, skip the rest: the next run repairs from done records
            fn, args = item
            try:
                fn(*args)
            except BaseException as exc:  # surfaced by submit/drain in the driver's thread
                self._error = exc
