"""Moving a ticket to a target configuration, and the controls it is compared with.

Ticket kinds (a registry of ``core.jobs.RESULT_KINDS``): ``transferred`` and ``same`` load the ticket's trunk weights and masks;
``random`` keeps only the per-layer sparsity (positions permuted within each layer, fresh initial
weights: docs/design.md#ticket-kinds); ``dense`` is the unpruned network from a fresh
initialization. When the target dataset differs from the ticket's source, the output layer is
replaced by a freshly initialized, dense one of the target's class count
(docs/design.md#ticket-kinds); on the source dataset itself (an optimizer-only transfer) the
ticket's own output layer is kept. A ticket made with another input stem (ResNet50: ImageNet's
7x7 conv + max-pool, the 32x32 datasets' 3x3 conv) moves with ``reinit_stem``: the stem is
treated like the output layer, freshly initialised, and pruned at random to the ticket's own stem
density, so the ticket keeps its number of weights (``restem_ticket``).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ltsweep.core.checkpoint import load_checkpoint, save_checkpoint
from ltsweep.core.imp import make_loaders
from ltsweep.core.jobs import (
    DENSE,
    RANDOM,
    SAME,
    TRANSFERRED,
    DataConfig,
    ModelConfig,
    TransferJob,
)
from ltsweep.core.masks import Mask
from ltsweep.core.models import (
    STEM_OPTION,
    create_model,
    output_layer,
    output_size,
    resolved_options,
    stem_layer_names,
)
from ltsweep.core.optim import build_optimizer
from ltsweep.core.pruning import random_mask_like
from ltsweep.core.tickets import Ticket, load_ticket
from ltsweep.core.train import EpochHook, TrainState, train
from ltsweep.errors import UserError
from ltsweep.registry import Registry
from ltsweep.trial_layout import CHECKPOINT_FILE

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


@TICKET_KINDS.register(TRANSFERRED)
def _transferred(ticket, model, data, seed):
    return ticket_on_target(ticket, model, data, seed)


@TICKET_KINDS.register(SAME)
def _same(ticket, model, data, seed):
    return ticket_on_target(ticket, model, data, seed)


@TICKET_KINDS.register(RANDOM)
def _random(ticket, model, data, seed):
    """Same per-layer sparsity as ``ticket``, permuted within layers, fresh weights."""
    check_same_model(ticket, model)
    net = _fresh_model(model, data, derived_seed("random-init", seed))
    gen = torch.Generator().manual_seed(derived_seed("random-mask", seed))
    head = net.output_layer_name
    trunk = Mask({k: v for k, v in ticket.mask.items() if not k.startswith(head + ".")})
    return net, random_mask_like(trunk, gen)


@TICKET_KINDS.register(DENSE)
def _dense(ticket, model, data, seed):
    return _fresh_model(model, data, derived_seed("dense-init", seed)), None


def _random_mask_at(density: float, shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    """A bool mask of ``shape`` keeping ``round(density * numel)`` positions drawn at random."""
    numel = int(torch.Size(shape).numel())
    keep = torch.zeros(numel, dtype=torch.bool)
    keep[torch.randperm(numel, generator=generator)[: round(density * numel)]] = True
    return keep.view(shape)


def restem_ticket(ticket: Ticket, model: ModelConfig, seed: int) -> Ticket:
    """The ticket with the target model's input stem in place of its own.

    The stem's weights cannot move (their shapes differ), so, like the output layer, they are
    freshly initialised; unlike the output layer the stem is pruned in the ticket, so its
    prunable weights get a random mask with the ticket's stem density (the random-ticket rule for
    that one layer): the ticket keeps (to rounding) its number of weights, and the comparison
    with the target's own ticket at the same level stays a comparison at equal sparsity.
    """
    source_options = {**ticket.info.model_options}
    if {k: v for k, v in source_options.items() if k != STEM_OPTION} != {
        k: v for k, v in model.kwargs.items() if k != STEM_OPTION
    } or ticket.info.model != model.name:
        raise UserError(
            f"ticket is for model {ticket.info.model} {ticket.info.model_options}, the target "
            f"asks for {model.name} {model.kwargs}: only the stem may differ"
        )
    torch.manual_seed(derived_seed("stem-init", seed))
    fresh = create_model(model.name, ticket.info.num_classes, **model.kwargs)
    stems = stem_layer_names(fresh)
    if not stems:
        raise UserError(f"model {model.name} has no stem to re-initialise (reinit_stem)")
    in_stem = tuple(f"{s}." for s in stems)
    weights = {k: v for k, v in ticket.weights.items() if not k.startswith(in_stem)}
    weights.update({k: v for k, v in fresh.state_dict().items() if k.startswith(in_stem)})
    gen = torch.Generator().manual_seed(derived_seed("stem-mask", seed))
    params = dict(fresh.named_parameters())
    mask = Mask({k: v for k, v in ticket.mask.items() if not k.startswith(in_stem)})
    for name in sorted(n for n in ticket.mask if n.startswith(in_stem)):
        density = float(ticket.mask[name].float().mean())
        mask[name] = _random_mask_at(density, params[name].shape, gen)
        weights[name] = weights[name] * mask[name].to(weights[name].dtype)
    options = {k: v for k, v in source_options.items() if k != STEM_OPTION}
    if STEM_OPTION in model.kwargs:
        options[STEM_OPTION] = model.kwargs[STEM_OPTION]
    info = dataclasses.replace(
        ticket.info,
        model_options=options,
        weights_remaining=mask.density,
        layer_density=mask.layer_density(),
    )
    return Ticket(info, weights, mask)


def _stems(model: ModelConfig) -> tuple[str, ...]:
    with torch.device("meta"):
        return stem_layer_names(create_model(model.name, 1, **model.kwargs))


def stem_record(ticket_dir: Path, job: TransferJob) -> dict[str, Any]:
    """What a re-stemmed transfer trained, for its done record: the rule, both stems, and the
    fraction of weights remaining after the stem's random mask."""
    ticket = load_ticket(Path(ticket_dir))
    moved = restem_ticket(ticket, job.model, job.seed)
    return {
        "weights_remaining": moved.info.weights_remaining,
        "stem": {
            "rule": "reinit",
            "ticket_stem": resolved_options(ticket.info.model, ticket.info.model_options).get(
                STEM_OPTION
            ),
            "target_stem": resolved_options(job.model.name, job.model.kwargs).get(STEM_OPTION),
            "layers": list(_stems(job.model)),
        },
    }


def build_for_target(job: TransferJob) -> tuple[nn.Module, Mask | None]:
    """The model (and mask) a transfer trial trains, before any training."""
    builder = TICKET_KINDS.get(job.kind)
    ticket = load_ticket(Path(job.ticket_dir)) if job.ticket_dir else None
    if ticket is None and job.kind != DENSE:
        raise UserError(f"ticket kind {job.kind!r} needs a ticket directory")
    if ticket is not None and job.reinit_stem:
        ticket = restem_ticket(ticket, job.model, job.seed)
    # Every builder makes the model with the target's class count (ticket_on_target asserts it).
    return builder(ticket, job.model, job.data, job.seed)


def run_transfer(
    job: TransferJob, workdir: Path, device: str = "cpu", on_epoch: EpochHook | None = None
) -> TrainState:
    """Train ``job`` on its target; resumes from ``workdir``'s checkpoint at epoch boundaries."""
    workdir = Path(workdir)
    net, mask = build_for_target(job)
    net = net.to(device)
    mask = mask.to(device) if mask is not None else None
    train_loader, test_loader = make_loaders(job.data, job.train.batch_size, job.seed, device)
    optimizer = build_optimizer(net, job.train.optimizer)
    resume = load_checkpoint(workdir / CHECKPOINT_FILE, net, optimizer)

    def epoch_done(state: TrainState) -> None:
        save_checkpoint(workdir / CHECKPOINT_FILE, state)
        if on_epoch is not None:
            on_epoch(state)

    return train(
        net, train_loader, test_loader, job.train, mask=mask, resume=resume, on_epoch=epoch_done
    )
