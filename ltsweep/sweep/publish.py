"""``ltsweep ticket publish``: a sweep's finished generation trials as ticket bundles.

One bundle per generation trial, built in a local folder from the trial's verified tickets and
done record (``core.bundle_make``), then copied to its destination. Under ``--to URI`` the
bundles are laid out one folder per series and one sub-folder per seed, so that a sweep imports
a series by naming its folder: ``URI/<model>-<source entry>-<optimizer>/seed_<n>/``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ltsweep.core.jobs import GenerationJob
from ltsweep.errors import UserError
from ltsweep.storage.done import read_done
from ltsweep.storage.paths import SweepPaths
from ltsweep.storage.staging import fetch_ticket
from ltsweep.sweep.plan import Plan
from ltsweep.sweep.trial import Trial


@dataclass(frozen=True)
class Filters:
    model: str | None = None
    source: str | None = None  # the sweep's dataset entry
    optimizer: str | None = None
    seed: int | None = None

    def keep(self, trial: Trial) -> bool:
        own = trial.trains_on
        pairs = [
            (self.model, trial.model),
            (self.source, own.name),
            (self.optimizer, own.optimizer),
            (self.seed, trial.axes.seed),
        ]
        return all(want is None or want == have for want, have in pairs)


def series_name(trial: Trial) -> str:
    own = trial.trains_on
    name = f"{trial.model}-{own.name}-{own.optimizer}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def bundle_rel(trial: Trial) -> str:
    return f"{series_name(trial)}/seed_{trial.axes.seed}"


def select(plan: Plan, paths: SweepPaths, filters: Filters) -> tuple[list[Trial], list[Trial]]:
    """(done, not yet done) generation trials that pass ``filters``; none passing is an error."""
    chosen = [t for t in plan.generation if filters.keep(t)]
    if not chosen:
        raise UserError(
            "no generation trial of this sweep matches the filters; "
            "`ltsweep plan SWEEP --trials` lists them"
        )
    done = [t for t in chosen if read_done(paths, t.key) is not None]
    return done, [t for t in chosen if t not in done]


def build_local(trial: Trial, paths: SweepPaths, dest: Path):
    """The bundle of one done generation trial, written to the local folder ``dest``."""
    from ltsweep.core.bundle_make import bundle_from_tickets

    job = trial.job
    assert isinstance(job, GenerationJob)
    record = read_done(paths, trial.key) or {}
    tickets = {lv: fetch_ticket(paths, trial.key, lv) for lv in range(job.imp.levels + 1)}
    return bundle_from_tickets(job, trial.trains_on.name, tickets, record.get("levels", []), dest)


def publish(trials: list[Trial], paths: SweepPaths, to: str | None, on_bundle) -> None:
    """Build each trial's bundle and hand it to ``on_bundle(trial, local_dir, bundle)``; with
    ``to`` each is first written under ``to`` (``on_bundle`` may register it elsewhere)."""
    from ltsweep.storage.bundles import split_query, write_bundle

    work = Path(tempfile.mkdtemp(prefix="ltsweep-publish-"))
    try:
        for trial in trials:
            local = work / trial.key
            bundle = build_local(trial, paths, local)
            state = ""
            if to is not None:
                base, query = split_query(to)
                uri = f"{base}/{bundle_rel(trial)}{query}"
                state = write_bundle(local, uri)
            on_bundle(trial, local, bundle, state)
    finally:
        shutil.rmtree(work, ignore_errors=True)
