"""Models by name from torchvision and timm (``ltsweep.core.models.external``): the class count,
the classifier rule, the prunable set, a fresh head of another class count, and the one-line
refusals (unknown name, pretrained weights, timm not installed) at sweep load time."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from ltsweep.core.models import (
    create_model,
    output_layer,
    prunable_parameter_names,
    reset_output_layer,
)
from ltsweep.errors import UserError
from ltsweep.sweep.config import load_sweep


def test_resnet18_has_the_class_count_head_and_a_trunk_only_prunable_set() -> None:
    model = create_model("torchvision:resnet18", 7)
    assert model.output_layer_name == "fc", model.output_layer_name
    assert output_layer(model).out_features == 7
    names = prunable_parameter_names(model)
    # 17 convolutions on the main path and 3 downsampling 1x1 convolutions; no fc, BN, bias
    assert len(names) == 20, names
    assert "conv1.weight" in names and "layer2.0.downsample.0.weight" in names
    assert "fc.weight" not in names, "the output layer must not be pruned"
    assert not any(".bn" in n or n.endswith(".bias") or ".downsample.1." in n for n in names)
    assert "fc.weight" in prunable_parameter_names(model, include_output=True)


def test_squeezenet_conv_head_is_found_and_replaced() -> None:
    model = create_model("torchvision:squeezenet1_1", 3)
    assert model.output_layer_name == "classifier.1", model.output_layer_name
    assert "classifier.1.weight" not in prunable_parameter_names(model)
    trunk = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("classifier")}
    new = reset_output_layer(model, 5)
    assert isinstance(new, nn.Conv2d) and new.out_channels == 5
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 5)
    same = all(torch.equal(model.state_dict()[k], v) for k, v in trunk.items())
    assert same, "replacing the head changed the trunk"


SWEEP = """
models: [{{name: "{model}", options: {options}}}]
datasets: {{digits: {{batch_size: 8, schedule: {{epochs: 1}}}}}}
optimizers: {{sgd: {{lr: 0.1}}}}
sources: [{{dataset: digits, optimizer: sgd}}]
targets: [{{dataset: digits, optimizer: sgd}}]
imp: {{levels: 1}}
seeds: [0]
"""


def _load(tmp_path: Path, model: str, options: str = "{}"):
    path = tmp_path / "s.yaml"
    path.write_text(SWEEP.format(model=model, options=options))
    return load_sweep(path)


@pytest.mark.parametrize(
    ("model", "options", "message"),
    [
        ("torchvision:resnet19", "{}", "did you mean torchvision:resnet18?"),
        ("torchvision:resnet18", "{weights: DEFAULT}", "option 'weights' is not allowed"),
        ("keras:resnet18", "{}", "unknown model source 'keras'"),
        ("resnet18", "{}", "unknown model 'resnet18'"),
    ],
)
def test_bad_model_names_are_one_line_at_load(tmp_path, model, options, message) -> None:
    with pytest.raises(UserError) as err:
        _load(tmp_path, model, options)
    text = str(err.value)
    assert "models[0].name" in text and message in text and "\n" not in text, text


def test_timm_models_build_with_the_class_count_and_a_known_head() -> None:
    if importlib.util.find_spec("timm") is None:
        pytest.skip("timm is not installed (it is in the dev extra: pip install -e '.[dev]')")
    model = create_model("timm:resnet18", 4)
    layer = model.get_submodule(model.output_layer_name)
    assert layer is model.get_classifier() and layer.out_features == 4, (
        f"timm:resnet18's output layer {model.output_layer_name!r} is not its 4-way classifier"
    )
    names = prunable_parameter_names(model)
    assert names and f"{model.output_layer_name}.weight" not in names, (
        "the classifier of a timm model must not be pruned"
    )


def test_without_timm_a_timm_model_is_one_line_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "timm", None)  # import timm now fails, as when absent
    with pytest.raises(UserError, match=r"pip install 'ltsweep\[timm\]'"):
        _load(tmp_path, "timm:resnet18")


def test_an_external_model_keys_on_its_name_and_options(tmp_path: Path) -> None:
    from ltsweep.sweep.plan import build_plan

    keys = {
        options: build_plan(_load(tmp_path, model, options)).generation[0].key
        for model, options in [
            ("torchvision:squeezenet1_1", "{}"),
            ("torchvision:squeezenet1_1", "{dropout: 0.2}"),
        ]
    }
    assert len(set(keys.values())) == 2, f"options did not change the key: {keys}"
    other = build_plan(_load(tmp_path, "torchvision:squeezenet1_0")).generation[0].key
    assert other not in keys.values(), "the model name did not change the key"
