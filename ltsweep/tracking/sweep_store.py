"""Where a sweep's MLflow store lives, and opening it without creating one by mistake.

Finding a sweep is the sweep engine's (``ltsweep.sweep.files.find_sweep``); this module adds the
``ltsweep run`` command for messages and refuses a SQLite file that does not exist.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ltsweep.errors import UserError
from ltsweep.tracking import schema

if TYPE_CHECKING:
    import mlflow

    from ltsweep.storage.paths import SweepPaths
    from ltsweep.storage.plan_keys import PlanKeys
    from ltsweep.sweep.config import SweepConfig


@dataclass(frozen=True)
class Located:
    """A sweep as the report sees it: its name, output directory and tracking store."""

    name: str
    out: Path  # the sweep's output directory (``ltsweep run --out``, default runs/<name>)
    tracking_uri: str
    file: Path | None  # its sweep file, when one resolves
    run_command: str = ""  # ``ltsweep run ...`` that makes this store, for messages
    unresolved: str = ""  # why no sweep file resolved (a typo'd name?), for messages
    config: SweepConfig | None = None  # the sweep file's configuration, when one resolves
    paths: SweepPaths | None = None  # the sweep's output layout (its records' store)

    def recorded_plan(self) -> PlanKeys | None:
        """The plan ``ltsweep run`` recorded in the sweep's store (None before it recorded one)."""
        from ltsweep.storage.plan_keys import read_plan_keys

        return read_plan_keys(self.paths) if self.paths is not None else None

    def run_first(self) -> str:
        return f"run `{self.run_command}` first" if self.run_command else "run the sweep first"


def locate(
    sweep: str, sweep_out: Path | str | None = None, tracking_uri: str | None = None
) -> Located:
    """Find a sweep's name and store the way ``ltsweep run`` does (``sweep.files.find_sweep``),
    and the ``ltsweep run`` command that makes the store, for messages."""
    from ltsweep.sweep.files import find_sweep

    found = find_sweep(sweep, sweep_out, tracking_uri)
    run = ["ltsweep", "run", sweep.strip(), *(["--out", str(sweep_out)] if sweep_out else [])]
    return Located(
        found.name,
        found.paths.out,
        found.tracking_uri,
        found.file,
        shlex.join(run),
        found.unresolved,
        found.config,
        found.paths,
    )


def running_keys(paths: SweepPaths, uri: str, sweep_name: str) -> set[str]:
    """Keys of the trials the store shows RUNNING while a live driver holds the sweep's lock
    (without one nothing can be running, whatever a killed driver left in the store)."""
    from ltsweep.storage.lock import live_holder

    if live_holder(paths) is None:
        return set()
    path = sqlite_path(uri)
    if path is not None and not path.exists():
        return set()
    from ltsweep.tracking.client import Tracker

    tracker = Tracker(uri, sweep_name)
    return {
        r.data.tags.get(schema.TAG_TRIAL_KEY, "")
        for r in tracker.runs("attributes.status = 'RUNNING'")
    }


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or None for any other store."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    rest = uri[len(prefix) :].split("?", 1)[0]
    return Path(rest)  # "sqlite:////abs/x.db" -> /abs/x.db; "sqlite:///x.db" -> x.db (cwd)


def require_store(uri: str, where: Located) -> None:
    """Refuse a SQLite URI whose file does not exist (opening it would create an empty store)."""
    path = sqlite_path(uri)
    if path is not None and not path.is_file() and where.unresolved:
        # Neither a sweep file nor a store: most likely a typo; say what exists.
        raise UserError(f"{where.unresolved}; no MLflow store at {path} either")
    if path is not None and not path.is_file():
        raise UserError(
            f"no MLflow store at {path}: {where.run_first()}, or pass the --out (or "
            "--tracking-uri) that `ltsweep run` was given"
        )


@contextlib.contextmanager
def reading(uri: str) -> Iterator[None]:
    """Turn a failure to read the store (unreachable server, corrupt or busy database) into one line."""
    try:
        yield
    except UserError:
        raise
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UserError(
            f"cannot read the MLflow store {uri} ({first}): check the URI; if a sweep is writing "
            "to it, try again"
        ) from exc


def open_experiment(
    uri: str, name: str, where: Located | None = None
) -> tuple[mlflow.MlflowClient, str]:
    """A client on the store and the id of experiment ``ltsweep/<name>``; UserError if absent
    (``where``, when given, says which ``ltsweep run`` would make it)."""
    where = where or Located(name, Path(), uri, None, shlex.join(["ltsweep", "run", name]))
    require_store(uri, where)
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri)
    exp_name = schema.experiment_name(name)
    with reading(uri):
        experiment = client.get_experiment_by_name(exp_name)
    if experiment is None or experiment.lifecycle_stage != "active":
        raise UserError(
            f"no experiment {exp_name!r} in the MLflow store {uri}{_sweeps_in(client, name)}: "
            f"{where.run_first()}"
        )
    return client, experiment.experiment_id


def _sweeps_in(client: mlflow.MlflowClient, name: str) -> str:
    """'' or "; it holds sweep(s) a, b (did you mean 'a'?)": what the store has instead."""
    import difflib

    prefix = schema.experiment_name("")
    try:
        names = [
            e.name.removeprefix(prefix)
            for e in client.search_experiments()
            if e.name.startswith(prefix)
        ]
    except Exception:  # only a hint: the error it decorates is what matters
        return ""
    if not names:
        return ""
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"; it holds sweep(s) {', '.join(sorted(names))}{hint}"
