"""bench/gpu_check.py: its CPU mode runs end to end without Ray/MLflow/FFCV, its grid table
matches grid_full.yaml, and the files the device machine receives fit its 64 MiB limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench import gpu_check

REPO = Path(__file__).resolve().parent.parent
DEVICE_LIMIT = 64 * 2**20  # the device tool's limit on the working tree plus carried paths


def test_cpu_mode_writes_its_json_and_table(tmp_path: Path) -> None:
    if not (gpu_check.SYSTEM_FASHION / gpu_check.FASHION_FILES[0]).is_file():
        pytest.skip(f"Fashion-MNIST is not installed at {gpu_check.SYSTEM_FASHION}")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.gpu_check",
            "--cpu-tiny",
            "--no-compile",
            "--data-root",
            str(gpu_check.SYSTEM_FASHION.parent),
            "--out",
            str(tmp_path),
        ],
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
    assert {(r["case"], r["masked"]) for r in report["steps"]} == {
        ("vgg_tiny_8", False),
        ("vgg_tiny_8", True),
    }
    assert all(r["eager_images_per_s"] > 0 for r in report["steps"])
    levels = report["imp"]["levels"]
    assert [lv["weights_remaining"] for lv in levels] == [1.0, 0.8, 0.64], levels
    assert all(0.1 < lv["final_test_accuracy"] <= 1.0 for lv in levels), "IMP did not learn"
    assert report["sharing"]["processes"] == 2 and report["sharing"]["shared_s"] > 0
    grid = report["epoch_gpu_seconds"]["eager"]
    assert set(grid) == set(gpu_check.GRID) and all(
        set(m) == {"vgg19", "resnet50"} for m in grid.values()
    )
    table = (tmp_path / "gpu_check.md").read_text()
    assert "IMP vgg_tiny Fashion-MNIST level 2" in table and "epoch_gpu_seconds" in table


def test_grid_table_matches_grid_full() -> None:
    from ltsweep.core.data import get_spec

    raw = yaml.safe_load((REPO / "search_spaces" / "grid_full.yaml").read_text())
    models = {m["name"] for m in raw["models"]}
    assert set(raw["datasets"]) == set(gpu_check.GRID), "grid_full.yaml's datasets changed"
    for name, settings in raw["datasets"].items():
        images, size = gpu_check.GRID[name]
        spec = get_spec(name)
        assert size == (settings.get("image_size") or spec.image_size), name
        assert spec.train_size in (None, images), f"{name}: {spec.train_size} training images"
        assert all((m, size) in gpu_check.GRID_CASES for m in models), name


def test_files_sent_to_the_device_fit_its_limit() -> None:
    """Tracked and untracked-unignored files, plus the carried Fashion-MNIST (30 MB)."""
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
    assert tree + fashion < DEVICE_LIMIT, (
        f"working tree {tree / 2**20:.1f} MiB + Fashion-MNIST {fashion / 2**20:.1f} MiB "
        f"exceed the device's {DEVICE_LIMIT / 2**20:.0f} MiB"
    )
