"""The contract between the sweep layer and the core: what one trial asks the engine to do.

Plain dataclasses, importable without torch: the planner builds (and hashes) every job of a
sweep, and ``ltsweep plan``/``status`` must answer without loading the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ltsweep.core.data.image_folder.dataset import FolderData
from ltsweep.core.optim import OptimizerConfig
from ltsweep.core.pruning import PruneConfig
from ltsweep.core.resolution import Resolution
from ltsweep.hashing import HASHED_WHEN_SET

# The kinds of result a study compares (the ``kind`` axis of every result): a ``transferred``
# ticket and the ``random`` control are trained by transfer trials; ``same`` (the target's own
# ticket) and ``dense`` (level 0) are the target's own IMP run's levels, never trained twice.
TRANSFERRED, SAME, RANDOM, DENSE = "transferred", "same", "random", "dense"
RESULT_KINDS = (TRANSFERRED, SAME, RANDOM, DENSE)
TRANSFER_KINDS = (TRANSFERRED, RANDOM)  # what ``transfer.kinds`` in a sweep chooses among

# A field added after trial keys existed carries ``metadata=HASHED_WHEN_SET``: it enters a key
# only when it differs from its default, whose meaning is the behaviour before the field existed
# (so old keys stay valid; that default must never change).


@dataclass(frozen=True)
class ModelConfig:
    name: str
    options: tuple[tuple[str, Any], ...] = ()  # e.g. (("stem", "cifar"),); a tuple so it hashes

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.options)


@dataclass(frozen=True)
class TrainConfig:
    """Schedule of one training run. ``milestones`` are epochs where the lr is multiplied by
    ``gamma`` (docs/design.md#training-defaults: VGG19 80 and 120 of 160)."""

    epochs: int
    batch_size: int
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    milestones: tuple[float, ...] = ()
    gamma: float = 0.1
    warmup_epochs: float = 0.0
    amp: bool = True  # bf16 autocast, CUDA only
    channels_last: bool = True  # CUDA only
    # torch.compile the step and evaluation (ltsweep.core.compile); keyed only when True
    compile: bool = field(default=False, metadata=HASHED_WHEN_SET)


@dataclass(frozen=True)
class DataConfig:
    """Which dataset (and which cut of its training split), at what input size, fed by which
    loader backend. Everything but ``data_root``/``ffcv_dir``/``workers`` is in the trial key."""

    name: str
    image_size: int | None = None  # None: the dataset's registered size
    loader: str = "torch"  # "torch" or "ffcv"
    workers: int = 2
    data_root: str | None = None
    ffcv_dir: str | None = None
    half: str | None = None  # "a" | "b": one of two disjoint class-balanced training halves
    train_subset: int | None = None  # class-balanced training images kept (test never cut)
    # ``kind: image_folder``: the folder (``name`` is the sweep's entry); keyed only when set
    folder: FolderData | None = field(default=None, metadata=HASHED_WHEN_SET)
    # progressive resolution (``core/resolution.py``): each training epoch's size and the test
    # size, instead of ``image_size``; keyed only when set
    resolution: Resolution | None = field(default=None, metadata=HASHED_WHEN_SET)

    def spec(self):
        """The dataset's ``DatasetSpec``: registered under ``name``, or the image folder's."""
        from ltsweep.core.data import dataset_spec

        return dataset_spec(self.name, self.folder, self.image_size)


@dataclass(frozen=True)
class IMPConfig:
    """IMP with late resetting. ``rewind_epochs`` None means the dataset's default
    (docs/design.md#imp-protocol: 1 epoch for 32x32 data, 3 for ImageNet/Places365); 0 rewinds to
    the initialization."""

    levels: int
    prune: PruneConfig = field(default_factory=PruneConfig)
    rewind_epochs: float | None = None


@dataclass(frozen=True)
class GenerationJob:
    model: ModelConfig
    data: DataConfig
    train: TrainConfig
    imp: IMPConfig
    seed: int
    key: str = ""


@dataclass(frozen=True)
class TransferJob:
    """Train one ticket (or a control) on a target. ``ticket_dir`` is None for ``dense``."""

    kind: str  # one of RESULT_KINDS (a sweep plans TRANSFER_KINDS; the engine trains any)
    model: ModelConfig
    data: DataConfig
    train: TrainConfig
    seed: int
    ticket_dir: str | None = None
    key: str = ""
    # The ticket was made with another input stem (ResNet50 ImageNet -> 32x32): the target's stem
    # is re-initialised and pruned at random to the ticket's stem density (``restem_ticket``).
    reinit_stem: bool = field(default=False, metadata=HASHED_WHEN_SET)
