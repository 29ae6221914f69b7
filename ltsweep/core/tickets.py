"""Ticket files: a directory with ``weights.safetensors`` and ``ticket.json`` (file names and
the sha256 check in ``ltsweep.trial_layout``).

``weights.safetensors`` holds named tensors only (``weights.<name>``: the rewind state, pruned
entries already zero; ``masks.<name>``: bool masks). ``ticket.json`` says what made the ticket and
carries the sha256 of the tensors file, checked on every load. Never pickled; written atomically.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

import ltsweep
from ltsweep.core.masks import Mask
from ltsweep.errors import CorruptArtifactError
from ltsweep.fsio import atomic_dir
from ltsweep.hashing import sha256_file
from ltsweep.trial_layout import TICKET_INFO_FILE as INFO_FILE
from ltsweep.trial_layout import TICKET_TENSORS_FILE as TENSORS_FILE
from ltsweep.trial_layout import read_ticket_json, verify_ticket_files

TICKET_FORMAT = 1


@dataclass(frozen=True)
class TicketInfo:
    """What made a ticket. ``weights_remaining`` is over the prunable weights."""

    model: str
    source_dataset: str
    source_optimizer: str
    level: int
    seed: int
    num_classes: int
    rewind_step: int
    weights_remaining: float
    layer_density: dict[str, float]
    model_options: dict[str, Any] = field(default_factory=dict)
    prune: dict[str, Any] = field(default_factory=dict)
    source_key: str = ""  # the generation trial's key
    code_version: str = ltsweep.__version__
    sha256: str = ""
    format: int = TICKET_FORMAT


@dataclass(frozen=True)
class Ticket:
    info: TicketInfo
    weights: dict[str, torch.Tensor]  # the full state dict at the late-reset point (masked)
    mask: Mask


def save_ticket(
    directory: Path, weights: dict[str, torch.Tensor], mask: Mask, info: TicketInfo
) -> Ticket:
    """Write a ticket directory atomically; masked weights are zeroed before writing."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    for name, value in weights.items():
        value = value.detach().cpu()
        if name in mask:  # the mask may live on the GPU (IMP's level-0 mask does)
            value = value * mask[name].detach().cpu().to(value.dtype)
        tensors[f"weights.{name}"] = value.contiguous().clone()
    for name, m in mask.items():
        tensors[f"masks.{name}"] = m.detach().cpu().to(torch.bool).contiguous().clone()
    with atomic_dir(Path(directory)) as tmp:
        save_file(tensors, str(tmp / TENSORS_FILE), metadata={"format": str(TICKET_FORMAT)})
        full = TicketInfo(**{**asdict(info), "sha256": sha256_file(tmp / TENSORS_FILE)})
        (tmp / INFO_FILE).write_text(json.dumps(asdict(full), indent=2, sort_keys=True) + "\n")
    return Ticket(full, {k[8:]: v for k, v in tensors.items() if k.startswith("weights.")}, mask)


def _info(directory: Path, raw: dict[str, Any]) -> TicketInfo:
    try:
        return TicketInfo(**raw)
    except TypeError as exc:
        raise CorruptArtifactError(
            f"ticket file {Path(directory) / INFO_FILE} is corrupt ({exc}); regenerate it"
        ) from None


def read_info(directory: Path) -> TicketInfo:
    return _info(directory, read_ticket_json(directory))


def verify_ticket(directory: Path) -> TicketInfo:
    """Check the tensors file against the hash in ``ticket.json``; return the info."""
    return _info(directory, verify_ticket_files(directory))


def load_ticket(directory: Path, device: str | torch.device = "cpu") -> Ticket:
    """Verified load: hash first, then safetensors (no pickle)."""
    from safetensors.torch import load_file

    info = verify_ticket(directory)
    tensors = load_file(str(Path(directory) / TENSORS_FILE), device=str(device))
    weights = {k[8:]: v for k, v in tensors.items() if k.startswith("weights.")}
    mask = Mask({k[6:]: v for k, v in tensors.items() if k.startswith("masks.")})
    return Ticket(info, weights, mask)


def _options_text(options: dict[str, Any]) -> str:
    """``stem cifar, width 2``: a model's options as plain words."""
    return ", ".join(f"{k} {v}" for k, v in sorted(options.items()))


def pruning_text(prune: dict[str, Any]) -> str:
    """How a ticket was pruned, in words: ``global, 20% of the remaining weights per level,
    output layer kept dense``; settings it does not know are listed as ``name value``."""
    if not prune:
        return "not recorded"
    rest = dict(prune)
    parts = [str(rest.pop("strategy", "unknown strategy"))]
    if "rate" in rest:
        parts.append(f"{100 * float(rest.pop('rate')):.4g}% of the remaining weights per level")
    if "prune_output" in rest:
        parts.append(
            "output layer pruned" if rest.pop("prune_output") else "output layer kept dense"
        )
    return ", ".join([*parts, _options_text(rest)] if rest else parts)


def describe(info: TicketInfo) -> str:
    """Human-readable summary for ``ltsweep ticket show``."""
    options = f" ({_options_text(info.model_options)})" if info.model_options else ""
    lines = [
        f"model            {info.model}{options}",
        f"source           {info.source_dataset} / {info.source_optimizer} "
        f"({info.num_classes} classes)",
        f"level            {info.level}  (rewind to step {info.rewind_step}, seed {info.seed})",
        f"weights left     {info.weights_remaining:.4%} of prunable weights",
        f"pruning          {pruning_text(info.prune)}",
        f"code version     {info.code_version}",
        f"sha256           {info.sha256} (verified)",
        "per-layer density:",
    ]
    width = max((len(n) for n in info.layer_density), default=0)
    lines += [f"  {n:<{width}}  {d:8.4%}" for n, d in info.layer_density.items()]
    return "\n".join(lines)
