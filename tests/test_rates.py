"""Measured seconds per epoch from done records, beside the plan's figures, and the projection of
what is left (``ltsweep.sweep.rates``, printed by ``ltsweep status``); records written by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ltsweep.storage.done import write_done
from ltsweep.storage.paths import SweepPaths
from ltsweep.sweep import rates
from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.plan import build_plan
from tests.common.cli import ltsweep_quick

TINY = Path(__file__).parent / "sweeps" / "tiny.yaml"


def _sweep(tmp_path: Path) -> Path:
    """tiny.yaml with generation trials on 2 CPUs and a planned figure for its one dataset."""
    cfg = yaml.safe_load(TINY.read_text())
    cfg["resources"]["generate"] = {"cpu": 2}
    cfg["datasets"]["digits"]["epoch_gpu_seconds"] = {"vgg_tiny": 0.5}
    path = tmp_path / "rates.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _finish(paths: SweepPaths, plan) -> None:
    """The first generation trial (2 levels + dense: 3 x 2 epochs of 1.5 s wall on 2 CPUs) and
    two transfers (2 epochs of 2.0 and 4.0 s on 1 CPU) done on the CPU."""
    gen = plan.generation[0]
    levels = [{"history": [{"seconds": 1.5}, {"seconds": 1.5}]} for _ in range(3)]
    write_done(paths, gen.key, {"levels": levels, "device": "cpu", "device_name": "cpu"})
    for trial, wall in zip(plan.transfer[:2], (2.0, 4.0)):
        history = [{"seconds": wall}, {"seconds": wall}]
        write_done(paths, trial.key, {"history": history, "device": "cpu"})  # older record


def test_rates_and_projection_by_hand(tmp_path: Path) -> None:
    plan = build_plan(load_sweep(_sweep(tmp_path)))
    paths = SweepPaths(tmp_path / "out")
    _finish(paths, plan)
    measured, left = rates.measure(paths, plan)
    assert len(measured) == 1, f"one (model, dataset, device) group expected: {measured}"
    r = measured[0]
    # per trial: generation 1.5 s x 2 CPUs = 3.0; transfers 2.0 and 4.0 x 1 CPU -> median 3.0
    assert (r.model, r.dataset, r.device, r.trials) == ("vgg_tiny", "digits", "cpu", 3), r
    assert r.per_epoch == pytest.approx(3.0) and r.unit == "CPU-seconds", r
    assert r.planned == pytest.approx(0.5), "the plan's figure for one GPU, one epoch"
    # left: 1 generation trial (3 trainings x 2 epochs) and 4 transfers (2 epochs): 14 epochs
    assert (left.trials_left, left.trials_measured) == (5, 5), left
    assert left.measured_hours == {"CPU-hours": pytest.approx(14 * 3.0 / 3600)}, left
    assert left.planned_hours == pytest.approx(14 * 0.5 / 3600), left


def test_status_prints_measured_cpu_seconds(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path)
    plan = build_plan(load_sweep(sweep))
    _finish(SweepPaths(tmp_path / "out"), plan)
    result = ltsweep_quick("status", str(sweep), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    row = next((line.split() for line in result.stdout.splitlines() if "vgg_tiny" in line), [])
    assert row == ["vgg_tiny", "digits", "cpu", "3", "3", "CPU-seconds", "0.5"], result.stdout
    assert "left: 5 trials; at measured rates 0.0117 CPU-hours" in result.stdout, result.stdout
    assert "plan: 0.00194 GPU-hours" in result.stdout, result.stdout
    got = rates.as_json(*rates.measure(SweepPaths(tmp_path / "out"), plan), gpu="")
    assert got["per_epoch"][0]["measured"] == pytest.approx(3.0), got
    assert got["left"]["trials"] == 5 and got["left"]["planned_gpu_hours"] is not None, got


def test_planned_rates_follow_a_resolution_schedule(tmp_path: Path) -> None:
    """digits at 8 px trained at 4 px in epoch 0 and 8 px in epoch 1: the planned seconds per
    epoch status compares with are (1/4 + 1) / 2 of the figure, as ``plan`` counts them."""
    cfg = yaml.safe_load(_sweep(tmp_path).read_text())
    cfg["datasets"]["digits"]["resolution"] = {"start": 4, "end": 8, "ramp": [0, 1], "step": 4}
    path = tmp_path / "lean.yaml"
    path.write_text(yaml.safe_dump(cfg))
    plan = build_plan(load_sweep(path))
    paths = SweepPaths(tmp_path / "out")
    _finish(paths, plan)
    measured, left = rates.measure(paths, plan)
    factor = ((4 / 8) ** 2 + 1) / 2
    assert measured[0].planned == pytest.approx(0.5 * factor), measured[0]
    assert left.planned_hours == pytest.approx(14 * 0.5 * factor / 3600), left
