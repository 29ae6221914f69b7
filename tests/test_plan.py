"""The planner (``sweep/plan.py``): its transfer compatibility check, read from model options,
agrees with the parameter shapes of the models themselves; with the stem rule, tickets from an
ImageNet-stem source are planned on CIFAR-stem targets, their keys record the rule, and other
keys do not move."""

from __future__ import annotations

import dataclasses
import inspect
import itertools
from pathlib import Path

import pytest
import torch
import yaml

from ltsweep.core.jobs import ModelConfig
from ltsweep.core.models import MODELS, create_model, model_names, output_layer
from ltsweep.core.models.resnet import STEMS
from ltsweep.hashing import config_key
from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.plan import _compatible, _key_payload, build_plan

# Every value each model option can take; a new option must be listed here to be checked.
OPTION_VALUES = {"stem": STEMS}


def _variants(name: str) -> list[ModelConfig]:
    params = [p for p in inspect.signature(MODELS.get(name)).parameters if p != "num_classes"]
    missing = [p for p in params if p not in OPTION_VALUES]
    assert not missing, f"model {name} has options {missing} without values in OPTION_VALUES"
    combos = itertools.product(*(OPTION_VALUES[p] for p in params))
    return [ModelConfig(name)] + [ModelConfig(name, tuple(zip(params, c))) for c in combos]


def _trunk(model: ModelConfig) -> list[tuple[str, tuple[int, ...]]]:
    with torch.device("meta"):
        net = create_model(model.name, 10, **model.kwargs)
    head = output_layer(net)
    skip = {id(head.weight), id(head.bias)}
    return [(k, tuple(v.shape)) for k, v in net.named_parameters() if id(v) not in skip]


@pytest.mark.parametrize("name", model_names())
def test_compatible_iff_trunk_shapes_match(name: str) -> None:
    variants = _variants(name)
    trunks = {v: _trunk(v) for v in variants}
    for a, b in itertools.product(variants, repeat=2):
        same_shapes = trunks[a] == trunks[b]
        assert _compatible(a, b) == same_shapes, (
            f"{name}: plan calls {dict(a.options)} -> {dict(b.options)} "
            f"{'compatible' if _compatible(a, b) else 'incompatible'}, but their trunk shapes "
            f"{'match' if same_shapes else 'differ'}"
        )


TINY = Path(__file__).parent / "sweeps" / "tiny.yaml"


def _plan(tmp_path: Path, transfer: dict):
    cfg = yaml.safe_load(TINY.read_text())
    cfg["models"] = [
        {"name": "resnet_tiny", "options_by_dataset": {"shapes": {"stem": "imagenet"}}}
    ]
    cfg["datasets"]["shapes"] = cfg["datasets"]["digits"]
    cfg["sources"].append({"dataset": "shapes", "optimizer": "sgd"})
    cfg["transfer"] = transfer
    path = tmp_path / f"stems-{len(transfer)}-{sorted(transfer)[0]}.yaml"
    path.write_text(yaml.safe_dump({**cfg, "name": "stems"}))
    return build_plan(load_sweep(path))


def test_stem_rule_plans_the_transfers_skip_would_drop(tmp_path: Path) -> None:
    skipped = _plan(tmp_path, {"skip_incompatible": True})
    restem = _plan(tmp_path, {"stem_mismatch": "reinit"})
    assert skipped.skipped_incompatible == 4 and restem.skipped_incompatible == 0
    new = [t for t in restem.transfer if t.job.reinit_stem]
    # shapes/sgd (ImageNet stem) -> digits/sgd and digits/adam (CIFAR stem), 2 levels, 1 seed
    assert len(new) == 4, f"{len(new)} re-stemmed transfers planned, expected 4"
    assert {t.axes.source.name for t in new} == {"shapes"}
    assert all(t.job.model.kwargs.get("stem") is None for t in new), "the target keeps its stem"
    old = [t.key for t in restem.trials if not getattr(t.job, "reinit_stem", False)]
    assert old == [t.key for t in skipped.trials], "the rule changed keys of other trials"
    t = new[0]
    ticket_dir = f"{t.source_key}/{t.level}"
    without = "t-" + config_key(
        _key_payload(dataclasses.replace(t.job, reinit_stem=False), ticket_dir=ticket_dir)
    )
    assert "t-" + config_key(_key_payload(t.job, ticket_dir=ticket_dir)) == t.key
    assert t.key != without, "the stem rule is not part of the trial key"


def test_a_restemmed_transfer_trial_records_the_rule(tmp_path: Path) -> None:
    """Run as the sweep runs it (``tune.trainable.execute``, without Ray): the ImageNet-stem
    generation trial, then one of its transfers to a CIFAR-stem target."""
    from ltsweep.storage.done import read_done
    from ltsweep.storage.paths import SweepPaths
    from ltsweep.tune.trainable import execute

    plan = _plan(tmp_path, {"stem_mismatch": "reinit", "kinds": ["transferred"]})
    paths = SweepPaths(tmp_path / "out")
    transfer = next(t for t in plan.transfer if t.job.reinit_stem)
    source = next(t for t in plan.generation if t.key == transfer.source_key)
    execute(source, paths)
    execute(transfer, paths)
    record = read_done(paths, transfer.key)
    assert record["stem"] == {
        "rule": "reinit",
        "ticket_stem": "imagenet",
        "target_stem": "cifar",
        "layers": ["conv1", "bn1"],
    }, record.get("stem")
    assert 0 < record["weights_remaining"] < 1 and len(record["history"]) == 2
    assert record["device_name"] == "cpu"


def test_every_command_finds_a_sweep_the_same_way(tmp_path: Path, monkeypatch) -> None:
    """``find_sweep`` is the one way: ``run``/``plan``/``status`` (``load_context``) and the
    report's ``locate`` agree on the name, output and store; a copied store without its sweep
    file is still found by name."""
    import argparse

    from ltsweep.sweep.context import load_context
    from ltsweep.sweep.files import find_sweep
    from ltsweep.tracking.sweep_store import locate

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    found = find_sweep("demo", tmp_path / "out")
    assert found.config is not None and found.name == "demo", found
    assert found.tracking_uri == f"sqlite:///{(tmp_path / 'out' / 'mlflow.db').resolve()}"
    args = argparse.Namespace(sweep="demo", out=tmp_path / "out", tracking_uri=None)
    ctx = load_context(args)
    where = locate("demo", tmp_path / "out")
    assert (ctx.paths, ctx.tracking_uri, ctx.file) == (found.paths, found.tracking_uri, found.file)
    assert (where.out, where.tracking_uri, where.config) == (
        found.paths.out,
        found.tracking_uri,
        found.config,
    )
    copied = find_sweep("lab_sweep", tmp_path / "copy")
    assert copied.config is None and copied.name == "lab_sweep", copied
    assert "no sweep named 'lab_sweep'" in copied.unresolved, copied.unresolved
    assert copied.paths.out == tmp_path / "copy"


def test_plan_json_trials_are_typed(tmp_path: Path) -> None:
    """``plan --json --trials``: seeds and levels are numbers (a generation trial's level is
    null: it makes every level), entries are objects with their registered dataset and the
    training-set size the trials use; the same facts the planner's typed record holds."""
    import json

    from tests.common.cli import ltsweep_quick

    data = {"batch_size": 64, "schedule": {"epochs": 1}, "dataset": "digits"}
    configs = [
        {"dataset": "digits_a", "optimizer": "sgd"},
        {"dataset": "digits_b", "optimizer": "sgd"},
    ]
    sweep = {
        "models": [{"name": "vgg_tiny"}],
        "datasets": {"digits_a": {**data, "half": "a"}, "digits_b": {**data, "half": "b"}},
        "optimizers": {"sgd": {"lr": 0.05}},
        "sources": configs,
        "targets": configs,
        "imp": {"levels": 2},
        "seeds": [0, 1],
    }
    path = tmp_path / "halves.yaml"
    path.write_text(yaml.safe_dump(sweep))
    result = ltsweep_quick("plan", str(path), "--json", "--trials", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    trials = json.loads(result.stdout)["trial_list"]
    gen = next(t for t in trials if t["stage"] == "generate")
    xfer = next(t for t in trials if t["stage"] == "transfer" and t["source"])
    assert isinstance(gen["seed"], int) and gen["level"] is None, gen
    assert isinstance(gen["is_target"], bool), gen
    assert isinstance(xfer["level"], int) and xfer["level"] >= 1, xfer
    target = xfer["target"]
    assert isinstance(target["train_size"], int) and isinstance(target["classes"], int), target
    halves = {t["target"]["name"]: t["target"] for t in trials}
    assert halves["digits_a"]["dataset"] == halves["digits_b"]["dataset"] == "digits", halves
    assert (halves["digits_a"]["half"], halves["digits_a"]["train_size"]) == ("a", 1347 // 2)
