"""Expand a sweep into trials. Deterministic; each trial keyed by a hash of its resolved job.

Stage 1 generates tickets for every configuration that is a source or a target (the target's own
IMP run is its ``same`` baseline and its level 0 is its ``dense`` baseline: neither is trained
twice). Stage 2 trains ``transferred`` tickets (every source -> every other target configuration,
same model) and ``random`` controls (the target's own ticket's per-layer sparsity).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

from ltsweep.core.data import resolve_root
from ltsweep.core.jobs import (
    RANDOM,
    SAME,
    TRANSFERRED,
    DataConfig,
    GenerationJob,
    IMPConfig,
    ModelConfig,
    TrainConfig,
    TransferJob,
)
from ltsweep.core.optim import OptimizerConfig
from ltsweep.core.pruning import PruneConfig
from ltsweep.errors import UserError
from ltsweep.hashing import Memo, config_key
from ltsweep.storage.plan_keys import PlanKeys
from ltsweep.sweep.config import Configuration, ModelSettings, SweepConfig
from ltsweep.sweep.data_check import check_files, folder_data
from ltsweep.sweep.imports import (
    ImportedSeries,
    check_fits,
    check_protocol,
    describe_model,
    resolve,
)
from ltsweep.sweep.trial import GENERATE, KEY_PREFIX, TRANSFER, Entry, Resources, Trial, TrialAxes


@dataclass(frozen=True)
class Plan:
    sweep: SweepConfig
    generation: tuple[Trial, ...]
    transfer: tuple[Trial, ...]
    skipped_incompatible: int = 0
    imported: tuple[ImportedSeries, ...] = ()  # sources: [{tickets: URI}], read at plan time

    @property
    def trials(self) -> tuple[Trial, ...]:
        return self.generation + self.transfer

    def naive_trainings(self) -> int:
        """Trainings if the same-target and dense baselines were trained as their own trials."""
        targets = sum(1 for t in self.generation if t.axes.is_target)
        # per target IMP run: one "same" training per transferred level, plus one dense
        return sum(t.trainings for t in self.trials) + targets * (len(self.levels()) + 1)

    def levels(self) -> tuple[int, ...]:
        return transfer_levels(self.sweep)

    def keys(self) -> PlanKeys:
        """What ``run`` records in the store: the trial keys, and the report's settings (so that
        a copied store is reported as its sweep file says)."""
        return PlanKeys(
            self.sweep.name,
            {t.key: t.trainings - 1 for t in self.generation},
            tuple(sorted(t.key for t in self.transfer)),
            dataclasses.asdict(self.sweep.report),
        )


def transfer_levels(sweep: SweepConfig) -> tuple[int, ...]:
    """The IMP levels whose tickets a sweep transfers: ``transfer.levels``, else every one."""
    return sweep.transfer.levels or tuple(range(1, sweep.imp.levels + 1))


@functools.lru_cache(maxsize=256)
def _identity_data(data: DataConfig) -> DataConfig:
    """The data configuration without where data lives and how many loader workers; one object
    per configuration, so that the key memo of ``build_plan`` hashes it once."""
    folder = dataclasses.replace(data.folder, path="") if data.folder else None  # moved: same key
    return dataclasses.replace(data, data_root=None, ffcv_dir=None, workers=0, folder=folder)


def _key_payload(job: GenerationJob | TransferJob, **extra: Any) -> dict[str, Any]:
    """What identifies a job: everything but where data lives and how many loader workers
    (fields marked ``HASHED_WHEN_SET`` only when set: ``ltsweep.hashing``)."""
    data = _identity_data(job.data)
    return {"job": dataclasses.replace(job, data=data, key="", **extra), "type": type(job).__name__}


def _model(settings: ModelSettings, dataset: str) -> ModelConfig:
    options = {**settings.options, **settings.options_by_dataset.get(dataset, {})}
    return ModelConfig(settings.name, tuple(sorted(options.items())))


def _train(sweep: SweepConfig, model: str, config: Configuration) -> TrainConfig:
    d = sweep.datasets[config.dataset]
    sched = d.schedule_by_model.get(model, d.schedule)
    o = sweep.optimizers[config.optimizer]
    opt = OptimizerConfig(
        config.optimizer, o.lr, o.momentum, o.weight_decay, o.nesterov, tuple(o.betas)
    )
    return TrainConfig(
        sched.epochs,
        d.batch_size,
        opt,
        tuple(sched.milestones),
        sched.gamma,
        sched.warmup_epochs,
        compile=sweep.compile if d.compile is None else d.compile,
    )


def _data(sweep: SweepConfig, dataset: str, data_root: str | None) -> DataConfig:
    d = sweep.datasets[dataset]
    resolved = resolve_root(data_root, sweep.data_root)
    root = str(resolved) if resolved else None
    folder = folder_data(dataset, d.path, root, d.test_fraction) if d.is_folder and d.path else None
    return DataConfig(
        d.registered(dataset),
        d.image_size,
        d.loader,
        d.workers,
        root,
        sweep.ffcv_dir,
        d.half,
        d.train_subset,
        folder,
        d.resolution,
    )


def _resources(sweep: SweepConfig, dataset: str, stage: str) -> Resources:
    override = sweep.datasets[dataset].resources
    return getattr(override or sweep.resources, stage)


def entry(sweep: SweepConfig, config: Configuration, data: DataConfig) -> Entry:
    """The typed description of a configuration as its trials train on it (``trial.Entry``)."""
    from ltsweep.core.data import get_spec
    from ltsweep.core.data.image_folder.dataset import folder_test_size
    from ltsweep.core.data.subsets import Cut, cut_size

    settings = sweep.datasets[config.dataset]
    if data.folder is not None:
        folder = data.folder
        dataset = f"image_folder:{folder.files_sha256[:12]}"
        classes, train, test = len(folder.classes), folder.train_size, folder_test_size(folder)
    else:
        spec = get_spec(data.name)
        dataset, classes, train, test = spec.name, spec.num_classes, spec.train_size, spec.test_size
    used = None if train is None else cut_size(train, Cut(settings.half, settings.train_subset))
    return Entry(
        config.dataset,
        config.optimizer,
        dataset,
        classes,
        settings.half,
        settings.train_subset,
        used,
        test,
    )


def _seeds(sweep: SweepConfig, dataset: str) -> tuple[int, ...]:
    return sweep.datasets[dataset].seeds or sweep.seeds


def _compatible(source: ModelConfig, target: ModelConfig) -> bool:
    """Trunks match when the resolved options match: every model option (today ResNet's ``stem``)
    shapes the trunk, so equal options <=> equal trunk parameter shapes, which
    tests/test_plan.py proves by building every registered model with every option value.
    Building the models here instead, even on 'meta', cost ``plan`` seconds: their weight init
    imports torch's compiler stack."""
    from ltsweep.core.models import resolved_options

    if source == target:
        return True
    return source.name == target.name and resolved_options(
        source.name, source.kwargs
    ) == resolved_options(target.name, target.kwargs)


def _only_stems_differ(source: ModelConfig, target: ModelConfig) -> bool:
    """Same model and options but for the input stem: the ``stem_mismatch: reinit`` case."""
    from ltsweep.core.models import STEM_OPTION, resolved_options

    if source.name != target.name:
        return False
    a, b = (
        resolved_options(source.name, source.kwargs),
        resolved_options(target.name, target.kwargs),
    )
    return STEM_OPTION in a and a.pop(STEM_OPTION) != b.pop(STEM_OPTION, None) and a == b


def build_plan(sweep: SweepConfig, data_root: str | None = None) -> Plan:
    """Every trial of ``sweep``: its generation trials, then the transfers of their tickets."""
    own_sources = [s for s in sweep.sources if not s.imported]  # imported: tickets, no IMP
    configs = list(dict.fromkeys([*own_sources, *sweep.targets]))
    for name in dict.fromkeys(c.dataset for c in configs):
        check_files(name, _data(sweep, name, data_root))
    memo: Memo = {}  # trials share model/data/train configurations: turn each to JSON once
    entries = {c: entry(sweep, c, _data(sweep, c.dataset, data_root)) for c in configs}
    generation = _generation_trials(sweep, configs, entries, data_root, memo)
    transfer, skipped = _transfer_trials(sweep, generation, entries, data_root, memo)
    imported = _imported(sweep, transfer_levels(sweep))
    more, also_skipped = _imported_transfers(sweep, imported, entries, data_root, memo)
    return Plan(
        sweep,
        tuple(generation.values()),
        tuple(transfer + more),
        skipped + also_skipped,
        imported,
    )


GenerationTrials = dict[tuple[str, Configuration, int], Trial]  # (model, configuration, seed)


def _generation_trials(
    sweep: SweepConfig,
    configs: list[Configuration],
    entries: dict[Configuration, Entry],
    data_root: str | None,
    memo: Memo,
) -> GenerationTrials:
    """One IMP run per model, source or target configuration and seed."""
    imp = IMPConfig(
        sweep.imp.levels,
        PruneConfig(sweep.imp.strategy, sweep.imp.rate, sweep.imp.prune_output),
        sweep.imp.rewind_epochs,
    )
    targets = set(sweep.targets)
    generation: GenerationTrials = {}
    for settings in sweep.models:
        for config in configs:
            model = _model(settings, config.dataset)
            for seed in _seeds(sweep, config.dataset):
                job = GenerationJob(
                    model,
                    _data(sweep, config.dataset, data_root),
                    _train(sweep, settings.name, config),
                    imp,
                    seed,
                )
                key = KEY_PREFIX[GENERATE] + config_key(_key_payload(job), memo=memo)
                own = entries[config]
                axes = TrialAxes(
                    GENERATE, SAME, model.name, own, seed, own, None, config in targets
                )
                cost = sweep.datasets[config.dataset].epoch_gpu_seconds.get(settings.name)
                generation[(settings.name, config, seed)] = Trial(
                    key,
                    axes,
                    dataclasses.replace(job, key=key),
                    _resources(sweep, config.dataset, GENERATE),
                    epoch_gpu_seconds=cost,
                )
    return generation


def _transfer_pairs(sweep: SweepConfig, target: Configuration) -> list[tuple[str, Configuration]]:
    """(kind, configuration whose ticket it trains) for one target: every other source's
    ticket, and the random control of the target's own."""
    pairs: list[tuple[str, Configuration]] = []
    if TRANSFERRED in sweep.transfer.kinds:
        pairs += [(TRANSFERRED, s) for s in sweep.sources if s != target and not s.imported]
    if RANDOM in sweep.transfer.kinds:
        pairs.append((RANDOM, target))
    return pairs


def _transfer_trials(
    sweep: SweepConfig,
    generation: GenerationTrials,
    entries: dict[Configuration, Entry],
    data_root: str | None,
    memo: Memo,
) -> tuple[list[Trial], int]:
    """Every kind's trials per model, target, source, shared seed and transferred level, and
    how many incompatible ones ``transfer.skip_incompatible`` left out."""
    transfer: list[Trial] = []
    skipped = 0
    levels = transfer_levels(sweep)
    for settings in sweep.models:
        for target in sweep.targets:
            tmodel = _model(settings, target.dataset)
            cost = sweep.datasets[target.dataset].epoch_gpu_seconds.get(settings.name)
            train = _train(sweep, settings.name, target)
            data = _data(sweep, target.dataset, data_root)
            res = _resources(sweep, target.dataset, TRANSFER)
            for kind, source in _transfer_pairs(sweep, target):
                smodel = _model(settings, source.dataset)
                restem = sweep.transfer.stem_mismatch == "reinit" and _only_stems_differ(
                    smodel, tmodel
                )
                seeds = [
                    s for s in _seeds(sweep, target.dataset) if s in _seeds(sweep, source.dataset)
                ]
                if not restem and not _compatible(smodel, tmodel):
                    if sweep.transfer.skip_incompatible:  # the trials it would have planned
                        skipped += len(levels) * len(seeds)
                        continue
                    raise UserError(
                        f"model {settings.name}: a ticket from {source.dataset} ({dict(smodel.options)}) "
                        f"cannot move to {target.dataset} ({dict(tmodel.options)}): parameter shapes "
                        "differ; set transfer.stem_mismatch: reinit (stems only), "
                        "transfer.skip_incompatible: true, or use the same model options"
                    )
                for seed in seeds:
                    gen = generation[(settings.name, source, seed)]
                    for level in levels:
                        job = TransferJob(kind, tmodel, data, train, seed, reinit_stem=restem)
                        key = KEY_PREFIX[TRANSFER] + config_key(
                            _key_payload(job, ticket_dir=f"{gen.key}/{level}"), memo=memo
                        )
                        axes = TrialAxes(
                            TRANSFER,
                            kind,
                            tmodel.name,
                            entries[target],
                            seed,
                            None if kind == RANDOM else entries[source],
                            level,
                        )
                        transfer.append(
                            Trial(key, axes, dataclasses.replace(job, key=key), res, gen.key, cost)
                        )
    return transfer, skipped


def _imported_transfers(
    sweep: SweepConfig,
    imported: tuple[ImportedSeries, ...],
    entries: dict[Configuration, Entry],
    data_root: str | None,
    memo: Memo,
) -> tuple[list[Trial], int]:
    """The transferred trials of every imported series, per model and target."""
    trials: list[Trial] = []
    skipped = 0
    if TRANSFERRED not in sweep.transfer.kinds:
        return trials, skipped
    levels = transfer_levels(sweep)
    for settings in sweep.models:
        for series in (s for s in imported if s.model == settings.name):
            for target in sweep.targets:
                made, n = _imported_trials(
                    sweep,
                    series,
                    target,
                    entries[target],
                    _model(settings, target.dataset),
                    _data(sweep, target.dataset, data_root),
                    _train(sweep, settings.name, target),
                    _resources(sweep, target.dataset, TRANSFER),
                    sweep.datasets[target.dataset].epoch_gpu_seconds.get(settings.name),
                    levels,
                    memo,
                )
                trials += made
                skipped += n
    return trials, skipped


def _imported(sweep: SweepConfig, levels: tuple[int, ...]) -> tuple[ImportedSeries, ...]:
    """Each ``{tickets: URI}`` source, read (JSON only) and checked against the sweep."""
    found = []
    for i, source in enumerate(sweep.sources):
        if not source.imported:
            continue
        series = resolve(i, source.tickets or "")
        names = [m.name for m in sweep.models]
        if series.model not in names:
            raise UserError(
                f"{series.key}: {series.where} holds tickets of model {series.model}, the sweep "
                f"trains {', '.join(names)}; import tickets of one of these models"
            )
        check_protocol(series, sweep.imp, levels)
        found.append(series)
    return tuple(found)


def _imported_trials(
    sweep: SweepConfig,
    series: ImportedSeries,
    target: Configuration,
    tentry: Entry,
    tmodel: ModelConfig,
    data: DataConfig,
    train: TrainConfig,
    res: Resources,
    cost: float | None,
    levels: tuple[int, ...],
    memo: Memo,
) -> tuple[list[Trial], int]:
    """Transfer trials of an imported series to one target; keyed by the bundle ids."""
    smodel = series.model_config()
    restem = sweep.transfer.stem_mismatch == "reinit" and _only_stems_differ(smodel, tmodel)
    seeds = [s for s in _seeds(sweep, target.dataset) if s in series.seeds]
    if not restem and not _compatible(smodel, tmodel):
        if sweep.transfer.skip_incompatible:
            return [], len(levels) * len(seeds)
        raise UserError(
            f"{series.key}: {series.where} holds {describe_model(smodel)} tickets, the sweep's "
            f"model for {target.dataset} is {describe_model(tmodel)}: parameter shapes differ; "
            "set transfer.stem_mismatch: reinit (stems only) or import matching tickets"
        )
    check_fits(series, tmodel, data.spec().num_classes, restem)
    trials = []
    for seed in seeds:
        found = series.for_seed(seed)
        for level in levels:
            job = TransferJob(TRANSFERRED, tmodel, data, train, seed, reinit_stem=restem)
            ticket = f"{found.bundle.id}/{level}"
            key = KEY_PREFIX[TRANSFER] + config_key(_key_payload(job, ticket_dir=ticket), memo=memo)
            axes = TrialAxes(
                TRANSFER, TRANSFERRED, tmodel.name, tentry, seed, series.entry_of(found), level
            )
            trial = Trial(
                key,
                axes,
                dataclasses.replace(job, key=key),
                res,
                found.bundle.id,
                cost,
                ticket_uri=found.location.uri,
            )
            trials.append(trial)
    return trials, 0
