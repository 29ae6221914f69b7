"""What a trial is, shared by the planner that builds trials (``ltsweep.sweep``) and the runtime
that runs them: the planner imports this, never the other way round."""

from __future__ import annotations

from dataclasses import dataclass

from ltsweep.core.jobs import GenerationJob, TransferJob
from ltsweep.strict import check, non_negative, positive

GENERATE, TRANSFER = "generate", "transfer"
# A trial key starts with its stage's prefix: the one place that says which.
KEY_PREFIX = {GENERATE: "g-", TRANSFER: "t-"}


def stage_of_key(key: str) -> str:
    """The stage of a trial (or result) key: ``g-...`` generation, ``t-...`` transfer."""
    return GENERATE if key.startswith(KEY_PREFIX[GENERATE]) else TRANSFER


@dataclass(frozen=True)
class Resources:
    """Per-trial resources. ``gpu`` may be fractional (< 1) for one-process trials; with
    ``workers`` > 1 the trial runs Ray Train with that many workers, each taking ``gpu`` (whole)
    and ``cpu``."""

    cpu: float = check(positive, 1.0)
    gpu: float = check(non_negative, 0.0)
    workers: int = check(positive, 1)


@dataclass(frozen=True)
class Entry:
    """One (dataset entry, optimizer) configuration of a sweep, as its trials really train on it.

    ``dataset`` is the registered dataset behind the entry (``fashion_a: {dataset:
    fashion_mnist, half: a}`` -> ``fashion_mnist``; an image folder: ``image_folder:`` and its
    files' hash), so two entries with one ``dataset`` draw from one distribution, whatever their
    names, halves or subsets: the report tells the same-distribution control from transfer by it.
    """

    name: str  # the sweep's dataset entry, e.g. fashion_a
    optimizer: str
    dataset: str
    classes: int | None  # None: unknown (a store written before entries were recorded)
    half: str | None = None
    subset: int | None = None  # train_subset
    train_size: int | None = None  # training images used (after half/subset); None: unknown
    test_size: int | None = None  # test images (never cut); None: unknown
    # An imported source (``sources: [{tickets: URI}]``): its ticket bundle's id and origin
    bundle: str | None = None
    origin: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name}/{self.optimizer}"


@dataclass(frozen=True)
class TrialAxes:
    """What a trial (or one of its results) is, typed: the planner builds it, the tracking
    package alone turns it into MLflow tags and back, and the report reads it."""

    stage: str  # GENERATE or TRANSFER
    kind: str  # same (generation), transferred, random; a generation's results: same, dense
    model: str
    target: Entry  # what it trains on (generation: its own configuration)
    seed: int
    source: Entry | None = None  # whose ticket; None for random and dense
    level: int | None = None  # the ticket's IMP level; None: not applicable (a generation trial)
    is_target: bool = False  # generation: its configuration is one of the sweep's targets


@dataclass(frozen=True)
class Trial:
    """One Ray Tune trial: a generation (IMP) run or one transfer training."""

    key: str
    axes: TrialAxes
    job: GenerationJob | TransferJob
    resources: Resources
    source_key: str = ""  # transfer: the generation trial whose ticket it trains
    epoch_gpu_seconds: float | None = None
    # transfer from an imported source: the bundle's URI (``source_key`` is its bundle id)
    ticket_uri: str = ""

    @property
    def stage(self) -> str:
        return self.axes.stage

    @property
    def level(self) -> int | None:
        """Transfer: the ticket's level; generation: None (it makes every level)."""
        return self.axes.level

    @property
    def model(self) -> str:
        return self.axes.model

    @property
    def trains_on(self) -> Entry:
        """The configuration the trial trains on (generation: its source, which is its target)."""
        return self.axes.target

    @property
    def trainings(self) -> int:
        """Trainings a trial runs: every IMP level (level 0 is the dense network), or one."""
        return self.job.imp.levels + 1 if isinstance(self.job, GenerationJob) else 1

    @property
    def epochs(self) -> int:
        """Epochs a trial trains (progress, ordering and cost all count these)."""
        return self.trainings * self.job.train.epochs
