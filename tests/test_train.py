"""The training loop: determinism on CPU, the learning-rate schedule, divergence, resume."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from ltsweep.core.checkpoint import load_checkpoint, save_checkpoint
from ltsweep.core.jobs import TrainConfig
from ltsweep.core.models import create_model
from ltsweep.core.optim import OptimizerConfig, Schedule, build_optimizer
from ltsweep.core.train import train
from ltsweep.errors import CorruptArtifactError, TrainingDivergedError, UserError
from tests.common.tiny import (
    assert_state_equal,
    digits_loaders,
    metrics_without_time,
    tiny_train_config,
)


def _run(config: TrainConfig, seed: int = 0, **kwargs):
    torch.manual_seed(seed)
    model = create_model("vgg_tiny", num_classes=10)
    train_loader, test_loader = digits_loaders()
    return train(model, train_loader, test_loader, config, **kwargs)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_is_deterministic_for_a_seed(optimizer: str) -> None:
    config = tiny_train_config(
        epochs=2, lr=0.05 if optimizer == "sgd" else 3e-3, optimizer=optimizer
    )
    a, b = _run(config), _run(config)
    assert_state_equal(a.model.state_dict(), b.model.state_dict())
    ha = metrics_without_time([m.as_dict() for m in a.history])
    assert ha == metrics_without_time([m.as_dict() for m in b.history])
    c = _run(config, seed=1)
    assert not torch.equal(a.model.state_dict()["fc.weight"], c.model.state_dict()["fc.weight"])


def test_history_has_one_entry_per_epoch_and_learns() -> None:
    state = _run(tiny_train_config(epochs=3))
    assert [m.epoch for m in state.history] == [0, 1, 2]
    assert state.next_epoch == 3
    assert state.history[-1].train_loss < state.history[0].train_loss
    assert 0.3 < state.history[-1].test_accuracy <= 1.0
    assert all(math.isfinite(m.test_loss) and m.seconds > 0 for m in state.history)


def test_schedule_milestones_warmup_and_gamma() -> None:
    s = Schedule(base_lr=0.1, steps_per_epoch=10, milestones=(2, 3), gamma=0.1)
    assert s.lr_at(0) == pytest.approx(0.1) and s.lr_at(19) == pytest.approx(0.1)
    assert s.lr_at(20) == pytest.approx(0.01) and s.lr_at(29) == pytest.approx(0.01)
    assert s.lr_at(30) == pytest.approx(0.001) and s.lr_at(1000) == pytest.approx(0.001)
    fractional = Schedule(base_lr=1.0, steps_per_epoch=10, milestones=(1.5,), gamma=0.5)
    assert fractional.lr_at(14) == 1.0 and fractional.lr_at(15) == 0.5
    warm = Schedule(base_lr=0.4, steps_per_epoch=10, warmup_epochs=2)
    assert warm.lr_at(0) == pytest.approx(0.4 / 20)
    assert warm.lr_at(9) == pytest.approx(0.4 / 2)
    assert warm.lr_at(19) == pytest.approx(0.4) and warm.lr_at(25) == pytest.approx(0.4)


def test_training_follows_the_milestones() -> None:
    config = tiny_train_config(epochs=3, lr=0.05, milestones=(1, 2), gamma=0.1)
    seen: list[float] = []
    state = _run(config, on_epoch=lambda s: seen.append(s.optimizer.param_groups[0]["lr"]))
    assert [m.lr for m in state.history] == pytest.approx([0.05, 0.005, 0.0005])
    assert seen == pytest.approx([0.05, 0.005, 0.0005])


def test_nan_loss_from_huge_learning_rate_raises() -> None:
    epochs_done: list[int] = []
    config = TrainConfig(
        epochs=3, batch_size=64, optimizer=OptimizerConfig(lr=1e30, weight_decay=0.0)
    )
    with pytest.raises(TrainingDivergedError, match="loss"):
        _run(config, on_epoch=lambda s: epochs_done.append(s.next_epoch))
    assert epochs_done == []  # stopped in the first epoch, nothing reported as a result


def test_inf_weights_raise_divergence() -> None:
    torch.manual_seed(0)
    model = create_model("vgg_tiny", num_classes=10)
    with torch.no_grad():
        model.features[0].weight[0, 0, 0, 0] = float("inf")
    train_loader, test_loader = digits_loaders()
    with pytest.raises(TrainingDivergedError):
        train(model, train_loader, test_loader, tiny_train_config(epochs=1))


def test_start_step_skips_to_the_late_reset_point() -> None:
    steps: list[int] = []
    state = _run(tiny_train_config(epochs=2), start_step=30, on_step=lambda s, m: steps.append(s))
    assert steps == list(range(30, 44))
    assert [m.epoch for m in state.history] == [1]


def test_resume_from_checkpoint_is_bit_identical(tmp_path: Path) -> None:
    config = tiny_train_config(epochs=3, milestones=(2,))
    full = _run(config)

    path = tmp_path / "checkpoint.pt"

    class Killed(Exception):
        pass

    def kill_after_first(state) -> None:
        save_checkpoint(path, state)
        raise Killed

    with pytest.raises(Killed):
        _run(config, on_epoch=kill_after_first)
    torch.manual_seed(123)  # a fresh process would not share the first run's RNG state
    model = create_model("vgg_tiny", num_classes=10)
    optimizer = build_optimizer(model, config.optimizer)
    resume = load_checkpoint(path, model, optimizer)
    assert resume is not None and resume.next_epoch == 1
    train_loader, test_loader = digits_loaders()
    resumed = train(model, train_loader, test_loader, config, resume=resume)
    assert_state_equal(full.model.state_dict(), resumed.model.state_dict())
    assert metrics_without_time([m.as_dict() for m in full.history]) == metrics_without_time(
        [m.as_dict() for m in resumed.history]
    )


def test_corrupt_checkpoint_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"not a checkpoint")
    model = create_model("vgg_tiny", num_classes=10)
    with pytest.raises(CorruptArtifactError, match="delete it"):
        load_checkpoint(path, model, build_optimizer(model, OptimizerConfig()))
    assert (
        load_checkpoint(tmp_path / "absent.pt", model, build_optimizer(model, OptimizerConfig()))
        is None
    )


def test_unknown_optimizer_is_a_user_error() -> None:
    model = create_model("vgg_tiny", num_classes=10)
    with pytest.raises(UserError, match="adam"):
        build_optimizer(model, OptimizerConfig(name="adamw"))
