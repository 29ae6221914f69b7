"""Epoch-boundary training checkpoints: ``torch.save`` to a temp name + rename, and loaded only
with ``weights_only=True`` (no arbitrary unpickling)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from ltsweep.core.train import EpochMetrics, TrainState
from ltsweep.errors import CorruptArtifactError
from ltsweep.fsio import write_with


def save_checkpoint(path: Path, state: TrainState) -> None:
    payload = {
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "next_epoch": state.next_epoch,
        "history": [m.as_dict() for m in state.history],
    }
    write_with(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint(
    path: Path, model: nn.Module, optimizer: torch.optim.Optimizer
) -> TrainState | None:
    """Restore ``model`` and ``optimizer`` in place; ``None`` if there is no checkpoint."""
    if not path.exists():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
    except Exception as exc:  # a truncated or foreign file
        raise CorruptArtifactError(
            f"checkpoint {path} is unreadable ({type(exc).__name__}); delete it to restart "
            "that training from its last level"
        ) from None
    history = [EpochMetrics(**m) for m in payload["history"]]
    return TrainState(model, optimizer, int(payload["next_epoch"]), history)
