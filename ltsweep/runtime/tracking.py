"""A thin layer over ``mlflow.MlflowClient``: find-or-create runs by trial key, so a resumed sweep
never opens a second run for a trial. Only the driver process writes (SQLite allows one writer).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ltsweep.errors import UserError
from ltsweep.runtime import schema as S


def _quiet_mlflow() -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
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


class Tracker:
    """The MLflow store of one sweep: its experiment, its parent run, and one run per trial key."""

    def __init__(self, uri: str, sweep: str, artifact_root: Path | None = None) -> None:
        _quiet_mlflow()
        from mlflow import MlflowClient

        self.uri, self.sweep = uri, sweep
        self.client = MlflowClient(tracking_uri=uri)
        name = S.experiment_name(sweep)
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                exp = self.client.get_experiment_by_name(name)
                if exp is None:
                    location = artifact_root.resolve().as_uri() if artifact_root else None
                    from ltsweep.runtime.mlflow_view import experiment_tags

                    self.experiment_id = self.client.create_experiment(
                        name, location, tags=experiment_tags()
                    )
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

    # -- lookup -----------------------------------------------------------------------------
    def runs(self, filter_string: str = "") -> list[Any]:
        out, token = [], None
        while True:
            page = self.client.search_runs(
                [self.experiment_id], filter_string, max_results=5000, page_token=token
            )
            out += list(page)
            token = page.token
            if not token:
                return out

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
    ) -> str:
        run = self.find(key)
        if run is not None:
            return run.info.run_id
        all_tags = {S.TAG_TRIAL_KEY: key, S.TAG_SWEEP: self.sweep, S.TAG_RUN_NAME: name, **tags}
        if parent_id:
            all_tags[S.TAG_PARENT] = parent_id
        run = self.client.create_run(self.experiment_id, tags=all_tags, run_name=name)
        self._status[run.info.run_id] = run.info.status
        if params:
            from mlflow.entities import Param

            items = [Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
            for i in range(0, len(items), 100):
                self.client.log_batch(run.info.run_id, params=items[i : i + 100])
        self._runs[key] = run
        return run.info.run_id

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
        known = self._status.get(run_id) or self.client.get_run(run_id).info.status
        if known == status:
            return
        if status == "RUNNING":
            self.client.update_run(run_id, status="RUNNING")
        else:
            self.client.set_terminated(run_id, status=status, end_time=int(time.time() * 1000))
        self._status[run_id] = status

    def log_metrics(
        self, run_id: str, rows: Iterable[tuple[str, float, int]], once: bool = False
    ) -> None:
        """Log (key, value, step) rows; ``once`` skips steps already stored, so a retried write
        (the first attempt may have reached the server) never doubles a point. One batch is
        stored whole or not at all, so the first key's steps stand for every key's."""
        from mlflow.entities import Metric

        rows = list(rows)
        if once and rows:
            have = self.logged_steps(run_id, rows[0][0])
            rows = [r for r in rows if int(r[2]) not in have]
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, int(step)) for k, v, step in rows]
        for i in range(0, len(metrics), 500):
            self.client.log_batch(run_id, metrics=metrics[i : i + 500])

    def logged_steps(self, run_id: str, metric: str) -> set[int]:
        return {m.step for m in self.client.get_metric_history(run_id, metric)}

    def log_history(
        self, run_id: str, history: list[dict[str, float]], step_offset: int = 0
    ) -> None:
        """Per-epoch metrics (step = epoch), skipping steps already logged live."""
        done = self.logged_steps(run_id, "test_accuracy")
        rows = [
            (k, h[k], step_offset + int(h["epoch"]))
            for h in history
            for k in S.EPOCH_METRICS
            if int(h["epoch"]) + step_offset not in done
        ]
        self.log_metrics(run_id, rows)

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_artifacts(self, run_id: str, directory: Path, artifact_path: str) -> None:
        self.client.log_artifacts(run_id, str(directory), artifact_path)

    def kill_stale(self) -> int:
        """Runs left RUNNING by a dead driver become KILLED (the caller holds the sweep lock)."""
        stale = self.runs("attributes.status = 'RUNNING'")
        for run in stale:
            self.client.set_terminated(run.info.run_id, status="KILLED")
        self._runs.clear()
        self._status.clear()
        self._all_cached = False
        return len(stale)
