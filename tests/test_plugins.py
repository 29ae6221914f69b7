"""Plugins (``ltsweep.plugins``): a package installed with pip registers a dataset and a model
through entry points, and a sweep through the real CLI and Ray workers trains them. The same
sweep (one Ray start for the suite's budget) also has what a user brings without a plugin: an
image folder as source and target, and a torchvision model by name."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest

from ltsweep.core.data import register_plugin as register_dataset
from ltsweep.core.models import register_plugin as register_model
from ltsweep.errors import UserError
from ltsweep.plugins import register_entry_point
from tests.common.cli import REPO, ltsweep

PLUGIN_SOURCE = REPO / "tests" / "plugins" / "ltsweep_example_plugin"

SWEEP = """
models:
  - name: torchvision:squeezenet1_1
  - name: tiny_cnn
    options: {{width: 4}}
datasets:
  mine:
    kind: image_folder
    path: {folder}
    image_size: 32
    batch_size: 8
    schedule: {{epochs: 1}}
    workers: 0
  stripes:
    image_size: 32
    batch_size: 16
    schedule: {{epochs: 1}}
    workers: 0
optimizers:
  sgd: {{lr: 0.01}}
sources:
  - {{dataset: mine, optimizer: sgd}}
  - {{dataset: stripes, optimizer: sgd}}
targets:
  - {{dataset: mine, optimizer: sgd}}
  - {{dataset: stripes, optimizer: sgd}}
imp: {{levels: 1, rate: 0.5, rewind_epochs: 0.5}}
transfer: {{kinds: [transferred]}}
seeds: [0]
"""


def make_image_folder(root: Path, per_class: int = 8) -> Path:
    """Three classes of small PNGs, each class tinted in its own channel."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(("cat", "dog", "emu")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, (12, 14, 3), dtype=np.uint8)
            pixels[..., c] += 150
            Image.fromarray(pixels).save(root / name / f"{i:03d}.png")
    return root


def install_plugin(target: Path, workdir: Path) -> None:
    """``pip install`` the example plugin into ``target`` (from a copy: pip builds in-tree)."""
    source = workdir / "plugin-src"
    shutil.copytree(PLUGIN_SOURCE, source)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    result = subprocess.run(
        [*pip, "--no-build-isolation", "--target", str(target), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"pip could not install the plugin: {result.stderr[-2000:]}"


def test_sweep_with_a_plugin_an_image_folder_and_a_torchvision_model(tmp_path: Path) -> None:
    target = tmp_path / "site"
    install_plugin(target, tmp_path)
    folder = make_image_folder(tmp_path / "photos")
    sweep = tmp_path / "own.yaml"
    sweep.write_text(SWEEP.format(folder=folder))
    env = {
        "PYTHONPATH": os.pathsep.join([str(target), str(REPO), os.environ.get("PYTHONPATH", "")]),
        "LTSWEEP_CACHE": str(tmp_path / "cache"),
    }
    out = tmp_path / "out"
    result = ltsweep("run", str(sweep), "--out", str(out), "--num-cpus", "2", env=env)
    assert result.returncode == 0, (
        f"the sweep failed: {result.stdout[-3000:]}{result.stderr[-3000:]}"
    )

    tickets = {}
    for path in out.glob("trials/g-*/tickets/level_01/ticket.json"):
        info = json.loads(path.read_text())
        tickets[(info["model"], info["source_dataset"])] = info
    expected = {
        (model, data)
        for model in ("torchvision:squeezenet1_1", "tiny_cnn")
        for data in ("mine", "stripes")
    }
    assert set(tickets) == expected, f"tickets made: {sorted(tickets)}"
    for (model, data), info in tickets.items():
        want = 3 if data == "mine" else 4  # the folder's classes from disk, the plugin's 4
        assert info["num_classes"] == want, f"{model} on {data}: {info['num_classes']} classes"
    head = {"torchvision:squeezenet1_1": "classifier.1.weight", "tiny_cnn": "head.weight"}
    for (model, _), info in tickets.items():
        assert head[model] not in info["layer_density"], f"{model}: its output layer was pruned"
        assert not any("bias" in k or "bn" in k for k in info["layer_density"]), info
    transfers = [json.loads(p.read_text()) for p in out.glob("trials/t-*/done.json")]
    assert len(transfers) == 4, f"{len(transfers)} transfer trials finished, not 4"
    for record in transfers:
        losses = [epoch["test_loss"] for epoch in record["history"]]
        assert losses and all(math.isfinite(v) for v in losses), record["history"]


@pytest.mark.parametrize(
    ("register", "value", "message"),
    [
        (register_model, "no_such_plugin_module:factory", "failed to load: ModuleNotFoundError"),
        (register_model, "math:pi", "not a model factory"),
        (register_dataset, "math:pi", "not a DatasetSpec"),
    ],
)
def test_a_broken_plugin_is_one_line_naming_its_entry_point(register, value, message) -> None:
    group = "ltsweep.models" if register is register_model else "ltsweep.datasets"
    with pytest.raises(UserError) as err:
        register_entry_point(EntryPoint(name="broken", value=value, group=group), register)
    text = str(err.value)
    assert message in text and f"broken = {value}" in text and "\n" not in text, text


def test_a_plugin_cannot_take_a_builtin_name() -> None:
    from ltsweep.core.models import model_names

    model_names()  # the built-in models are registered
    ep = EntryPoint(name="vgg_tiny", value="math:floor", group="ltsweep.models")
    with pytest.raises(UserError, match="model 'vgg_tiny' already exists"):
        register_entry_point(ep, register_model)
