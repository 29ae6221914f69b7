"""Ticket files: round trip, integrity checks, no pickle, and ``ltsweep ticket show``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ltsweep.core.masks import Mask
from ltsweep.core.models import create_model, prunable_parameter_names
from ltsweep.core.pruning import prune_global
from ltsweep.core.tickets import (
    INFO_FILE,
    TENSORS_FILE,
    TicketInfo,
    load_ticket,
    read_info,
    save_ticket,
    verify_ticket,
)
from ltsweep.errors import CorruptArtifactError, UserError


def _info(mask: Mask) -> TicketInfo:
    return TicketInfo(
        model="vgg_tiny",
        source_dataset="digits",
        source_optimizer="sgd",
        level=3,
        seed=7,
        num_classes=10,
        rewind_step=22,
        weights_remaining=mask.density,
        layer_density=mask.layer_density(),
        prune={"strategy": "global", "rate": 0.2},
    )


@pytest.fixture
def ticket_path(tmp_path: Path) -> Path:
    model = create_model("vgg_tiny", num_classes=10)
    names = prunable_parameter_names(model)
    mask = prune_global(dict(model.named_parameters()), Mask.ones_like(model, names), 0.6)
    path = tmp_path / "ticket"
    save_ticket(path, model.state_dict(), mask, _info(mask))
    return path


def test_round_trip_keeps_weights_masks_and_info(tmp_path: Path) -> None:
    model = create_model("vgg_tiny", num_classes=10)
    names = prunable_parameter_names(model)
    mask = prune_global(dict(model.named_parameters()), Mask.ones_like(model, names), 0.6)
    state = model.state_dict()
    saved = save_ticket(tmp_path / "t", state, mask, _info(mask))
    loaded = load_ticket(tmp_path / "t")
    assert loaded.info == saved.info and loaded.info.sha256 == saved.info.sha256 != ""
    assert loaded.info.level == 3 and loaded.info.weights_remaining == pytest.approx(0.4, abs=1e-3)
    assert sorted(loaded.weights) == sorted(state)
    for name, value in state.items():
        expected = value * mask[name] if name in mask else value
        assert torch.equal(loaded.weights[name], expected), name
        assert loaded.weights[name].dtype == value.dtype
    assert sorted(loaded.mask) == sorted(mask)
    assert all(
        loaded.mask[n].dtype == torch.bool and torch.equal(loaded.mask[n], mask[n]) for n in mask
    )
    # the caller's tensors are not modified by saving
    assert int((state[names[0]] == 0).sum()) == 0


def test_no_pickle_only_safetensors(ticket_path: Path) -> None:
    from safetensors import safe_open

    raw = (ticket_path / TENSORS_FILE).read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_len])  # safetensors: length-prefixed JSON header
    assert header["__metadata__"]["format"] == "1"
    with safe_open(str(ticket_path / TENSORS_FILE), framework="pt") as fh:
        keys = list(fh.keys())
        assert all(k.startswith(("weights.", "masks.")) for k in keys)
        assert fh.get_tensor("masks.features.0.weight").dtype == torch.bool
    assert b"\x80\x04\x95" not in raw[:16]  # not a pickle stream
    assert sorted(p.name for p in ticket_path.iterdir()) == sorted([TENSORS_FILE, INFO_FILE])
    info = json.loads((ticket_path / INFO_FILE).read_text())
    assert info["sha256"] == verify_ticket(ticket_path).sha256


def test_corrupted_byte_is_detected(ticket_path: Path) -> None:
    path = ticket_path / TENSORS_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptArtifactError, match="sha256"):
        load_ticket(ticket_path)


def test_truncated_file_is_detected(ticket_path: Path) -> None:
    path = ticket_path / TENSORS_FILE
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CorruptArtifactError):
        load_ticket(ticket_path)


def test_missing_files(ticket_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(ticket_path, copy)
    (ticket_path / INFO_FILE).unlink()
    with pytest.raises(UserError, match=INFO_FILE):
        load_ticket(ticket_path)
    (copy / TENSORS_FILE).unlink()
    with pytest.raises(CorruptArtifactError, match="missing"):
        load_ticket(copy)


def test_garbled_ticket_json(ticket_path: Path) -> None:
    path = ticket_path / INFO_FILE
    path.write_text(path.read_text()[:40])
    with pytest.raises(CorruptArtifactError, match=INFO_FILE):
        read_info(ticket_path)
    path.write_text(json.dumps({"model": "vgg_tiny"}))
    with pytest.raises(CorruptArtifactError):
        read_info(ticket_path)


def test_save_replaces_atomically_and_leaves_no_temp(ticket_path: Path) -> None:
    ticket = load_ticket(ticket_path)
    save_ticket(ticket_path, ticket.weights, ticket.mask, ticket.info)
    assert sorted(p.name for p in ticket_path.parent.iterdir()) == ["ticket"]
    assert load_ticket(ticket_path).info.sha256 == ticket.info.sha256


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ltsweep", *args], capture_output=True, text=True, timeout=600
    )


def test_ticket_show_cli(ticket_path: Path) -> None:
    done = _cli("ticket", "show", str(ticket_path))
    assert done.returncode == 0, done.stderr
    info = load_ticket(ticket_path).info
    out = done.stdout
    assert "vgg_tiny" in out and "digits" in out and info.sha256 in out
    pruning = next(line for line in out.splitlines() if line.startswith("pruning"))
    assert pruning.split(None, 1)[1] == "global, 20% of the remaining weights per level", pruning
    assert "{" not in out and "'" not in out, f"a Python repr in the plain-text view:\n{out}"
    for name, density in info.layer_density.items():
        line = next(line for line in out.splitlines() if line.strip().startswith(name + " "))
        assert f"{density:.4%}" in line
    as_json = _cli("ticket", "show", "--json", str(ticket_path))
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["sha256"] == info.sha256


def test_ticket_show_corrupt_is_one_line_exit_2(ticket_path: Path) -> None:
    path = ticket_path / TENSORS_FILE
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    done = _cli("ticket", "show", str(ticket_path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr and "sha256" in done.stderr
