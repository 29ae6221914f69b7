"""Moving a ticket to a target: trunk and masks kept, output layer per target, and the controls."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from ltsweep.core.jobs import DataConfig, ModelConfig, TransferJob
from ltsweep.core.models import output_layer
from ltsweep.core.tickets import load_ticket
from ltsweep.core.transfer import build_for_target, run_transfer
from ltsweep.errors import UserError
from tests.common.tiny import TINY_SIZE, register_quad, tiny_train_config

HEAD = ("fc.weight", "fc.bias")


def _job(
    kind: str,
    ticket: str | None,
    dataset: str = "digits",
    model: str = "vgg_tiny",
    seed: int = 0,
    **model_options,
) -> TransferJob:
    return TransferJob(
        kind=kind,
        model=ModelConfig(model, tuple(model_options.items())),
        data=DataConfig(dataset, image_size=TINY_SIZE, workers=0),
        train=tiny_train_config(epochs=2),
        seed=seed,
        ticket_dir=ticket,
    )


@pytest.fixture(scope="module")
def last_ticket(tiny_imp) -> str:
    return tiny_imp[2][-1].ticket_dir


@pytest.mark.parametrize("kind", ["transferred", "same"])
def test_ticket_on_another_class_count(last_ticket: str, kind: str) -> None:
    quad = register_quad()
    ticket = load_ticket(Path(last_ticket))
    net, mask = build_for_target(_job(kind, last_ticket, dataset=quad))
    head = output_layer(net)
    assert head.out_features == 4 and head.in_features == 32
    with torch.no_grad():
        assert net.eval()(torch.randn(2, 3, TINY_SIZE, TINY_SIZE)).shape == (2, 4)
    state = net.state_dict()
    for name, value in ticket.weights.items():
        if name not in HEAD:
            assert torch.equal(state[name], value), name
    assert set(mask) == set(ticket.mask) and all(torch.equal(mask[n], ticket.mask[n]) for n in mask)
    assert not any(n.startswith("fc.") for n in mask)  # dense, unpruned head
    # freshly initialised as nn.Linear does: uniform within 1/sqrt(fan_in), not zero, not constant
    bound = 1 / math.sqrt(head.in_features)
    w = head.weight.detach()
    assert float(w.abs().max()) <= bound and float(w.std()) > bound / 4


def test_other_dataset_same_class_count_still_gets_a_fresh_head(last_ticket: str) -> None:
    ticket = load_ticket(Path(last_ticket))
    net, mask = build_for_target(_job("transferred", last_ticket, dataset="shapes"))
    assert output_layer(net).out_features == 10
    assert mask is not None and all(torch.equal(mask[n], ticket.mask[n]) for n in ticket.mask)
    assert not torch.equal(net.fc.weight, ticket.weights["fc.weight"])
    assert torch.equal(net.features[0].weight, ticket.weights["features.0.weight"])


def test_same_dataset_keeps_the_tickets_output_layer(last_ticket: str) -> None:
    ticket = load_ticket(Path(last_ticket))
    net, mask = build_for_target(_job("same", last_ticket, dataset="digits"))
    state = net.state_dict()
    for name, value in ticket.weights.items():
        assert torch.equal(state[name], value), name
    assert mask is not None and all(torch.equal(mask[n], ticket.mask[n]) for n in ticket.mask)


def test_head_is_seeded_per_trial(last_ticket: str) -> None:
    quad = register_quad()
    a, _ = build_for_target(_job("transferred", last_ticket, dataset=quad, seed=0))
    b, _ = build_for_target(_job("transferred", last_ticket, dataset=quad, seed=0))
    c, _ = build_for_target(_job("transferred", last_ticket, dataset=quad, seed=1))
    assert torch.equal(a.fc.weight, b.fc.weight)
    assert not torch.equal(a.fc.weight, c.fc.weight)


@pytest.mark.parametrize("dataset", ["digits", "quad"])
def test_random_ticket_same_layer_density_new_positions_fresh_weights(
    last_ticket: str, dataset: str
) -> None:
    dataset = register_quad() if dataset == "quad" else dataset
    ticket = load_ticket(Path(last_ticket))
    net, mask = build_for_target(_job("random", last_ticket, dataset=dataset))
    assert mask is not None and set(mask) == set(ticket.mask)
    state = net.state_dict()
    for name, m in mask.items():
        assert int(m.sum()) == int(ticket.mask[name].sum()), name
        if 0 < int(m.sum()) < m.numel():
            assert not torch.equal(m, ticket.mask[name]), name
        # fresh weights: not the ticket's, not even at positions both masks keep
        both = m & ticket.mask[name]
        assert not torch.equal(state[name][both], ticket.weights[name][both]), name
    assert output_layer(net).out_features == (4 if dataset != "digits" else 10)
    _, other_mask = build_for_target(_job("random", last_ticket, dataset=dataset, seed=1))
    assert any(not torch.equal(other_mask[n], mask[n]) for n in mask)


def test_dense_kind_has_no_mask_and_needs_no_ticket() -> None:
    quad = register_quad()
    net, mask = build_for_target(_job("dense", None, dataset=quad))
    assert mask is None and output_layer(net).out_features == 4
    assert all(int((p == 0).sum()) < p.numel() for p in net.parameters() if p.dim() > 1)


@pytest.mark.parametrize("kind", ["transferred", "same", "random"])
def test_kinds_that_need_a_ticket_refuse_none(kind: str) -> None:
    with pytest.raises(UserError, match="ticket"):
        build_for_target(_job(kind, None))


@pytest.mark.parametrize("kind", ["transferred", "same", "random"])
def test_mismatched_model_is_a_user_error(last_ticket: str, kind: str) -> None:
    with pytest.raises(UserError, match="vgg_tiny"):
        build_for_target(_job(kind, last_ticket, model="resnet_tiny"))
    with pytest.raises(UserError, match="vgg_tiny"):
        build_for_target(_job(kind, last_ticket, model="vgg19"))


def test_unknown_kind_lists_the_known(last_ticket: str) -> None:
    with pytest.raises(UserError, match="transferred"):
        build_for_target(_job("lucky", last_ticket))


def test_run_transfer_trains_the_ticket_on_the_target(last_ticket: str, tmp_path: Path) -> None:
    quad = register_quad()
    ticket = load_ticket(Path(last_ticket))
    state = run_transfer(_job("transferred", last_ticket, dataset=quad), tmp_path)
    assert len(state.history) == 2 and (tmp_path / "checkpoint.pt").exists()
    assert output_layer(state.model).out_features == 4
    params = dict(state.model.named_parameters())
    for name, m in ticket.mask.items():
        assert int(params[name].detach()[~m].abs().sum()) == 0, name
    assert state.history[-1].test_accuracy > 0.4  # 4 classes: chance is 0.25
    # finished trial run again: resumes from its checkpoint and trains no more epochs
    again = run_transfer(_job("transferred", last_ticket, dataset=quad), tmp_path)
    assert [m.as_dict() for m in again.history] == [m.as_dict() for m in state.history]


@pytest.fixture(scope="module")
def imagenet_stem_ticket(tmp_path_factory) -> str:
    """A resnet_tiny ticket made with the ImageNet stem (7x7 conv), globally pruned to 30%."""
    from ltsweep.core.masks import Mask
    from ltsweep.core.models import create_model, prunable_parameter_names
    from ltsweep.core.pruning import prune_global
    from ltsweep.core.tickets import TicketInfo, save_ticket

    torch.manual_seed(0)
    net = create_model("resnet_tiny", 10, stem="imagenet")
    weights = net.state_dict()
    mask = prune_global(weights, Mask.ones_like(net, prunable_parameter_names(net)), 0.7)
    info = TicketInfo(
        "resnet_tiny", "shapes", "sgd", 3, 0, 10, 5, mask.density, mask.layer_density(),
        model_options={"stem": "imagenet"},
    )  # fmt: skip
    directory = tmp_path_factory.mktemp("stem") / "ticket"
    save_ticket(directory, weights, mask, info)
    return str(directory)


def test_reinit_stem_moves_an_imagenet_stem_ticket_to_the_cifar_stem(
    imagenet_stem_ticket: str,
) -> None:
    """Every trunk tensor but the stem moves; the stem is fresh and keeps the ticket's stem
    density with a random mask; the ticket's sparsity is kept to rounding."""
    from ltsweep.core.transfer import stem_record

    ticket = load_ticket(Path(imagenet_stem_ticket))
    job = dataclasses.replace(
        _job("transferred", imagenet_stem_ticket, model="resnet_tiny", stem="cifar"),
        reinit_stem=True,
    )
    net, mask = build_for_target(job)
    state = net.state_dict()
    assert tuple(net.conv1.weight.shape) == (8, 3, 3, 3), "the target keeps its CIFAR stem"
    stem = ("conv1.", "bn1.")
    for name, value in ticket.weights.items():
        if not name.startswith((*stem, "fc.")):
            assert torch.equal(state[name], value), f"{name} did not move with the ticket"
    assert mask is not None and set(mask) == set(ticket.mask)
    for name in ticket.mask:
        if name != "conv1.weight":
            assert torch.equal(mask[name], ticket.mask[name]), f"mask of {name} changed"
    want = float(ticket.mask["conv1.weight"].float().mean())
    got = float(mask["conv1.weight"].float().mean())
    assert abs(got - want) <= 1 / mask["conv1.weight"].numel(), f"stem density {got} != {want}"
    assert int(net.conv1.weight.detach()[~mask["conv1.weight"]].abs().sum()) == 0
    assert torch.equal(net.bn1.weight.detach(), torch.ones(8)), "bn1 is re-initialised"
    record = stem_record(Path(imagenet_stem_ticket), job)
    assert record["weights_remaining"] == pytest.approx(mask.density)
    assert abs(mask.density - ticket.info.weights_remaining) < 0.01, "sparsity not kept"
    assert record["stem"] == {
        "rule": "reinit",
        "ticket_stem": "imagenet",
        "target_stem": "cifar",
        "layers": ["conv1", "bn1"],
    }, record
    with torch.no_grad():
        assert net.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    _, again_mask = build_for_target(job)
    assert torch.equal(again_mask["conv1.weight"], mask["conv1.weight"]), "not seeded per trial"


def test_without_the_stem_rule_another_stem_is_refused(imagenet_stem_ticket: str) -> None:
    job = _job("transferred", imagenet_stem_ticket, model="resnet_tiny", stem="cifar")
    with pytest.raises(UserError, match="equal trunks"):
        build_for_target(job)
