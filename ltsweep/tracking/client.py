"""A thin layer over ``mlflow.MlflowClient``: find-or-create runs by trial key, so a resumed sweep
never opens a second run for a trial. One process writes at a time (SQLite allows one writer): the
driver, or while Tune runs its writer process (``writer.py``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ltsweep.errors import UserError
from ltsweep.tracking import schema as S
from ltsweep.tracking.search import search_pages


def _quiet_mlflow() -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # MLflow's usage telemetry: a thread per process and a wrapper on every client call, for
    # reports that a cluster without internet cannot send. Set it to false to keep it.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # On a tracking server MLflow prints "View run ... / View experiment ..." at every
    # set_terminated: two lines per trial. The links are in `ltsweep ui` and the final message.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    # A server that is down fails a call in seconds instead of minutes of backoff inside the
    # client; ltsweep's own outbox (outbox.py) keeps the write and retries it later.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL journal, fsync at checkpoints only, so that a commit does not wait for the disk (on a
    busy disk that wait would be the driver's cost per trial). A killed process loses nothing;
    a power cut may lose the last commits, which the next run re-derives from the done records
    (the store is derived from them, never the other way round)."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _fast_sqlite(uri: str) -> None:
    if not uri.startswith("sqlite:"):
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "connect", _sqlite_pragmas):
        event.listen(Engine, "connect", _sqlite_pragmas)


# MLflow's log_batch limits (mlflow.utils.validation): 100 params, 100 tags and 1,000 entities
# a call; metrics go 500 a call to stay well under the server's request-size limit.
PARAMS_PER_BATCH = TAGS_PER_BATCH = 100
METRICS_PER_BATCH = 500


@dataclass
class Held:
    """Writes to one run held back to go with its next write (see ``Tracker.write``)."""

    since: float = field(default_factory=time.monotonic)
    params: list = field(default_factory=list)
    rows: list[tuple[str, float, int]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    # Set when a write that carried these failed: it may have reached the store, so the next
    # send asks the store which points it has (else held rows were never sent: no query).
    maybe_stored: bool = False

    def steps(self, metric: str) -> set[int]:
        return {int(step) for key, _, step in self.rows if key == metric}


def batches(metrics: list, params: list, tags: list) -> Iterator[tuple[list, list, list]]:
    """(metrics, params, tags) chunks within MLflow's per-call limits; tags go with the first."""
    first = True
    while first or metrics or params or tags:
        first = False
        yield metrics[:METRICS_PER_BATCH], params[:PARAMS_PER_BATCH], tags[:TAGS_PER_BATCH]
        metrics = metrics[METRICS_PER_BATCH:]
        params, tags = params[PARAMS_PER_BATCH:], tags[TAGS_PER_BATCH:]


class Tracker:
    """The MLflow store of one sweep: its experiment, its parent run, and one run per trial key."""

    def __init__(self, uri: str, sweep: str, artifact_root: Path | None = None) -> None:
        _quiet_mlflow()
        _fast_sqlite(uri)
        from mlflow import MlflowClient

        self.uri, self.sweep = uri, sweep
        self.client = MlflowClient(tracking_uri=uri)
        name = S.experiment_name(sweep)
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                exp = self.client.get_experiment_by_name(name)
                if exp is None:
                    location = artifact_root.resolve().as_uri() if artifact_root else None
                    from ltsweep.tracking.ui_view import experiment_tags

                    self.experiment_id = self._create_experiment(name, location, experiment_tags())
                else:
                    self.experiment_id = exp.experiment_id
        except UserError:
            raise
        except Exception as exc:
            raise UserError(
                f"cannot use the MLflow tracking store {uri} ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:160] if str(exc) else ''}); check tracking_uri in "
                "the sweep file or MLFLOW_TRACKING_URI"
            ) from None
        self._runs: dict[str, Any] = {}
        self._status: dict[str, str] = {}  # run id -> status this driver last wrote or read
        self._all_cached = False  # _runs holds every run of the experiment (after statuses())
        # Runs this tracker created, with the steps it logged per metric: while every write to
        # such a run succeeded, the store holds exactly that, so "what is logged" needs no query
        # (two per trial otherwise, each a store round trip). A failed write may still have
        # reached the store: the run then leaves this map and the store is asked again.
        self._fresh: dict[str, dict[str, set[int]]] = {}
        # Params and live metrics held back (``hold=True``) until the run's next write or
        # ``flush_held``: a trial that ends within a second of its start costs three store
        # writes (create, one batch, terminate) instead of five; held writes are never older
        # than the recorder's flush interval while Tune runs.
        self._held: dict[str, Held] = {}
        self._with_params: set[str] = set()  # runs whose params this tracker sent or holds

    def _create_experiment(self, name: str, location: str | None, tags: dict) -> str:
        """Create the sweep's experiment; if another process (a driver, `ltsweep status`)
        created it since we looked, use theirs: MLflow refuses the second with
        RESOURCE_ALREADY_EXISTS, which once killed a `ray job submit` sweep at its start."""
        try:
            return self.client.create_experiment(name, location, tags=tags)
        except Exception:
            exp = self.client.get_experiment_by_name(name)
            if exp is None:
                raise
            return exp.experiment_id

    # -- lookup -----------------------------------------------------------------------------
    def runs(self, filter_string: str = "") -> list[Any]:
        pages = search_pages(self.client, self.experiment_id, filter_string)
        return [run for page in pages for run in page]

    def find(self, key: str) -> Any | None:
        if key in self._runs:
            return self._runs[key]
        if self._all_cached:  # one query found every run: a key missing from it has none
            return None
        found = self.runs(f"tags.`{S.TAG_TRIAL_KEY}` = '{key}'")
        if found:
            self._runs[key] = found[0]
            return found[0]
        return None

    def find_or_create(
        self,
        key: str,
        name: str,
        tags: dict[str, str],
        params: dict[str, Any] | None = None,
        parent_id: str | None = None,
        hold: bool = False,
    ) -> str:
        """The run of trial ``key``, created with its tags if it has none. ``hold``: its params
        go with the run's next write (``write``, ``set_status`` or ``flush_held``)."""
        run = self.find(key)
        if run is not None:
            run_id = run.info.run_id
            missing = {k: v for k, v in (params or {}).items() if k not in run.data.params}
            if missing and run_id not in self._with_params:
                # A driver killed while it held them: they go with this run's next write.
                self._hold_params(run_id, missing)
                if not hold:
                    self.write(run_id)
            return run_id
        all_tags = {S.TAG_TRIAL_KEY: key, S.TAG_SWEEP: self.sweep, S.TAG_RUN_NAME: name, **tags}
        if parent_id:
            all_tags[S.TAG_PARENT] = parent_id
        run = self.client.create_run(self.experiment_id, tags=all_tags, run_name=name)
        self._status[run.info.run_id] = run.info.status
        self._runs[key] = run
        self._fresh[run.info.run_id] = {}
        if params:
            self._hold_params(run.info.run_id, params)
            if not hold:
                self.write(run.info.run_id)
        return run.info.run_id

    def _hold_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
        self._held.setdefault(run_id, Held()).params += items
        self._with_params.add(run_id)

    def statuses(self) -> dict[str, str]:
        """Trial key -> run status for the whole experiment, in one query; it also fills the
        run cache, so that ``find`` needs no query per trial (one per trial grew with the store)."""
        runs = self.runs()
        for r in runs:
            self._runs.setdefault(r.data.tags.get(S.TAG_TRIAL_KEY, ""), r)
            self._status[r.info.run_id] = r.info.status
        self._all_cached = True
        return {r.data.tags.get(S.TAG_TRIAL_KEY, ""): r.info.status for r in runs}

    def status(self, key: str) -> str | None:
        run = self.find(key)
        if run is None:
            return None
        run_id = run.info.run_id
        if run_id not in self._status:
            self._status[run_id] = self.client.get_run(run_id).info.status
        return self._status[run_id]

    # -- writing ----------------------------------------------------------------------------
    def set_status(self, run_id: str, status: str) -> None:
        # Only this driver writes the store, so the status it last wrote is the store's.
        if status != "RUNNING" and run_id in self._held:
            self.write(run_id)  # what was held goes in before the run ends
        known = self._status.get(run_id) or self.client.get_run(run_id).info.status
        if known == status:
            return
        if status == "RUNNING":
            self.client.update_run(run_id, status="RUNNING")
        else:
            self.client.set_terminated(run_id, status=status, end_time=int(time.time() * 1000))
        self._status[run_id] = status

    def _batch(self, run_id: str, **entities: Any) -> None:
        """One ``log_batch``; a failure (which may have reached the store) ends what this
        tracker knows about the run's contents."""
        try:
            self.client.log_batch(run_id, **entities)
        except BaseException:
            self._fresh.pop(run_id, None)
            raise

    def write(
        self,
        run_id: str,
        rows: Iterable[tuple[str, float, int]] = (),
        tags: dict[str, str] | None = None,
        once: bool = False,
        hold: bool = False,
    ) -> None:
        """Log (key, value, step) rows and tags in as few ``log_batch`` calls as MLflow allows
        (one for a trial's final record), together with what was held for the run. ``once``
        skips steps already stored, so a retried write (the first attempt may have reached the
        server) never doubles a point. One batch is stored whole or not at all, so the first
        key's steps stand for every key's. ``hold``: keep it for the run's next write instead."""
        rows = list(rows)
        if once and rows:
            rows = self.unlogged(run_id, rows, rows[0][0])
        if hold:
            held = self._held.setdefault(run_id, Held())
            held.rows += rows
            held.tags.update(tags or {})
            return
        held = self._held.get(run_id)
        try:
            self._send(run_id, rows, tags or {}, held)
        except BaseException:  # an interrupt too: a batch may have been stored before it
            self._fresh.pop(run_id, None)
            if held is not None:  # kept for the retry, which asks the store what it has
                held.maybe_stored = True
            raise
        if held is not None and self._held.get(run_id) is held:
            del self._held[run_id]

    def _send(
        self, run_id: str, rows: list[tuple[str, float, int]], tags: dict, held: Held | None
    ) -> None:
        from mlflow.entities import Metric, RunTag

        params = []
        if held is not None:
            params = held.params
            held_rows = self._not_stored(run_id, held.rows) if held.maybe_stored else held.rows
            rows = held_rows + rows
            tags = {**held.tags, **tags}
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, int(step)) for k, v, step in rows]
        tag_list = [RunTag(k, str(v)) for k, v in tags.items()]
        for chunk, param_chunk, tag_chunk in batches(metrics, params, tag_list):
            if not (chunk or param_chunk or tag_chunk):
                continue
            self._batch(run_id, metrics=chunk, params=param_chunk, tags=tag_chunk)
            known = self._fresh.get(run_id)
            if known is not None:
                for m in chunk:
                    known.setdefault(m.key, set()).add(m.step)

    def _not_stored(
        self, run_id: str, rows: list[tuple[str, float, int]]
    ) -> list[tuple[str, float, int]]:
        """Rows whose (metric, step) the store lacks: only after a failed write that may have
        reached it, held rows of several metrics are checked one metric at a time."""
        stored = {
            key: {m.step for m in self.client.get_metric_history(run_id, key)}
            for key in {r[0] for r in rows}
        }
        return [r for r in rows if int(r[2]) not in stored[r[0]]]

    def flush_held(self, older_than_s: float = 0.0) -> int:
        """Send what has been held longer than ``older_than_s``; returns how many runs."""
        now = time.monotonic()
        due = [run_id for run_id, h in self._held.items() if now - h.since >= older_than_s]
        for run_id in due:
            self.write(run_id)
        return len(due)

    def holds(self, older_than_s: float = 0.0) -> bool:
        now = time.monotonic()
        return any(now - h.since >= older_than_s for h in self._held.values())

    def log_metrics(
        self,
        run_id: str,
        rows: Iterable[tuple[str, float, int]],
        once: bool = False,
        hold: bool = False,
    ) -> None:
        self.write(run_id, rows, once=once, hold=hold)

    def logged_steps(self, run_id: str, metric: str) -> set[int]:
        """Steps of ``metric`` the store has, or will have with the run's held rows."""
        held = self._held.get(run_id)
        pending = held.steps(metric) if held is not None else set()
        known = self._fresh.get(run_id)
        if known is not None:
            return set(known.get(metric, ())) | pending
        return {m.step for m in self.client.get_metric_history(run_id, metric)} | pending

    def unlogged(
        self, run_id: str, rows: list[tuple[str, float, int]], lead: str
    ) -> list[tuple[str, float, int]]:
        """The rows whose step has no point of ``lead`` yet (rows are logged in whole batches,
        so one metric's steps stand for its batch)."""
        have = self.logged_steps(run_id, lead)
        return [r for r in rows if int(r[2]) not in have]

    def log_history(
        self, run_id: str, history: list[dict[str, float]], step_offset: int = 0
    ) -> None:
        """Per-epoch metrics (step = epoch), skipping steps already logged live."""
        self.write(run_id, self.history_rows(run_id, history, step_offset))

    def history_rows(
        self, run_id: str, history: list[dict[str, float]], step_offset: int = 0
    ) -> list[tuple[str, float, int]]:
        keys = (*S.EPOCH_METRICS, S.TRAIN_RESOLUTION)  # the last only where a schedule set it
        rows = [(k, h[k], step_offset + int(h["epoch"])) for h in history for k in keys if k in h]
        return self.unlogged(run_id, rows, "test_accuracy")

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        self.write(run_id, tags=tags)

    def log_artifacts(self, run_id: str, directory: Path, artifact_path: str) -> None:
        self.client.log_artifacts(run_id, str(directory), artifact_path)

    def kill_stale(self) -> int:
        """Runs left RUNNING by a dead driver become KILLED (the caller holds the sweep lock);
        what this tracker still holds is sent first (a run the store refuses, e.g. deleted in
        the UI, is dropped with a warning, not left to stop the others being closed)."""
        from ltsweep.tracking.outbox import is_transient

        for run_id in list(self._held):
            try:
                self.write(run_id)
            except Exception as exc:
                if is_transient(exc):
                    raise
                self._held.pop(run_id, None)
                first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                print(f"ltsweep: MLflow refused held records of run {run_id}: {first}")
        stale = self.runs("attributes.status = 'RUNNING'")
        for run in stale:
            self.client.set_terminated(run.info.run_id, status="KILLED")
        self._runs.clear()
        self._status.clear()
        self._fresh.clear()
        self._held.clear()
        self._with_params.clear()
        self._all_cached = False
        return len(stale)
