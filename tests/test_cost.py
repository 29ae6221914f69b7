"""What ``ltsweep plan`` says a sweep costs (``ltsweep.sweep.cost`` and the plan command's output):
GPU-hours counted once per epoch with the stated multi-GPU efficiency, the breakdown by stage x
model x dataset, each epoch of a resolution schedule priced by its pixels and the saving shown per
row, generation trials nothing uses, and plain-JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ltsweep.sweep import cost
from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.files import resolve_sweep_file
from ltsweep.sweep.plan import build_plan
from tests.common.cli import ltsweep_quick

TINY = Path(__file__).parent / "sweeps" / "tiny.yaml"


def _sweep(tmp_path: Path, **changes) -> Path:
    """tiny.yaml (one dataset; targets digits/sgd and digits/adam; 2 levels; 2 epochs; 1 seed)
    with generation on 8 Ray Train workers, 300 GPU-s per epoch and an 0.8 efficiency."""
    cfg = yaml.safe_load(TINY.read_text())
    cfg["datasets"]["digits"]["epoch_gpu_seconds"] = {"vgg_tiny": 300}
    cfg["resources"] = {
        "generate": {"cpu": 1, "gpu": 1, "workers": 8},
        "transfer": {"cpu": 1, "gpu": 0.25},
    }
    cfg["cost"] = {"gpu": "H100 (bf16)", "multi_gpu_efficiency": 0.8}
    cfg.update(changes)
    path = tmp_path / "cost.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_eight_workers_share_an_epoch_by_hand(tmp_path: Path) -> None:
    plan = build_plan(load_sweep(_sweep(tmp_path)))
    est = cost.estimate(plan)
    # generation: 2 targets x (2 levels + dense) x 2 epochs = 12 epochs x 300 s / 0.8 = 4500 s
    # transfer: 2 transferred + 4 random, 2 epochs each = 12 epochs x 300 s / 1.0 = 3600 s
    assert est.gpu_hours == pytest.approx((4500 + 3600) / 3600), (
        f"{est.gpu_hours} GPU-hours: 8 workers share each epoch, they do not each spend it"
    )
    by = {(r.stage, r.dataset): r for r in est.rows}
    assert by["generate", "digits"].gpu_hours == pytest.approx(1.25)
    assert by["transfer", "digits"].gpu_hours == pytest.approx(1.0)
    assert by["generate", "digits"].share == pytest.approx(4500 / 8100)
    assert (est.trials_costed, est.trials, est.gpu) == (8, 8, "H100 (bf16)")
    assert est.unused == (), "every generation trial here is a target's own baseline"


def test_plan_json_is_plain_numbers_and_the_text_is_tables(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path)
    result = ltsweep_quick("plan", str(sweep), "--json", "--trials", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["cost"]["gpu_hours"] == pytest.approx(2.25) == out["gpu_hours_estimate"]
    per_trial = sum(t["gpu_seconds"] for t in out["trial_list"]) / 3600
    assert per_trial == pytest.approx(2.25), "the trial list's costs do not add up to the total"
    assert out["cost"]["multi_gpu_efficiency"] == 0.8 and out["cost"]["gpu"] == "H100 (bf16)"
    assert out["resources"]["generate"] == [{"cpu": 1.0, "gpu": 1.0, "workers": 8, "trials": 2}]
    shares = [row["share"] for row in out["cost"]["breakdown"]]
    assert sum(shares) == pytest.approx(1.0, abs=1e-3) and all(isinstance(s, float) for s in shares)

    def strings(value):
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return [value] if isinstance(value, str) else []

    nested = [s for s in strings(out) if s.lstrip().startswith(("{", "["))]
    assert not nested, f"JSON inside JSON strings: {nested}"
    text = ltsweep_quick("plan", str(sweep), cwd=tmp_path).stdout
    assert "{'" not in text and '{"' not in text, f"a Python/JSON repr in plan's text:\n{text}"
    assert "GPU-hours          2.25 on H100 (bf16)" in text, text
    row = next(
        line.split() for line in text.splitlines() if line.strip().startswith("generate  vgg")
    )
    assert row == ["generate", "vgg_tiny", "digits", "2", "12", "1.25", "55.6%", "0"], text


def test_unused_generation_trials_are_warned_with_their_hours(tmp_path: Path) -> None:
    """A source that is no target, with only random controls planned: its tickets feed nothing."""
    sources = [
        {"dataset": "digits", "optimizer": "sgd"},
        {"dataset": "digits", "optimizer": "adam"},
    ]
    sweep = _sweep(
        tmp_path,
        sources=sources,
        targets=[{"dataset": "digits", "optimizer": "sgd"}],
        transfer={"kinds": ["random"]},
    )
    est = cost.estimate(build_plan(load_sweep(sweep)))
    assert [(u.dataset, u.optimizer, u.trials) for u in est.unused] == [("digits", "adam", 1)]
    assert est.unused[0].gpu_hours == pytest.approx(6 * 300 / 0.8 / 3600), est.unused
    text = ltsweep_quick("plan", str(sweep), cwd=tmp_path).stdout
    assert "warning: 1 generation trials of vgg_tiny on digits/adam (0.625 GPU-hours)" in text


def test_grid_full_skips_nothing_and_names_its_gpu() -> None:
    plan = build_plan(load_sweep(resolve_sweep_file("grid_full")))
    est = cost.estimate(plan)
    assert plan.skipped_incompatible == 0 and est.unused == (), "grid_full generates for nothing"
    assert est.gpu.startswith("A100") and est.trials_costed == est.trials
    by_hand = sum(
        t.epochs * t.epoch_gpu_seconds / (0.84 if t.resources.workers > 1 else 1.0)
        for t in plan.trials
    )
    assert est.gpu_hours == pytest.approx(by_hand / 3600)
    assert 20_000 < est.gpu_hours < 40_000, f"{est.gpu_hours} GPU-hours for the paper's grid"


def test_a_resolution_schedule_is_priced_by_its_pixels(tmp_path: Path) -> None:
    """digits at 8 px, 2 epochs: epoch 0 at 4 px, epoch 1 at 8 px costs (1/4 + 1) / 2 of the
    full-size figure (docs/cost.md#progressive-resolution)."""
    full = cost.estimate(build_plan(load_sweep(_sweep(tmp_path))))
    cfg = yaml.safe_load(_sweep(tmp_path).read_text())
    cfg["datasets"]["digits"]["resolution"] = {"start": 4, "end": 8, "ramp": [0, 1], "step": 4}
    lean_file = tmp_path / "lean.yaml"
    lean_file.write_text(yaml.safe_dump(cfg))
    lean = cost.estimate(build_plan(load_sweep(lean_file)))
    factor = ((4 / 8) ** 2 + 1) / 2
    assert lean.gpu_hours == pytest.approx(full.gpu_hours * factor), "not (size / base)^2"
    assert lean.saved_hours == pytest.approx(full.gpu_hours - lean.gpu_hours)
    assert full.saved_hours == 0.0
    for row, before in zip(lean.rows, full.rows, strict=True):
        assert row.saved_hours == pytest.approx(before.gpu_hours * (1 - factor)), row
    text = ltsweep_quick("plan", str(lean_file), cwd=tmp_path).stdout
    assert f"saved              {lean.saved_hours:.3g} GPU-hours by progressive resolution" in text
    row = next(ln.split() for ln in text.splitlines() if ln.strip().startswith("generate  vgg"))
    assert row[-1] == f"{1.25 * (1 - factor):.3g}", text


def test_grid_lean_is_grid_full_with_the_large_datasets_cheaper() -> None:
    """Same trials; the 32x32 generation trials keep grid_full's keys; ImageNet and Places365
    train compiled at 160-192 px, priced at 73 epochs of (160/224)^2 and 17 of (192/224)^2."""
    full = build_plan(load_sweep(resolve_sweep_file("grid_full")))
    lean = build_plan(load_sweep(resolve_sweep_file("grid_lean")))
    assert len(lean.trials) == len(full.trials)
    small = {t.key for t in full.generation if t.job.data.name not in ("imagenet", "places365")}
    large = [t for t in lean.generation if t.job.data.name in ("imagenet", "places365")]
    assert small <= {t.key for t in lean.generation}, "grid_lean changed 32x32 trial keys"
    assert large and all(t.job.train.compile and t.job.data.resolution for t in large)
    factor = (73 * (160 / 224) ** 2 + 17 * (192 / 224) ** 2) / 90
    assert all(cost.pixel_factor(t) == pytest.approx(factor) for t in large)
    est_full, est_lean = cost.estimate(full), cost.estimate(lean)
    assert est_lean.saved_hours == pytest.approx(est_full.gpu_hours - est_lean.gpu_hours)
    large_full = sum(r.gpu_hours for r in est_full.rows if r.dataset in ("imagenet", "places365"))
    assert est_lean.saved_hours == pytest.approx(large_full * (1 - factor))
