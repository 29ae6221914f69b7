"""The sweep file schema: typed, frozen, every key validated on load (see search_spaces/)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ltsweep.core.jobs import DENSE, SAME, TRANSFER_KINDS
from ltsweep.core.resolution import Resolution
from ltsweep.errors import UserError
from ltsweep.strict import Loader, check, non_negative, one_of, open_unit, positive
from ltsweep.sweep.trial import Resources
from ltsweep.yaml_files import load_yaml

DATASET_KINDS = ("registered", "image_folder")


@dataclass(frozen=True)
class Schedule:
    epochs: int = check(positive)
    milestones: tuple[float, ...] = ()  # epochs where the lr is multiplied by gamma
    gamma: float = check(open_unit, 0.1)
    warmup_epochs: float = check(non_negative, 0.0)


@dataclass(frozen=True)
class OptimizerSettings:
    lr: float = check(positive)
    momentum: float = check(non_negative, 0.9)
    weight_decay: float = check(non_negative, 1e-4)
    nesterov: bool = False
    betas: tuple[float, ...] = (0.9, 0.999)


@dataclass(frozen=True)
class StageResources:
    generate: Resources = field(default_factory=Resources)
    transfer: Resources = field(default_factory=Resources)


@dataclass(frozen=True)
class DatasetSettings:
    batch_size: int = check(positive)
    schedule: Schedule
    schedule_by_model: dict[str, Schedule] = field(default_factory=dict)
    image_size: int | None = check(lambda v: None if v is None or v > 0 else "must be > 0", None)
    loader: str = check(one_of("torch", "ffcv"), "torch")
    workers: int = check(non_negative, 2)
    resources: StageResources | None = None  # overrides the sweep-wide resources
    # model -> GPU-seconds one GPU spends on one epoch of this entry's training split (its
    # half/subset when cut); Ray Train workers share it, they do not each spend it (docs/cost.md)
    epoch_gpu_seconds: dict[str, float] = field(default_factory=dict)
    # overrides the sweep's seeds (3 for ImageNet: docs/design.md#the-study)
    seeds: tuple[int, ...] | None = None
    # The registered dataset this entry reads (default: the entry's own name), so that one
    # dataset can appear twice, e.g. ``fashion_a: {dataset: fashion_mnist, half: a}``.
    dataset: str | None = None
    half: str | None = check(lambda v: None if v in (None, "a", "b") else "must be a or b", None)
    train_subset: int | None = check(lambda v: None if v is None or v > 0 else "must be > 0", None)
    # ``image_folder``: class folders at ``path`` (absolute, or under the data root) are the data
    kind: str = check(one_of(*DATASET_KINDS), "registered")
    path: str | None = None
    test_fraction: float | None = check(lambda v: None if v is None else open_unit(v), None)
    compile: bool | None = None  # overrides the sweep-wide ``compile``
    # progressive resolution: training size per epoch, test size (docs/resolution.md)
    resolution: Resolution | None = None

    def registered(self, entry: str) -> str:
        return self.dataset or entry

    @property
    def is_folder(self) -> bool:
        return self.kind == "image_folder"


@dataclass(frozen=True)
class ModelSettings:
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    options_by_dataset: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Configuration:
    """A (dataset entry, optimizer) pair; as a source, ``tickets: URI`` instead names a published
    ticket series that stands in for its generation trials (``sweep/imports.py``)."""

    dataset: str = ""
    optimizer: str = ""
    tickets: str | None = None

    @property
    def imported(self) -> bool:
        return self.tickets is not None


@dataclass(frozen=True)
class IMPSettings:
    levels: int = check(positive)
    rate: float = check(open_unit, 0.2)
    strategy: str = "global"
    prune_output: bool = False
    rewind_epochs: float | None = check(
        lambda v: None if v is None or v >= 0 else "must be >= 0", None
    )


def _check_kinds(kinds: tuple[str, ...]) -> str | None:
    """Transfer trials train ``transferred`` tickets and ``random`` controls; ``same`` and
    ``dense`` always come from the target's own IMP run, so listing them changed nothing."""
    retired = [k for k in kinds if k in (SAME, DENSE)]
    if retired:
        return (
            f"{' and '.join(retired)} {'is' if len(retired) == 1 else 'are'} not trained by "
            "transfer trials (the target's own IMP run gives them, always): remove "
            f"{', '.join(retired)} from transfer.kinds"
        )
    unknown = [k for k in kinds if k not in TRANSFER_KINDS]
    if unknown:
        return f"unknown kind {unknown[0]!r}: kinds are among {', '.join(TRANSFER_KINDS)}"
    return None


@dataclass(frozen=True)
class TransferSettings:
    levels: tuple[int, ...] | None = None  # None: every level 1..imp.levels
    kinds: tuple[str, ...] = check(_check_kinds, TRANSFER_KINDS)
    skip_incompatible: bool = False  # drop transfers whose trunks differ (e.g. ResNet stems)
    # When a ticket's input stem differs from the target's (ResNet50: ImageNet 7x7 vs CIFAR 3x3):
    # "refuse" (plan fails), or "reinit": the target's stem is freshly initialised, like the
    # output layer, and pruned at random to the ticket's stem density (docs/cost.md, README).
    stem_mismatch: str = check(one_of("refuse", "reinit"), "refuse")


MULTI_GPU_EFFICIENCY = 6.72 / 8  # NVIDIA's 8-GPU ResNet-50 scaling (DeepLearningExamples)


@dataclass(frozen=True)
class CostSettings:
    """How ``plan`` turns per-epoch figures into GPU-hours (docs/cost.md). Never in trial keys."""

    gpu: str = ""  # the GPU kind the datasets' epoch_gpu_seconds assume, e.g. "A100-80GB, bf16"
    multi_gpu_efficiency: float = check(
        lambda v: None if 0 < v <= 1 else "must be in (0, 1]", MULTI_GPU_EFFICIENCY
    )


DEFAULT_SPARSITY = 0.05  # inside the 1-10% region the study is about (docs/verdicts.md)


@dataclass(frozen=True)
class ReportSettings:
    """How the report judges claims (docs/verdicts.md). Never in trial keys."""

    # Non-inferiority margin in accuracy points: "does as well as" holds when the 95% interval's
    # lower bound of (ticket - own ticket) is above -margin. 0 means 0.
    margin_points: float = check(non_negative, 1.0)
    # The fraction of weights remaining the claims are tested at (per target, the level nearest
    # it) and the transfer matrix is drawn at: the default of ``ltsweep report --sparsity``.
    sparsity: float = check(
        lambda v: None if 0 < v <= 1 else "must be in (0, 1], e.g. 0.05", DEFAULT_SPARSITY
    )


@dataclass(frozen=True)
class SweepConfig:
    models: tuple[ModelSettings, ...]
    datasets: dict[str, DatasetSettings]
    optimizers: dict[str, OptimizerSettings]
    sources: tuple[Configuration, ...]
    targets: tuple[Configuration, ...]
    imp: IMPSettings
    seeds: tuple[int, ...]
    name: str = ""
    description: str = ""
    transfer: TransferSettings = field(default_factory=TransferSettings)
    resources: StageResources = field(default_factory=StageResources)
    max_concurrent_trials: int | None = None
    retries: int = check(non_negative, 2)
    tracking_uri: str | None = None
    data_root: str | None = None
    ffcv_dir: str | None = None
    cost: CostSettings = field(default_factory=CostSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    # torch.compile the training step and evaluation (docs/compile.md); eager where unavailable.
    compile: bool = False  # the shipped sweeps turn it on
    # Other sweeps' outputs (folders or buckets): a generation trial done there is copied from
    # there instead of run (docs/tickets.md). Never in trial keys.
    reuse: tuple[str, ...] = ()


NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def load_sweep(path: Path) -> SweepConfig:
    """Parse and validate a sweep file; every problem is a one-line UserError."""
    raw = load_yaml(path, "sweep file")
    loader = Loader(path)
    config = loader.build(SweepConfig, raw, "")
    if not config.name:
        config = SweepConfig(**{**config.__dict__, "name": path.stem})
    check_sweep(config, loader)
    _check_resolutions(config, loader)
    return config


def check_sweep(config: SweepConfig, loader: Loader) -> None:
    """What no single key's type can say, each refusal naming its dotted key: the sweep's name,
    registry names, cross references, cuts, levels, resources and seeds (in this order)."""
    from ltsweep.core.data import dataset_names

    dataset_names()  # populate the registry (model names are declared: no torch import here)
    if not NAME_RE.match(config.name):
        raise loader.fail("name", "use letters, digits, '_', '-', '.' only")
    _check_models(config, loader)
    _check_folders(config, loader)
    _check_registered_names(config, loader)
    _check_references(config, loader)
    _check_cuts(config, loader)
    _check_schedule_models(config, loader)
    _check_levels(config, loader)
    _check_resources(config, loader)
    if not config.seeds:
        raise loader.fail("seeds", "give at least one seed")
    if not config.sources or not config.targets:
        raise loader.fail("sources" if not config.sources else "targets", "must not be empty")


def _check_models(config: SweepConfig, loader: Loader) -> None:
    """Every model name and option."""
    from ltsweep.core.models import check_model

    for i, m in enumerate(config.models):
        for options in (m.options, *m.options_by_dataset.values()):
            try:
                check_model(m.name, options)
            except UserError as exc:
                raise loader.fail(f"models[{i}].name", str(exc)) from None


def _check_registered_names(config: SweepConfig, loader: Loader) -> None:
    """Datasets, optimizers and the pruning strategy are names of registries."""
    from ltsweep.core.data import DATASETS
    from ltsweep.core.optim import OPTIMIZERS
    from ltsweep.core.pruning import PRUNERS

    checks = [
        (f"datasets.{d}" + (".dataset" if s.dataset else ""), s.registered(d), DATASETS)
        for d, s in config.datasets.items()
        if not s.is_folder
    ]
    checks += [(f"optimizers.{o}", o, OPTIMIZERS) for o in config.optimizers]
    checks.append(("imp.strategy", config.imp.strategy, PRUNERS))
    _check_imported(config, loader)
    for group in ("sources", "targets"):
        for i, c in enumerate(getattr(config, group)):
            if c.imported:
                continue
            if c.dataset not in config.datasets:  # an entry's own name may be an alias
                checks.append((f"{group}[{i}].dataset", c.dataset, DATASETS))
            checks.append((f"{group}[{i}].optimizer", c.optimizer, OPTIMIZERS))
    for key, name, registry in checks:
        if name not in registry:
            try:
                registry.get(name)
            except UserError as exc:
                raise loader.fail(key, str(exc)) from None


def _check_references(config: SweepConfig, loader: Loader) -> None:
    """Every source and target names an entry of ``datasets`` and of ``optimizers``."""
    for group in ("sources", "targets"):
        for i, c in enumerate(getattr(config, group)):
            if c.imported:
                continue
            if c.dataset not in config.datasets:
                raise loader.fail(
                    f"{group}[{i}].dataset", f"{c.dataset!r} has no entry under 'datasets'"
                )
            if c.optimizer not in config.optimizers:
                raise loader.fail(
                    f"{group}[{i}].optimizer", f"{c.optimizer!r} has no entry under 'optimizers'"
                )


def _check_schedule_models(config: SweepConfig, loader: Loader) -> None:
    """A model given a schedule of its own (``schedule_by_model``) is a model."""
    from ltsweep.core.models import check_model

    for name, settings in config.datasets.items():
        for model in settings.schedule_by_model:
            try:
                check_model(model)
            except UserError as exc:
                raise loader.fail(f"datasets.{name}.schedule_by_model.{model}", str(exc)) from None


def _check_levels(config: SweepConfig, loader: Loader) -> None:
    """Transferred levels are levels IMP makes."""
    for lv in config.transfer.levels or ():
        if not 1 <= lv <= config.imp.levels:
            raise loader.fail(
                "transfer.levels", f"level {lv} is outside 1..imp.levels ({config.imp.levels})"
            )


def _check_resources(config: SweepConfig, loader: Loader) -> None:
    """Fractional GPUs only for one-worker trials; several GPUs only as several workers."""
    for key, res in _all_resources(config):
        if res.workers > 1 and res.gpu not in (0.0, 1.0) and res.gpu % 1:
            raise loader.fail(
                f"{key}.gpu",
                "a fractional GPU is allowed only with workers: 1 "
                "(Ray Train workers take whole GPUs)",
            )
        if res.gpu > 1 and res.workers == 1:
            raise loader.fail(f"{key}.gpu", "more than 1 GPU per trial: use workers: N with gpu: 1")


def _check_imported(config: SweepConfig, loader: Loader) -> None:
    """``{tickets: URI}`` only as a source, and alone: the bundle says its dataset and optimizer."""
    for group in ("sources", "targets"):
        for i, c in enumerate(getattr(config, group)):
            key = f"{group}[{i}]"
            if c.imported and group == "targets":
                raise loader.fail(f"{key}.tickets", "a target trains; import tickets as a source")
            if c.imported and (c.dataset or c.optimizer):
                raise loader.fail(
                    key, "give either tickets: URI or dataset and optimizer, not both"
                )
            if c.imported and not c.tickets:
                raise loader.fail(f"{key}.tickets", "give the bundle's URI")
            for name in ("dataset", "optimizer"):
                if not c.imported and not getattr(c, name):
                    raise loader.fail(f"{key}.{name}", f"give a {name} (or, as a source, tickets)")
    for i, uri in enumerate(config.reuse):
        if not uri:
            raise loader.fail(f"reuse[{i}]", "give a sweep output: a folder, s3:// or gs://")


def _check_resolutions(config: SweepConfig, loader: Loader) -> None:
    """A dataset entry's resolution schedule must fit every schedule it trains with."""
    for name, s in config.datasets.items():
        if s.resolution is None:
            continue
        for where, sched in [("schedule", s.schedule)] + [
            (f"schedule_by_model.{m}", v) for m, v in s.schedule_by_model.items()
        ]:
            problem = s.resolution.problem(sched.epochs)
            if problem:
                raise loader.fail(
                    f"datasets.{name}.resolution", f"{problem} ({where}: {sched.epochs} epochs)"
                )


def _check_folders(config: SweepConfig, loader: Loader) -> None:
    """The keys an image folder needs and the ones only it may have; its files are checked when
    the plan is built (where the data root is known)."""
    for name, s in config.datasets.items():
        key = f"datasets.{name}"
        if not s.is_folder:
            for extra in ("path", "test_fraction"):
                if getattr(s, extra) is not None:
                    raise loader.fail(f"{key}.{extra}", "only for kind: image_folder")
            continue
        if s.path is None:
            raise loader.fail(
                f"{key}.path", "kind: image_folder needs path: DIR (its class folders)"
            )
        if s.image_size is None:
            raise loader.fail(f"{key}.image_size", "kind: image_folder needs image_size (e.g. 32)")
        if s.dataset is not None:
            raise loader.fail(f"{key}.dataset", "an image folder is its own dataset; remove this")
        if s.loader != "torch":
            raise loader.fail(f"{key}.loader", "image folders are read with loader: torch")


def _check_cuts(config: SweepConfig, loader: Loader) -> None:
    """A half or subset larger than the registered training split fails here, at plan time."""
    from ltsweep.core.data import Cut, get_spec
    from ltsweep.core.data.subsets import check_cut

    for name, s in config.datasets.items():
        cut = Cut(s.half, s.train_subset)
        if cut.whole:
            continue
        if s.loader != "torch":
            raise loader.fail(f"datasets.{name}.loader", "half/train_subset need loader: torch")
        if s.is_folder:  # its size is known once the plan lists it (balanced_indices checks)
            continue
        spec = get_spec(s.registered(name))
        problem = check_cut(spec.name, spec.train_size, cut)
        if problem:
            key = "train_subset" if s.train_subset is not None else "half"
            raise loader.fail(f"datasets.{name}.{key}", problem)


def _all_resources(config: SweepConfig):
    yield "resources.generate", config.resources.generate
    yield "resources.transfer", config.resources.transfer
    for name, d in config.datasets.items():
        if d.resources:
            yield f"datasets.{name}.resources.generate", d.resources.generate
            yield f"datasets.{name}.resources.transfer", d.resources.transfer
