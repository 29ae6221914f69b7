"""Compiled training (ltsweep.core.compile): agreement with the eager step within the documented
tolerance, pruned weights kept at zero, a resumed compiled run equal to an uninterrupted one, the
eager fallback when compiling fails (and the reason it records), the compiled DDP step of the
mask-folding forward, and how the ``compile`` sweep key enters trial keys."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from ltsweep.core import compile as compiling
from ltsweep.core.checkpoint import load_checkpoint, save_checkpoint
from ltsweep.core.data.loading import LoaderOptions, make_loader
from ltsweep.core.jobs import TrainConfig
from ltsweep.core.masks import Mask
from ltsweep.core.models import create_model, prunable_parameter_names
from ltsweep.core.optim import build_optimizer
from ltsweep.core.pruning import PruneConfig, prune
from ltsweep.core.train import TrainState, train
from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.plan import build_plan
from tests.common.tiny import (
    TINY_SIZE,
    assert_state_equal,
    digits_loaders,
    metrics_without_time,
    tiny_train_config,
)

# docs/compile.md: same seed and configuration, eager vs compiled, test accuracy per epoch.
ACCURACY_TOLERANCE = 0.02
SWEEPS = Path(__file__).resolve().parent / "sweeps"


def _config(compile: bool) -> TrainConfig:
    return dataclasses.replace(tiny_train_config(epochs=3, milestones=(2,)), compile=compile)


def _model_and_mask() -> tuple[torch.nn.Module, Mask]:
    torch.manual_seed(0)
    model = create_model("vgg_tiny", num_classes=10)
    names = prunable_parameter_names(model, False)
    return model, prune(
        model.state_dict(), Mask.ones_like(model, names), PruneConfig("global", 0.8)
    )


def _run(config: TrainConfig, batch: int = 64, **kwargs) -> TrainState:
    model, mask = _model_and_mask()
    train_loader, test_loader = digits_loaders()
    if batch != 64:
        options = dict(image_size=TINY_SIZE, workers=0, seed=0)
        train_loader = make_loader("digits", LoaderOptions(batch_size=batch, train=True, **options))
    return train(model, train_loader, test_loader, config, mask=mask, **kwargs)


@pytest.fixture(scope="module")
def compiled_run() -> TrainState:
    state = _run(_config(True))
    assert state.compiled, "compiled training fell back to eager on this machine (see stderr)"
    return state


def test_compiled_training_agrees_with_eager_and_keeps_pruned_weights_zero(compiled_run) -> None:
    eager = _run(_config(False))
    assert not eager.compiled
    for e, c in zip(eager.history, compiled_run.history, strict=True):
        assert abs(e.test_accuracy - c.test_accuracy) <= ACCURACY_TOLERANCE, (
            f"epoch {e.epoch}: eager {e.test_accuracy:.4f} vs compiled {c.test_accuracy:.4f}"
        )
    _, mask = _model_and_mask()
    weights = compiled_run.model.state_dict()
    revived = {n: int((weights[n][~m] != 0).sum()) for n, m in mask.items()}
    assert not any(revived.values()), f"compiled steps revived pruned weights: {revived}"


def test_resumed_compiled_run_equals_the_uninterrupted_one(compiled_run, tmp_path: Path) -> None:
    config = _config(True)
    path = tmp_path / "checkpoint.pt"

    class Killed(Exception):
        pass

    def kill_after_first(state: TrainState) -> None:
        save_checkpoint(path, state)
        raise Killed

    with pytest.raises(Killed):
        _run(config, on_epoch=kill_after_first)
    model, mask = _model_and_mask()
    torch.manual_seed(123)  # a fresh process would not share the first run's RNG state
    resume = load_checkpoint(path, model, build_optimizer(model, config.optimizer))
    assert resume is not None and resume.next_epoch == 1
    train_loader, test_loader = digits_loaders()
    resumed = train(model, train_loader, test_loader, config, mask=mask, resume=resume)
    assert resumed.compiled
    assert_state_equal(compiled_run.model.state_dict(), resumed.model.state_dict())
    assert metrics_without_time([m.as_dict() for m in compiled_run.history]) == (
        metrics_without_time([m.as_dict() for m in resumed.history])
    ), "the resumed compiled run's metrics differ from the uninterrupted run's"


def test_a_failing_compile_trains_eagerly_and_says_so_once(capsys, monkeypatch, tmp_path) -> None:
    """A C compiler that does not exist makes inductor fail for real on CPU (an empty cache dir
    and a batch size no other test compiles, so that no cached kernel hides the failure)."""
    import torch._dynamo
    import torch._inductor.config as inductor_config

    # inductor's own patch restores the option (monkeypatch would delete it on undo, and every
    # later compile in this process would fail)
    no_compiler = inductor_config.patch({"cpp.cxx": ("/nonexistent/ltsweep-cc",)})
    monkeypatch.setenv(compiling.CACHE_ENV, str(tmp_path / "inductor"))
    monkeypatch.setattr(compiling, "_broken", [])
    monkeypatch.setattr(compiling, "_said", set())
    monkeypatch.setattr(compiling, "_functions", {})
    torch._dynamo.reset()
    try:
        config = dataclasses.replace(tiny_train_config(epochs=1), compile=True)
        with no_compiler:
            first, second = _run(config, batch=40), _run(config, batch=40)
        eager = _run(dataclasses.replace(config, compile=False), batch=40)
    finally:
        torch._dynamo.reset()
    err = capsys.readouterr().err
    assert not first.compiled and not second.compiled, "a failed compile still reports compiled"
    assert first.steps.startswith("eager: compile failed (") and second.steps.startswith(
        "eager: "
    ), (first.steps, second.steps)
    assert err.count("compile unavailable") == 1, f"expected one message, got: {err!r}"
    assert first.history[-1].test_accuracy == eager.history[-1].test_accuracy


def test_compile_enters_trial_keys_only_when_on(tmp_path: Path) -> None:
    text = (SWEEPS / "tiny.yaml").read_text()
    keys = {}
    for name, extra in {
        "default": "",
        "off": "compile: false\n",
        "on": "compile: true\n",
        "entry_off": "compile: true\n",
    }.items():
        body = text + extra
        if name == "entry_off":
            body = body.replace("    workers: 0\n", "    workers: 0\n    compile: false\n")
        path = tmp_path / f"{name}.yaml"
        path.write_text(body)
        plan = build_plan(load_sweep(path))
        keys[name] = [t.key for t in plan.trials]
        assert all(t.job.train.compile == (name == "on") for t in plan.trials), name
    assert keys["default"] == keys["off"], "compile: false changed the eager trial keys"
    assert keys["entry_off"] == keys["off"], "a dataset entry's compile: false was not applied"
    assert not set(keys["on"]) & set(keys["off"]), "compiled trials share keys with eager ones"


def test_compiled_ddp_of_the_mask_folding_forward_trains_like_one_process(
    compiled_run, tmp_path: Path
) -> None:
    """DDP (gloo, one rank) of ``MaskFolded``, the step compiled around the DDP call: compiled by
    its record, pruned weights kept at zero, accuracies those of the one-process compiled run."""
    import torch.distributed as dist

    from ltsweep.core.ddp import same_names_ddp

    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1
    )
    try:
        model, mask = _model_and_mask()
        net = same_names_ddp(torch.device("cpu"), False, fold_mask=True)(model)
        assert sorted(net.state_dict()) == sorted(model.state_dict()), "DDP renamed the weights"
        train_loader, test_loader = digits_loaders()
        state = train(net, train_loader, test_loader, _config(True), mask=mask)
    finally:
        dist.destroy_process_group()
    assert state.compiled and state.steps == "compiled", state.steps
    weights = model.state_dict()
    revived = {n: int((weights[n][~m] != 0).sum()) for n, m in mask.items()}
    assert not any(revived.values()), f"the compiled DDP step revived pruned weights: {revived}"
    for a, b in zip(compiled_run.history, state.history, strict=True):
        assert abs(a.test_accuracy - b.test_accuracy) <= ACCURACY_TOLERANCE, (
            f"epoch {a.epoch}: one process {a.test_accuracy:.4f} vs DDP {b.test_accuracy:.4f}"
        )


def test_eager_steps_record_why() -> None:
    eager = _run(dataclasses.replace(_config(False), epochs=1))
    assert eager.steps == "eager: compile is off (sweep key compile: false)", eager.steps
