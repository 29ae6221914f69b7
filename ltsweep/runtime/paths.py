"""Layout of a sweep's output directory: where trials, Tune state, the lock and stores live.

Both layers use it: the planner to resolve ``--out``, the runtime to find a trial's files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SweepPaths:
    """Layout of a sweep's output directory (``--out``, default ``runs/<sweep>``)."""

    out: Path

    @property
    def trials(self) -> Path:
        return self.out / "trials"

    def trial_dir(self, key: str) -> Path:
        return self.trials / key

    @property
    def tune(self) -> Path:
        return self.out / "tune"

    @property
    def lock(self) -> Path:
        return self.out / ".lock"

    @property
    def mlflow_db(self) -> Path:
        return self.out / "mlflow.db"

    @property
    def artifacts(self) -> Path:
        return self.out / "mlartifacts"

    @property
    def report(self) -> Path:
        return self.out / "report"
