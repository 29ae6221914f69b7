"""Iterative magnitude pruning with late resetting, resumable from its working directory.

    level 0: train the dense network; capture the weights after k steps (the late-reset point)
    level L: mask_L = prune(final weights of level L-1, mask_{L-1}); ticket_L = (mask_L, rewind
             weights); train ticket_L from step k to the end

Every stage checks whether its output already exists and returns it if so (open_lth's habit), so
a killed run started again produces the same tickets. ``workdir`` is the trial's directory, laid
out as ``ltsweep.trial_layout`` describes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ltsweep.core.checkpoint import load_checkpoint, save_checkpoint
from ltsweep.core.data.loading import EpochLoader, LoaderOptions, make_loader
from ltsweep.core.jobs import DataConfig, GenerationJob
from ltsweep.core.masks import Mask
from ltsweep.core.models import create_model, prunable_parameter_names
from ltsweep.core.optim import build_optimizer
from ltsweep.core.pruning import prune
from ltsweep.core.tickets import TicketInfo, load_ticket, save_ticket
from ltsweep.core.train import TrainState, train
from ltsweep.errors import UserError
from ltsweep.fsio import write_json, write_with
from ltsweep.trial_layout import (
    CHECKPOINT_FILE,
    FINAL_FILE,
    RESULT_FILE,
    REWIND_FILE,
    TICKET_INFO_FILE,
    level_dir,
    ticket_dir,
)


@dataclass(frozen=True)
class LevelResult:
    level: int
    weights_remaining: float
    history: list[dict[str, float]]
    ticket_dir: str
    steps: str = ""  # "compiled" or "eager: <why>" (compile.StepFunctions.mode); "" before it

    @property
    def final_accuracy(self) -> float:
        return self.history[-1]["test_accuracy"]


LevelHook = Callable[[LevelResult], None]
EpochHook = Callable[[int, TrainState], None]  # (level, state)


def loader_options(
    data: DataConfig,
    train: bool,
    batch_size: int,
    seed: int,
    device: str,
    rank: int = 0,
    world: int = 1,
) -> LoaderOptions:
    """The loader settings of one split: the test split in batches of at least 256, whole on
    every rank unless ``world`` shards it."""
    return LoaderOptions(
        batch_size=batch_size if train else max(batch_size, 256),
        train=train,
        seed=seed,
        device=device,
        workers=data.workers,
        rank=rank,
        world_size=world,
        image_size=data.image_size,
        data_root=data.data_root,
        ffcv_dir=data.ffcv_dir,
        half=data.half,
        train_subset=data.train_subset,
        folder=data.folder,
        resolution=data.resolution,
    )


def make_loaders(
    data: DataConfig, batch_size: int, seed: int, device: str, rank: int = 0, world: int = 1
) -> tuple[EpochLoader, EpochLoader]:
    """The training and test loaders, both sharded over ``world`` ranks."""
    train, test = (
        loader_options(data, t, batch_size, seed, device, rank, world) for t in (True, False)
    )
    return make_loader(data.name, train, data.loader), make_loader(data.name, test, data.loader)


def rewind_step(job: GenerationJob, steps_per_epoch: int) -> int:
    epochs = job.imp.rewind_epochs
    if epochs is None:
        epochs = job.data.spec().reset_epochs
    return round(epochs * steps_per_epoch)


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    from safetensors.torch import save_file

    cpu = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    write_with(path, lambda tmp: save_file(cpu, str(tmp)))


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


class IMPRun:
    """One generation trial. ``run()`` is idempotent: finished levels are read back, not redone."""

    def __init__(
        self,
        job: GenerationJob,
        workdir: Path,
        device: str = "cpu",
        rank: int = 0,
        world: int = 1,
        wrap_model: Callable[[torch.nn.Module], torch.nn.Module] | None = None,
    ) -> None:
        self.job, self.workdir, self.device = job, Path(workdir), device
        self.rank, self.world = rank, world
        self.wrap_model = wrap_model  # DDP under Ray Train
        self.on_ticket: Callable[[int], None] | None = None  # a ticket was written (its level)
        # Before a level trains, on every rank: its mask and starting weights (the ranks' check).
        self.before_level: Callable[[int, Mask, torch.nn.Module], None] | None = None
        self.spec = job.data.spec()
        self.train_loader, self.test_loader = make_loaders(
            job.data, job.train.batch_size // world, job.seed, device, rank, world
        )
        self.k = rewind_step(job, len(self.train_loader))
        total = job.train.epochs * len(self.train_loader)
        if job.imp.levels > 0 and self.k >= total:
            raise UserError(
                f"the late-reset point (step {self.k}) is not before the end of training "
                f"({total} steps): lower rewind_epochs or raise epochs"
            )

    @property
    def is_writer(self) -> bool:
        return self.rank == 0

    def _new_model(self) -> torch.nn.Module:
        torch.manual_seed(self.job.seed)
        model = create_model(self.job.model.name, self.spec.num_classes, **self.job.model.kwargs)
        return model.to(self.device)

    def _mask_for(self, level: int, model: torch.nn.Module) -> Mask:
        names = prunable_parameter_names(model, self.job.imp.prune.prune_output)
        if level == 0:
            return Mask.ones_like(model, names)
        tdir = ticket_dir(self.workdir, level)
        if (tdir / TICKET_INFO_FILE).exists():
            return load_ticket(tdir).mask
        previous = self._mask_for(level - 1, model)
        final = _load_tensors(level_dir(self.workdir, level - 1) / FINAL_FILE)
        return prune(final, previous, self.job.imp.prune)

    def _write_ticket(self, level: int, mask: Mask, model: torch.nn.Module) -> None:
        tdir = ticket_dir(self.workdir, level)
        if not self.is_writer or (tdir / TICKET_INFO_FILE).exists():
            return
        info = TicketInfo(
            model=self.job.model.name,
            source_dataset=self.job.data.name,
            source_optimizer=self.job.train.optimizer.name,
            level=level,
            seed=self.job.seed,
            num_classes=self.spec.num_classes,
            rewind_step=self.k,
            weights_remaining=mask.density,
            layer_density=mask.layer_density(),
            model_options=self.job.model.kwargs,
            prune={
                "strategy": self.job.imp.prune.strategy,
                "rate": self.job.imp.prune.rate,
                "prune_output": self.job.imp.prune.prune_output,
            },
            source_key=self.job.key,
        )
        save_ticket(tdir, _load_tensors(self.workdir / REWIND_FILE), mask, info)
        if self.on_ticket is not None:
            self.on_ticket(level)

    def run_level(self, level: int, on_epoch: EpochHook | None = None) -> LevelResult:
        ldir = level_dir(self.workdir, level)
        result_path = ldir / RESULT_FILE
        model = self._new_model()
        mask = self._mask_for(level, model)
        rewind_path = self.workdir / REWIND_FILE
        if level > 0 or result_path.exists():  # (re)writes a missing ticket; level 0 needs k
            self._write_ticket(level, mask, model)
        if result_path.exists():
            return LevelResult(**json.loads(result_path.read_text()))
        if level > 0:
            model.load_state_dict(_load_tensors(rewind_path))
        if self.before_level is not None:
            self.before_level(level, mask, model)
        net = self.wrap_model(model) if self.wrap_model else model
        optimizer = build_optimizer(net, self.job.train.optimizer)
        resume = load_checkpoint(ldir / CHECKPOINT_FILE, net, optimizer)

        def capture(step: int, current: torch.nn.Module) -> None:
            if level == 0 and step == self.k and not rewind_path.exists() and self.is_writer:
                _save_tensors(rewind_path, model.state_dict())

        def epoch_done(state: TrainState) -> None:
            if self.is_writer:
                save_checkpoint(ldir / CHECKPOINT_FILE, state)
            if on_epoch is not None:
                on_epoch(level, state)

        if level == 0 and self.k == 0:
            capture(0, net)
        state = train(
            net,
            self.train_loader,
            self.test_loader,
            self.job.train,
            mask=mask,
            start_step=0 if level == 0 else self.k,
            resume=resume,
            on_step=capture,
            on_epoch=epoch_done,
        )
        result = LevelResult(
            level,
            mask.density,
            [m.as_dict() for m in state.history],
            str(ticket_dir(self.workdir, level)),
            state.steps,
        )
        if self.is_writer:
            if level == 0:
                self._write_ticket(0, mask, model)
            _save_tensors(ldir / FINAL_FILE, model.state_dict())
            write_json(result_path, result.__dict__)
            (ldir / CHECKPOINT_FILE).unlink(missing_ok=True)
        return result

    def run(
        self, on_level: LevelHook | None = None, on_epoch: EpochHook | None = None
    ) -> list[LevelResult]:
        results = []
        for level in range(self.job.imp.levels + 1):
            result = self.run_level(level, on_epoch)
            results.append(result)
            if on_level is not None:
                on_level(result)
        return results


def run_imp(
    job: GenerationJob, workdir: Path, device: str = "cpu", on_level: LevelHook | None = None
) -> list[LevelResult]:
    """Run (or finish) IMP for ``job`` in ``workdir``; returns one result per level 0..L."""
    return IMPRun(job, workdir, device).run(on_level)
