"""bench/gpu_check.py: its CPU mode runs every section end to end with the packages the GPU
machine lacks (``gpu_check.FORBIDDEN``: Ray, MLflow, FFCV, PyYAML, safetensors, ...) absent, its
datasets match grid_full.yaml, its resolution schedule matches grid_lean.yaml, and what is
copied to the GPU machine stays small."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench import gpu_check
from ltsweep.core.resolution import Resolution

REPO = Path(__file__).resolve().parent.parent
COPY_LIMIT = 64 * 2**20  # what the GPU machine is sent: the working tree plus bench/data
# Runs the module with the packages the GPU machine lacks made absent, as they are there: every
# finder answers "no such module" for them (find_spec None; importing raises ModuleNotFoundError).
BLOCKED_RUN = """
import runpy, sys
class Absent:
    def __init__(self, finder):
        self.finder = finder
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            return None
        return self.finder.find_spec(name, path, target)
    def __getattr__(self, attribute):
        return getattr(self.finder, attribute)
sys.meta_path[:] = [Absent(f) for f in sys.meta_path]
sys.argv = ["gpu_check", *sys.argv[1:]]
runpy.run_module("bench.gpu_check", run_name="__main__")
"""


def test_cpu_mode_runs_every_section_without_the_missing_packages(tmp_path: Path) -> None:
    if not (gpu_check.SYSTEM_FASHION / gpu_check.FASHION_FILES[0]).is_file():
        pytest.skip(f"Fashion-MNIST is not installed at {gpu_check.SYSTEM_FASHION}")
    args = ["--cpu-tiny", "--no-compile", "--data-root", str(gpu_check.SYSTEM_FASHION.parent)]
    args += ["--out", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN.format(blocked=set(gpu_check.FORBIDDEN)), *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"gpu_check --cpu-tiny failed: {done.stderr[-2000:]}"
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["forbidden_modules"] == [], f"imported {report['forbidden_modules']}"
    assert report["skipped"] == [], f"sections skipped: {report['skipped']}"
    measured = {(r["grid_model"], r["grid_size"], r["masked"]) for r in report["steps"]}
    wanted = {(m, s, False) for m in ("vgg19", "resnet50") for s in (224, 192, 160, 32)}
    assert wanted | {("vgg19", 32, True)} == measured, f"step rows: {sorted(measured)}"
    assert all(r["eager_images_per_s"] > 0 for r in report["steps"])
    levels = report["imp"]["levels"]
    assert [lv["weights_remaining"] for lv in levels] == [1.0, 0.8, 0.64], levels
    assert all(0.1 < lv["final_test_accuracy"] <= 1.0 for lv in levels), "IMP did not learn"
    assert report["imp"]["rewind_step"] == 10, "late reset is not one epoch (640 / 64 steps)"
    assert report["sharing"]["processes"] == 2 and report["sharing"]["shared_s"] > 0
    blocks = ["# " + b.removeprefix("# ") for b in report["yaml"].split("\n# ")]
    assert [b[2:].split(":")[0] for b in blocks] == ["grid_full", "grid_lean"], blocks
    for block in blocks:  # paste-ready: every dataset, both models, positive seconds
        table = yaml.safe_load(block)
        assert set(table) == set(gpu_check.GRID_DATASETS), block
        for dataset, entry in table.items():
            seconds = entry["epoch_gpu_seconds"]
            assert set(seconds) == {"vgg19", "resnet50"} and min(seconds.values()) > 0, dataset
    table = (tmp_path / "gpu_check.md").read_text()
    assert "IMP vgg_tiny Fashion-MNIST level 2" in table and "epoch_gpu_seconds" in table


def test_grid_lean_epoch_is_the_mean_over_its_resolution_schedule() -> None:
    schedule = Resolution(160, 192, (65, 76), 224)
    sizes = schedule.sizes(90)
    rates = {160: 4000.0, 192: 3000.0, 224: 2000.0}
    got = gpu_check.schedule_epoch_seconds(1_000_000, 30_000, rates, schedule, 90)
    at = {s: 1_000_000 / r + 30_000 / (3 * 2000.0) for s, r in rates.items()}
    want = (sizes.count(160) * at[160] + sizes.count(192) * at[192]) / 90
    assert got == pytest.approx(want), "the schedule's epoch is not the mean of its epochs"
    assert at[160] < got < at[192]


def test_card_scaling_and_targets() -> None:
    assert gpu_check.card_factor("NVIDIA H100 80GB HBM3") == 1.7
    assert gpu_check.card_factor("NVIDIA A100-SXM4-80GB") == 1.0
    assert gpu_check.card_factor("Tesla T4") is None
    report = gpu_check.Report("full", "NVIDIA H100", True, 1.7)
    report.steps.append(
        {
            "grid_model": "resnet50",
            "grid_size": 224,
            "masked": False,
            "compiled_images_per_s": 5100.0,
        }
    )
    (line,) = gpu_check.target_lines(report, {})
    assert "3,000 img/s per A100" in line and line.endswith("met"), line


def test_grid_tables_match_the_sweep_files() -> None:
    from ltsweep.core.data import get_spec

    raw = yaml.safe_load((REPO / "search_spaces" / "grid_full.yaml").read_text())
    assert set(raw["datasets"]) == set(gpu_check.GRID_DATASETS), "grid_full.yaml's datasets changed"
    for name, settings in raw["datasets"].items():
        spec = get_spec(name)
        assert settings.get("image_size") in (None, spec.image_size), f"{name}: another size"
        assert spec.train_size and spec.test_size, f"{name}: the registry lacks its split sizes"
    lean_file = REPO / "search_spaces" / "grid_lean.yaml"
    if not lean_file.is_file():
        pytest.skip("search_spaces/grid_lean.yaml does not exist yet: its schedule is unchecked")
    lean = yaml.safe_load(lean_file.read_text())["datasets"]["imagenet"]
    resolution = Resolution(**{**lean["resolution"], "ramp": tuple(lean["resolution"]["ramp"])})
    assert resolution == gpu_check.LEAN, "gpu_check.LEAN differs from grid_lean.yaml's imagenet"
    assert lean["schedule"]["epochs"] == gpu_check.LEAN_EPOCHS, "grid_lean's epochs changed"


def test_files_copied_to_the_gpu_machine_stay_small() -> None:
    """Tracked and untracked-unignored files, plus bench/data's Fashion-MNIST (30 MB)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
    )
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout: {listed.stderr.decode().strip()[:200]}")
    files = [REPO / p for p in listed.stdout.decode().split("\0") if p]
    tree = sum(p.stat().st_size for p in files if p.is_file())
    fashion = sum(
        (gpu_check.SYSTEM_FASHION / f).stat().st_size
        for f in gpu_check.FASHION_FILES
        if (gpu_check.SYSTEM_FASHION / f).is_file()
    )
    assert tree + fashion < COPY_LIMIT, (
        f"working tree {tree / 2**20:.1f} MiB + Fashion-MNIST {fashion / 2**20:.1f} MiB "
        f"exceed {COPY_LIMIT / 2**20:.0f} MiB"
    )
