"""IMP with late resetting: densities, tickets, the rewind point, and resuming after a kill."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from ltsweep.core.imp import IMPRun, make_loaders, rewind_step, run_imp
from ltsweep.core.masks import Mask
from ltsweep.core.models import create_model, prunable_parameter_names
from ltsweep.core.pruning import prune
from ltsweep.core.tickets import load_ticket, verify_ticket
from ltsweep.core.train import train
from ltsweep.errors import CorruptArtifactError, UserError
from ltsweep.trial_layout import level_dir, ticket_dir
from tests.common.tiny import assert_state_equal, metrics_without_time, tiny_generation_job

STEPS_PER_EPOCH = 22  # 1,347 digits training images, batch 64


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def _prunable_total() -> int:
    model = create_model("vgg_tiny", num_classes=10)
    params = dict(model.named_parameters())
    return sum(params[n].numel() for n in prunable_parameter_names(model))


def _weights_at_step(job, k: int) -> dict[str, torch.Tensor]:
    """Level 0 replayed by hand: the dense network's state just before optimizer step ``k``."""
    torch.manual_seed(job.seed)
    model = create_model(job.model.name, 10)
    train_loader, test_loader = make_loaders(job.data, job.train.batch_size, job.seed, "cpu")
    captured: dict[str, torch.Tensor] = {}

    def capture(step: int, m: torch.nn.Module) -> None:
        if step == k:
            captured.update({n: t.detach().clone() for n, t in m.state_dict().items()})

    train(model, train_loader, test_loader, job.train, on_step=capture)
    assert captured, f"step {k} never reached"
    return captured


def test_densities_follow_the_geometric_schedule(tiny_imp) -> None:
    job, _, results = tiny_imp
    total = _prunable_total()
    assert [r.level for r in results] == [0, 1, 2]
    rate = job.imp.prune.rate
    kept = total
    for r in results:
        assert r.weights_remaining == pytest.approx(kept / total)
        assert abs(r.weights_remaining - (1 - rate) ** r.level) <= 1 / total
        kept -= round(rate * kept)


def test_every_level_has_a_verified_ticket(tiny_imp) -> None:
    job, workdir, results = tiny_imp
    for r in results:
        assert Path(r.ticket_dir) == ticket_dir(workdir, r.level)
        info = verify_ticket(Path(r.ticket_dir))
        assert (info.level, info.seed, info.model) == (r.level, job.seed, "vgg_tiny")
        assert info.source_dataset == "digits" and info.num_classes == 10
        assert info.weights_remaining == pytest.approx(r.weights_remaining)
        assert len(info.sha256) == 64
        ticket = load_ticket(Path(r.ticket_dir))
        assert ticket.mask.density == pytest.approx(r.weights_remaining)
        assert set(ticket.mask) == set(prunable_parameter_names(create_model("vgg_tiny", 10)))
        assert (level_dir(workdir, r.level) / "result.json").exists()
        assert not (level_dir(workdir, r.level) / "checkpoint.pt").exists()


def test_ticket_weights_are_the_rewind_weights_masked(tiny_imp) -> None:
    _, workdir, results = tiny_imp
    rewind = _tensors(workdir / "rewind.safetensors")
    for r in results:
        ticket = load_ticket(Path(r.ticket_dir))
        assert sorted(ticket.weights) == sorted(rewind)
        for name, value in rewind.items():
            expected = value * ticket.mask[name] if name in ticket.mask else value
            assert torch.equal(ticket.weights[name], expected), name


def test_masks_come_from_pruning_the_previous_levels_final_weights(tiny_imp) -> None:
    job, workdir, results = tiny_imp
    for level in range(1, len(results)):
        previous = load_ticket(ticket_dir(workdir, level - 1)).mask
        current = load_ticket(ticket_dir(workdir, level)).mask
        final = _tensors(level_dir(workdir, level - 1) / "final.safetensors")
        expected = prune(final, previous, job.imp.prune)
        assert all(torch.equal(current[n], expected[n]) for n in current)
        assert all(not bool((current[n] & ~previous[n]).any()) for n in current)
        # the level trained with its mask: the final weights are zero where pruned
        trained = _tensors(level_dir(workdir, level) / "final.safetensors")
        assert all(int(trained[n][~current[n]].abs().sum()) == 0 for n in current)


def test_late_reset_point_is_one_epoch_of_steps(tiny_imp) -> None:
    job, workdir, results = tiny_imp
    assert rewind_step(job, STEPS_PER_EPOCH) == STEPS_PER_EPOCH  # digits: reset_epochs = 1
    assert all(load_ticket(Path(r.ticket_dir)).info.rewind_step == STEPS_PER_EPOCH for r in results)
    rewind = _tensors(workdir / "rewind.safetensors")
    assert_state_equal(rewind, _weights_at_step(job, STEPS_PER_EPOCH))
    # Levels after 0 train from step k: their first (partial) epoch is epoch 1.
    assert [m["epoch"] for m in results[0].history] == [0, 1, 2]
    assert [m["epoch"] for m in results[1].history] == [1, 2]


@pytest.mark.parametrize("rewind_epochs", [0, 0.5])
def test_rewind_epochs_option(tmp_path: Path, rewind_epochs: float) -> None:
    job = tiny_generation_job(levels=1, epochs=1, rewind_epochs=rewind_epochs)
    results = run_imp(job, tmp_path)
    k = round(rewind_epochs * STEPS_PER_EPOCH)
    ticket = load_ticket(Path(results[1].ticket_dir))
    assert ticket.info.rewind_step == k
    rewind = _tensors(tmp_path / "rewind.safetensors")
    assert_state_equal(rewind, _weights_at_step(job, k))
    if rewind_epochs == 0:  # rewinding to the initialization
        torch.manual_seed(job.seed)
        init = create_model("vgg_tiny", 10).state_dict()
        assert_state_equal(rewind, init)
        for name, m in ticket.mask.items():
            assert torch.equal(ticket.weights[name], init[name] * m)


class Killed(Exception):
    """Stands in for SIGKILL: raised from an epoch hook, after that epoch's checkpoint is written."""


def test_resume_after_kills_gives_bit_identical_tickets_and_metrics(tiny_imp, tmp_path) -> None:
    job, reference, expected = tiny_imp
    workdir = tmp_path / "imp"
    seen: list[tuple[int, int]] = []

    def hook(kill_at: tuple[int, int]):
        def on_epoch(level: int, state) -> None:
            seen.append((level, state.next_epoch))
            if (level, state.next_epoch) == kill_at:
                raise Killed

        return on_epoch

    with pytest.raises(Killed):  # dies after epoch 0 of level 0, before the rewind point
        IMPRun(job, workdir).run(on_epoch=hook((0, 1)))
    assert (level_dir(workdir, 0) / "checkpoint.pt").exists()
    assert not (workdir / "rewind.safetensors").exists()

    seen.clear()
    torch.manual_seed(999)  # a new process: the global RNG is not where the first run left it
    with pytest.raises(Killed):  # resumes level 0 at epoch 1, dies inside level 1
        IMPRun(job, workdir).run(on_epoch=hook((1, 2)))
    assert seen == [(0, 2), (0, 3), (1, 2)]
    assert (level_dir(workdir, 1) / "checkpoint.pt").exists()

    seen.clear()
    results = IMPRun(job, workdir).run(on_epoch=hook((-1, -1)))
    assert seen == [(1, 3), (2, 2), (2, 3)]

    assert [r.weights_remaining for r in results] == [r.weights_remaining for r in expected]
    for got, want in zip(results, expected):
        assert metrics_without_time(got.history) == metrics_without_time(want.history)
        level = got.level
        assert (ticket_dir(workdir, level) / "ticket.json").read_text() == (
            ticket_dir(reference, level) / "ticket.json"
        ).read_text()
        assert (ticket_dir(workdir, level) / "weights.safetensors").read_bytes() == (
            ticket_dir(reference, level) / "weights.safetensors"
        ).read_bytes()
        assert_state_equal(
            _tensors(level_dir(workdir, level) / "final.safetensors"),
            _tensors(level_dir(reference, level) / "final.safetensors"),
        )


def test_rerunning_a_finished_run_trains_nothing(tiny_imp, tmp_path: Path) -> None:
    job, reference, expected = tiny_imp
    workdir = tmp_path / "copy"
    shutil.copytree(reference, workdir)
    before = {p: p.stat().st_mtime_ns for p in workdir.rglob("*") if p.is_file()}
    epochs: list[int] = []
    results = IMPRun(job, workdir).run(on_epoch=lambda level, state: epochs.append(level))
    assert epochs == []
    assert [r.history for r in results] == [r.history for r in expected]  # read back exactly
    after = {p: p.stat().st_mtime_ns for p in workdir.rglob("*") if p.is_file()}
    assert after == before  # nothing rewritten


def test_corrupt_ticket_in_workdir_is_detected_on_resume(tiny_imp, tmp_path: Path) -> None:
    job, reference, _ = tiny_imp
    workdir = tmp_path / "copy"
    shutil.copytree(reference, workdir)
    tensors = ticket_dir(workdir, 1) / "weights.safetensors"
    data = bytearray(tensors.read_bytes())
    data[-5] ^= 0xFF
    tensors.write_bytes(bytes(data))
    with pytest.raises(CorruptArtifactError, match="sha256"):
        IMPRun(job, workdir).run()


def test_level_zero_ticket_is_dense(tiny_imp) -> None:
    _, workdir, _ = tiny_imp
    mask = load_ticket(ticket_dir(workdir, 0)).mask
    assert isinstance(mask, Mask) and mask.density == 1.0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_imp_and_transfer_on_cuda(tmp_path: Path) -> None:
    """The GPU path (bf16 autocast, channels-last, masks and tickets across devices)."""
    from ltsweep.core.jobs import TransferJob
    from ltsweep.core.transfer import run_transfer

    job = tiny_generation_job(levels=1, epochs=2)
    results = run_imp(job, tmp_path / "imp", device="cuda")
    ticket = load_ticket(Path(results[1].ticket_dir))
    assert ticket.mask.density == pytest.approx(0.5, abs=1e-3)
    final = _tensors(level_dir(tmp_path / "imp", 1) / "final.safetensors")
    assert all(int(final[n][~m].abs().sum()) == 0 for n, m in ticket.mask.items())
    assert results[1].final_accuracy > 0.3
    transfer = TransferJob("transferred", job.model, job.data, job.train, 0, results[1].ticket_dir)
    state = run_transfer(transfer, tmp_path / "transfer", device="cuda")
    params = dict(state.model.named_parameters())
    assert all(int(params[n].detach()[~m.cuda()].abs().sum()) == 0 for n, m in ticket.mask.items())


def test_deleted_tickets_are_rewritten_without_training(tiny_imp, tmp_path: Path) -> None:
    """The fix a corrupt-ticket error suggests: delete the ticket, run again."""
    job, reference, _ = tiny_imp
    workdir = tmp_path / "copy"
    shutil.copytree(reference, workdir)
    shutil.rmtree(workdir / "tickets")
    epochs: list[int] = []
    results = IMPRun(job, workdir).run(on_epoch=lambda level, state: epochs.append(level))
    assert epochs == []
    for r in results:
        for name in ("ticket.json", "weights.safetensors"):
            got = (ticket_dir(workdir, r.level) / name).read_bytes()
            assert got == (ticket_dir(reference, r.level) / name).read_bytes()


def test_rewind_point_after_training_is_refused(tmp_path: Path) -> None:
    job = tiny_generation_job(levels=1, epochs=2, rewind_epochs=2)
    with pytest.raises(UserError, match="rewind_epochs"):
        IMPRun(job, tmp_path)
    IMPRun(tiny_generation_job(levels=0, epochs=2, rewind_epochs=2), tmp_path)  # no levels: fine
