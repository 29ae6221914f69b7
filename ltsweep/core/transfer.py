"""Moving a ticket to a target configuration, and the controls it is compared with.

Ticket kinds (registry): ``transferred`` and ``same`` load the ticket's trunk weights and masks;
``random`` keeps only the per-layer sparsity (positions permuted within each layer, fresh initial
weights: docs/design.md#ticket-kinds); ``dense`` is the unpruned network from a fresh
initialization. When the target dataset differs from the ticket's source, the output layer is
replaced by a freshly initialized, dense one of the target's class count
(docs/design.md#ticket-kinds); on the source dataset itself (an optimizer-only transfer) the
ticket's own output layer is kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn as nn

from ltsweep.core.checkpoint import load_checkpoint, save_checkpoint
from ltsweep.core.imp import make_loaders
from ltsweep.core.jobs import DataConfig, ModelConfig, TransferJob
from ltsweep.core.masks import Mask
from ltsweep.core.models import create_model, output_layer, output_size
from ltsweep.core.optim import build_optimizer
from ltsweep.core.pruning import random_mask_like
from ltsweep.core.tickets import Ticket, load_ticket
from ltsweep.core.train import EpochHook, TrainState, train
from ltsweep.errors import UserError
from ltsweep.registry import Registry

Builder = Callable[[Ticket | None, ModelConfig, DataConfig, int], tuple[nn.Module, Mask | None]]
TICKET_KINDS: Registry[Builder] = Registry("ticket kind")


def derived_seed(*parts: object) -> int:
    """A seed for a purpose (e.g. the random control's fresh init) that differs from ``seed``."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:4], "little")


def _fresh_model(model: ModelConfig, data: DataConfig, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return create_model(model.name, data.spec().num_classes, **model.kwargs)


def check_same_model(ticket: Ticket, model: ModelConfig) -> None:
    """Tickets (and controls derived from them) move only between equal trunks."""
    if ticket.info.model != model.name or ticket.info.model_options != model.kwargs:
        raise UserError(
            f"ticket is for model {ticket.info.model} {ticket.info.model_options}, the target "
            f"trial asks for {model.name} {model.kwargs}; tickets move only between equal trunks"
        )


def ticket_on_target(
    ticket: Ticket, model: ModelConfig, data: DataConfig, seed: int
) -> tuple[nn.Module, Mask]:
    """Trunk weights and masks from the ticket; output layer fresh unless the dataset is the same."""
    check_same_model(ticket, model)
    net = _fresh_model(model, data, derived_seed("output", seed))
    head = net.output_layer_name
    same_data = ticket.info.source_dataset == data.name
    own = net.state_dict()
    incoming = {
        k: v for k, v in ticket.weights.items() if same_data or not k.startswith(head + ".")
    }
    for name, value in incoming.items():
        if name in own and own[name].shape != value.shape:
            raise UserError(
                f"ticket tensor {name} has shape {tuple(value.shape)}, the target "
                f"model has {tuple(own[name].shape)}: this transfer is impossible"
            )
    missing = set(own) - set(incoming)
    if not same_data:
        missing -= {f"{head}.weight", f"{head}.bias"}
    if missing:
        raise UserError(f"ticket lacks {sorted(missing)[:3]}: it was made for another model")
    net.load_state_dict({**own, **incoming})
    mask = Mask({k: v for k, v in ticket.mask.items() if same_data or not k.startswith(head + ".")})
    assert output_size(output_layer(net)) == data.spec().num_classes
    return net, mask


@TICKET_KINDS.register("transferred")
def _transferred(ticket, model, data, seed):
    return ticket_on_target(ticket, model, data, seed)


@TICKET_KINDS.register("same")
def _same(ticket, model, data, seed):
    return ticket_on_target(ticket, model, data, seed)


@TICKET_KINDS.register("random")
def _random(ticket, model, data, seed):
    """Same per-layer sparsity as ``ticket``, permuted within layers, fresh weights."""
    check_same_model(ticket, model)
    net = _fresh_model(model, data, derived_seed("random-init", seed))
    gen = torch.Generator().manual_seed(derived_seed("random-mask", seed))
    head = net.output_layer_name
    trunk = Mask({k: v for k, v in ticket.mask.items() if not k.startswith(head + ".")})
    return net, random_mask_like(trunk, gen)


@TICKET_KINDS.register("dense")
def _dense(ticket, model, data, seed):
    return _fresh_model(model, data, derived_seed("dense-init", seed)), None


def build_for_target(job: TransferJob) -> tuple[nn.Module, Mask | None]:
    """The model (and mask) a transfer trial trains, before any training."""
    builder = TICKET_KINDS.get(job.kind)
    ticket = load_ticket(Path(job.ticket_dir)) if job.ticket_dir else None
    if ticket is None and job.kind != "dense":
        raise UserError(f"ticket kind {job.kind!r} needs a ticket directory")
    # Every builder makes the model with the target's class count (ticket_on_target asserts it).
    return builder(ticket, job.model, job.data, job.seed)


def run_transfer(
    job: TransferJob, workdir: Path, device: str = "cpu", on_epoch: EpochHook | None = None
) -> TrainState:
    """Train ``job`` on its target; resumes from ``workdir/checkpoint.pt`` at epoch boundaries."""
    workdir = Path(workdir)
    net, mask = build_for_target(job)
    net = net.to(device)
    mask = mask.to(device) if mask is not None else None
    train_loader, test_loader = make_loaders(job.data, job.train.batch_size, job.seed, device)
    optimizer = build_optimizer(net, job.train.optimizer)
    resume = load_checkpoint(workdir / "checkpoint.pt", net, optimizer)

    def epoch_done(state: TrainState) -> None:
        save_checkpoint(workdir / "checkpoint.pt", state)
        if on_epoch is not None:
            on_epoch(state)

    return train(
        net, train_loader, test_loader, job.train, mask=mask, resume=resume, on_epoch=epoch_done
    )
