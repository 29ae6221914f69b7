"""A Ray Tune searcher that overlaps the two stages: it hands out every generation trial first,
then each transfer trial as soon as the ticket it trains exists on disk; each in the order of
``order.py`` (ticket makers first, longest first).

Tune has no trial-to-trial dependencies (docs/design.md#ray-facts); ``suggest`` returning ``None``
means "nothing yet, ask again", so no slot idles on the slowest generation trial and nothing waits
while holding resources. A level-L ticket is written after level L-1 trains, long before its IMP run
ends. Transfers whose source failed for good are dropped and reported as blocked.
"""

from __future__ import annotations

import heapq
import json
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any

from ray.tune.search import Searcher

from ltsweep.storage.paths import SweepPaths
from ltsweep.storage.staging import ticket_exists
from ltsweep.sweep.order import generation_order, image_epochs
from ltsweep.sweep.trial import GENERATE, Trial, stage_of_key
from ltsweep.tune.trial_table import trial_config


class TicketGate(Searcher):
    def __init__(
        self,
        generation: list[Trial],
        transfer: list[Trial],
        paths: SweepPaths,
        poll_seconds: float = 1.0,
    ) -> None:
        super().__init__()
        self.paths = paths
        self.poll_seconds = poll_seconds
        self.generation = deque(t.key for t in generation_order(generation, transfer))
        self.waiting: OrderedDict[tuple[str, int], deque[str]] = OrderedDict()
        for t in transfer:
            if not t.ticket_uri:  # an imported source's tickets exist already
                self.waiting.setdefault((t.source_key, t.level), deque()).append(t.key)
        # Ready transfers, longest first: a heap of (-image-epochs, plan position, key).
        self.rank = {t.key: (-image_epochs(t), i) for i, t in enumerate(transfer)}
        self.ready: list[tuple[float, int, str]] = [
            (*self.rank[t.key], t.key) for t in transfer if t.ticket_uri
        ]
        heapq.heapify(self.ready)
        self.configs = {t.key: trial_config(t) for t in [*generation, *transfer]}
        self.by_trial_id: dict[str, str] = {}
        self.failed_sources: set[str] = set()
        self.blocked: list[str] = []
        self._last_poll = 0.0

    def _poll(self) -> None:
        """Move transfers whose ticket appeared to ``ready``; at most once per ``poll_seconds``,
        ready or not: Tune asks for a trial on every turn of its loop, and a grid waits on
        thousands of (source, level) tickets, one file check each."""
        now = time.monotonic()
        # An object store is asked at most once per poll_seconds (each check is a request).
        if now - self._last_poll < self.poll_seconds and (self.ready or self.paths.remote):
            return
        self._last_poll = now
        for (source, level), keys in list(self.waiting.items()):
            if source in self.failed_sources and not ticket_exists(self.paths, source, level):
                self.blocked += keys
                del self.waiting[(source, level)]
            elif ticket_exists(self.paths, source, level):
                for key in keys:
                    heapq.heappush(self.ready, (*self.rank[key], key))
                del self.waiting[(source, level)]

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self.generation:
            key = self.generation.popleft()
        else:
            if not self.ready:
                self._poll()
            if not self.ready:
                return Searcher.FINISHED if not self.waiting else None
            key = heapq.heappop(self.ready)[-1]
        self.by_trial_id[trial_id] = key
        return dict(self.configs[key])

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        key = self.by_trial_id.get(trial_id, "")
        if error and stage_of_key(key) == GENERATE:
            self.failed_sources.add(key)
            self._last_poll = 0.0

    def save(self, checkpoint_path: str) -> None:
        # Tune snapshots its searcher; ltsweep never restores a Tune experiment (its own records
        # decide what is done), but the snapshot stays plain JSON, never pickle.
        state = {
            "generation": list(self.generation),
            "ready": [key for *_, key in sorted(self.ready)],
            "waiting": [[s, lv, list(keys)] for (s, lv), keys in self.waiting.items()],
            "by_trial_id": self.by_trial_id,
            "failed_sources": sorted(self.failed_sources),
            "blocked": self.blocked,
        }
        Path(checkpoint_path).write_text(json.dumps(state))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        self.generation = deque(state["generation"])
        self.ready = [(*self.rank.get(k, (0.0, 0)), k) for k in state["ready"]]
        heapq.heapify(self.ready)
        self.waiting = OrderedDict(((s, lv), deque(k)) for s, lv, k in state["waiting"])
        self.by_trial_id, self.blocked = state["by_trial_id"], state["blocked"]
        self.failed_sources = set(state["failed_sources"])
