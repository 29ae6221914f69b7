"""Model registry: shapes, the trunk/output split, prunable weights, and fidelity to the papers."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from ltsweep.core.models import (
    create_model,
    model_names,
    output_layer,
    prunable_parameter_names,
    reset_output_layer,
)
from ltsweep.errors import UserError

NAMES = ("resnet50", "resnet_tiny", "vgg19", "vgg_tiny")


def test_registry_holds_the_study_models() -> None:
    assert set(NAMES) <= set(model_names())


@pytest.mark.parametrize("name", model_names())
def test_forward_shape_at_32px(name: str) -> None:
    model = create_model(name, num_classes=7).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", model_names())
def test_output_layer_is_the_single_last_linear(name: str) -> None:
    model = create_model(name, num_classes=13)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    head = output_layer(model)
    assert linears == [head]
    assert head.out_features == 13
    # It is also what forward ends with: its output is the model's output.
    seen: dict[str, torch.Tensor] = {}
    head.register_forward_hook(lambda mod, inp, out: seen.update(out=out))
    with torch.no_grad():
        out = model.eval()(torch.randn(1, 3, 32, 32))
    assert torch.equal(seen["out"], out)


@pytest.mark.parametrize("name", model_names())
def test_prunable_names_are_conv_weights_only(name: str) -> None:
    model = create_model(name, num_classes=10)
    names = prunable_parameter_names(model)
    params = dict(model.named_parameters())
    convs = {f"{n}.weight" for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    assert set(names) == convs and len(names) == len(set(names))
    head = model.output_layer_name
    assert not any(n.startswith(head + ".") or n.endswith(".bias") for n in names)
    bn = {
        f"{n}.{p}"
        for n, m in model.named_modules()
        if isinstance(m, nn.BatchNorm2d)
        for p in ("weight", "bias")
    }
    assert not bn & set(names)
    assert all(params[n].dim() == 4 for n in names)
    with_head = prunable_parameter_names(model, include_output=True)
    assert set(with_head) == set(names) | {f"{head}.weight"}


@pytest.mark.parametrize("name", model_names())
def test_reset_output_layer_changes_width_only(name: str) -> None:
    model = create_model(name, num_classes=10)
    trunk_before = {
        k: v.clone()
        for k, v in model.state_dict().items()
        if not k.startswith(model.output_layer_name + ".")
    }
    new = reset_output_layer(model, 4)
    assert output_layer(model) is new and new.out_features == 4
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in trunk_before.items())
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 32, 32)).shape == (1, 4)


def test_resnet50_matches_torchvision_state_dict() -> None:
    from torchvision.models import resnet50

    ours = create_model("resnet50", num_classes=1000)  # ImageNet stem is the default
    theirs = resnet50(weights=None)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    assert {k: v.shape for k, v in ours_sd.items()} == {k: v.shape for k, v in theirs_sd.items()}
    # Same computation, not just the same names: torchvision's weights give torchvision's output.
    ours.load_state_dict(theirs_sd)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ours.eval()(x), theirs.eval()(x), atol=1e-5)


def test_resnet50_imagenet_stem_at_224() -> None:
    model = create_model("resnet50", num_classes=1000).eval()
    assert model.conv1.kernel_size == (7, 7) and model.conv1.stride == (2, 2)
    assert isinstance(model.maxpool, nn.MaxPool2d)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


@pytest.mark.parametrize("name", ["resnet50", "resnet_tiny"])
def test_cifar_stem_keeps_resolution(name: str) -> None:
    model = create_model(name, num_classes=10, stem="cifar").eval()
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, nn.Identity)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    seen: dict[str, torch.Tensor] = {}
    model.layer1.register_forward_hook(lambda mod, inp, out: seen.update(x=inp[0]))
    with torch.no_grad():
        model(torch.randn(1, 3, 32, 32))
    assert seen["x"].shape[-2:] == (32, 32)


def test_stems_share_parameter_shapes_except_conv1() -> None:
    a = create_model("resnet_tiny", num_classes=10, stem="cifar").state_dict()
    b = create_model("resnet_tiny", num_classes=10, stem="imagenet").state_dict()
    assert list(a) == list(b)
    assert [k for k in a if a[k].shape != b[k].shape] == ["conv1.weight"]


def test_unknown_stem_and_model_are_user_errors() -> None:
    with pytest.raises(UserError, match="cifar"):
        create_model("resnet_tiny", num_classes=10, stem="mnist")
    with pytest.raises(UserError, match="vgg19"):
        create_model("vgg20", num_classes=10)


def test_vgg19_has_16_convs_and_one_linear() -> None:
    model = create_model("vgg19", num_classes=10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 16
    assert all(c.kernel_size == (3, 3) and c.bias is None for c in convs)
    assert [c.out_channels for c in convs] == [64, 64, 128, 128] + [256] * 4 + [512] * 8
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 16
    assert sum(isinstance(m, nn.Linear) for m in model.modules()) == 1
    assert output_layer(model).in_features == 512


def test_same_seed_same_initialization() -> None:
    torch.manual_seed(3)
    a = create_model("vgg_tiny", num_classes=10).state_dict()
    torch.manual_seed(3)
    b = create_model("vgg_tiny", num_classes=10).state_dict()
    torch.manual_seed(4)
    c = create_model("vgg_tiny", num_classes=10).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["features.0.weight"], c["features.0.weight"])
