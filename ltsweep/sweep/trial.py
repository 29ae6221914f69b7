"""What a trial is, shared by the planner that builds trials (``ltsweep.sweep``) and the runtime
that runs them: the planner imports this, never the other way round."""

from __future__ import annotations

from dataclasses import dataclass, field

from ltsweep.core.jobs import GenerationJob, TransferJob
from ltsweep.strict import check, non_negative, positive

GENERATE, TRANSFER = "generate", "transfer"


@dataclass(frozen=True)
class Resources:
    """Per-trial resources. ``gpu`` may be fractional (< 1) for one-process trials; with
    ``workers`` > 1 the trial runs Ray Train with that many workers, each taking ``gpu`` (whole)
    and ``cpu``."""

    cpu: float = check(positive, 1.0)
    gpu: float = check(non_negative, 0.0)
    workers: int = check(positive, 1)


@dataclass(frozen=True)
class Trial:
    """One Ray Tune trial: a generation (IMP) run or one transfer training."""

    key: str
    stage: str
    job: GenerationJob | TransferJob
    resources: Resources
    tags: dict[str, str] = field(default_factory=dict)
    source_key: str = ""  # transfer: the generation trial whose ticket it trains
    level: int = 0  # transfer: the ticket's level
    epoch_gpu_seconds: float | None = None
    # transfer from an imported source: the bundle's URI (``source_key`` is its bundle id)
    ticket_uri: str = ""

    @property
    def trainings(self) -> int:
        return self.job.imp.levels + 1 if isinstance(self.job, GenerationJob) else 1

    @property
    def epochs(self) -> int:
        return self.trainings * self.job.train.epochs
