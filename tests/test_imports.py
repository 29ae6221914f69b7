"""Imported sources (``sources: [{tickets: URI}]``, ``sweep/imports.py``) and ``reuse``
(``storage/reuse.py``): planned from the bundle's JSON against the sweep's model, keyed by the
bundle id, priced at 0 GPU-hours; refused in one line where they cannot fit; and one real run
that imports a published series, copies a finished generation trial from another store, and
loses only the trial whose level file was tampered with."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ltsweep.errors import UserError
from ltsweep.ticket_bundle import BUNDLE_FILE, bundle_id
from tests.common.bundles import import_sweep, publish_tiny_imp
from tests.common.cli import REPO, ltsweep, ltsweep_quick


@pytest.fixture(scope="module")
def series(tiny_imp, tmp_path_factory) -> Path:
    """A published series folder (one seed) of the tiny IMP run."""
    root = tmp_path_factory.mktemp("published") / "vgg_tiny-digits-sgd"
    publish_tiny_imp(tiny_imp, root / "seed_0")
    return root


def _plan(path: Path):
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan

    return build_plan(load_sweep(path))


def test_an_imported_series_is_planned_at_zero_hours_keyed_by_its_bundle(series, tmp_path) -> None:
    from ltsweep.commands.plan import summarize_plan

    digits = {
        "image_size": 8,
        "batch_size": 128,
        "schedule": {"epochs": 2, "milestones": [1]},
        "workers": 0,
        "epoch_gpu_seconds": {"vgg_tiny": 36.0},
    }
    plan = _plan(import_sweep(tmp_path / "a.yaml", str(series), datasets={"digits": digits}))
    bundle = json.loads((series / "seed_0" / BUNDLE_FILE).read_text())["id"]
    assert [t.trains_on.label for t in plan.generation] == ["digits/adam"], (
        "the imported source must not get a generation trial; only the target's own"
    )
    imported = [t for t in plan.transfer if t.axes.kind == "transferred"]
    assert [t.level for t in imported] == [1, 2]
    assert {t.source_key for t in imported} == {bundle}, "transfers must name the bundle id"
    source = imported[0].axes.source
    assert source is not None and source.bundle == bundle and source.origin
    assert source.dataset == "digits" and source.train_size == 1347, (
        f"the imported entry must carry the registered dataset and size it was made on: {source}"
    )
    assert source.name.startswith("digits@"), "an imported source must not share an own name"
    summary = summarize_plan(plan)
    (row,) = summary["imported"]
    assert row["gpu_hours"] == 0.0 and row["bundles"] == [bundle]
    # made here: 3 levels x the bundle's own 3 epochs x this sweep's 36 s = 324 s = 0.09 h
    assert row["gpu_hours_saved"] == pytest.approx(0.09), row

    moved = tmp_path / "elsewhere" / "series"
    shutil.copytree(series, moved)
    again = _plan(import_sweep(tmp_path / "b.yaml", str(moved), datasets={"digits": digits}))
    assert [t.key for t in again.transfer] == [t.key for t in plan.transfer], (
        "a moved bundle must keep its trials' keys (they carry the bundle id, not the URI)"
    )


def _lying_copy(series: Path, tmp_path: Path, edit) -> Path:
    copy = tmp_path / "lying"
    shutil.copytree(series, copy)
    path = copy / "seed_0" / BUNDLE_FILE
    doc = json.loads(path.read_text())
    edit(doc)
    doc["id"] = bundle_id(doc["identity"], [(lv["level"], lv["sha256"]) for lv in doc["levels"]])
    path.write_text(json.dumps(doc))
    return copy


def _widen_first_conv(doc: dict) -> None:
    tensors = doc["identity"]["tensors"]
    name = next(n for n, s in tensors.items() if n.startswith("weights.") and len(s["shape"]) == 4)
    tensors[name]["shape"][0] += 1


@pytest.mark.parametrize(
    "case, message",
    [
        ("other_model", "holds tickets of model vgg_tiny, the sweep trains resnet_tiny"),
        ("other_rate", "pruned with rate 0.5, the sweep's imp.rate is 0.2"),
        ("too_few_levels", "has levels 0..2, the sweep transfers level 3"),
        ("lying_shapes", "does not fit the sweep's model vgg_tiny"),
        ("unreachable", "no such folder"),
        ("newer_format", "newer than this ltsweep reads"),
    ],
)
def test_plan_refuses_what_cannot_be_imported(series, tmp_path, case, message) -> None:
    tickets, overrides = str(series), {}
    if case == "other_model":
        overrides = {"models": [{"name": "resnet_tiny"}]}
    elif case == "other_rate":
        overrides = {"imp": {"levels": 2, "rate": 0.2, "rewind_epochs": 1}}
    elif case == "too_few_levels":
        overrides = {"imp": {"levels": 3, "rate": 0.5, "rewind_epochs": 1}}
    elif case == "lying_shapes":
        tickets = str(_lying_copy(series, tmp_path, _widen_first_conv))
    elif case == "unreachable":
        tickets = str(tmp_path / "no-such-series")
    elif case == "newer_format":
        copy = tmp_path / "newer"
        shutil.copytree(series, copy)
        path = copy / "seed_0" / BUNDLE_FILE
        path.write_text(path.read_text().replace('"format_version": 1', '"format_version": 7'))
        tickets = str(copy)
    sweep = import_sweep(tmp_path / "s.yaml", tickets, **overrides)
    with pytest.raises(UserError, match=message) as err:
        _plan(sweep)
    assert "sources[0].tickets" in str(err.value), f"the sweep key is not named: {err.value}"


def test_plan_refusal_is_one_line_and_exit_2(series, tmp_path) -> None:
    tickets = str(_lying_copy(series, tmp_path, _widen_first_conv))
    got = ltsweep_quick("plan", str(import_sweep(tmp_path / "s.yaml", tickets)))
    assert got.returncode == 2, got.stdout + got.stderr
    lines = got.stderr.strip().splitlines()
    assert len(lines) == 1 and "vgg_tiny" in lines[0] and "features" in lines[0], got.stderr


def test_imported_sweep_runs_reuses_and_loses_only_the_tampered_level(tiny_sweep, tmp_path) -> None:
    out, _, _ = tiny_sweep
    tiny = str(REPO / "tests" / "sweeps" / "tiny.yaml")
    published = tmp_path / "published"
    got = ltsweep(
        "ticket", "publish", tiny, "--out", str(out), "--to", str(published), "--optimizer", "sgd"
    )
    assert got.returncode == 0, got.stderr
    assert "vgg_tiny digits/sgd s0" in got.stdout and "adam" not in got.stdout, got.stdout
    series = published / "vgg_tiny-digits-sgd"
    shown = ltsweep_quick("ticket", "show", str(series))
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "files verified   yes" in text and "source dataset   digits, 10 classes" in text
    assert "{" not in text and "'" not in text, f"show prints Python reprs:\n{text}"
    level = series / "seed_0" / "level_02.safetensors"
    data = bytearray(level.read_bytes())
    data[len(data) // 2] ^= 0x01
    level.write_bytes(bytes(data))
    bad = ltsweep_quick("ticket", "show", str(series))
    assert bad.returncode == 2 and "level_02.safetensors" in bad.stderr, bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    sweep = import_sweep(tmp_path / "imported.yaml", str(series), reuse=[str(out)])

    plan = ltsweep_quick("plan", str(sweep), "--out", str(tmp_path / "run"))
    assert plan.returncode == 0, plan.stderr
    assert "imported source    digits@" in plan.stdout and "0 GPU-hours here" in plan.stdout
    assert "reuse              1 generation trial(s) done in" in plan.stdout, plan.stdout

    env = {"LTSWEEP_CACHE": str(tmp_path / "cache")}
    run = ltsweep("run", str(sweep), "--out", str(tmp_path / "run"), "--num-cpus", "2", env=env)
    assert run.returncode == 1, f"one trial must fail: {run.stdout[-2000:]}{run.stderr[-2000:]}"
    assert "reuse: 1 generation trial(s) copied" in run.stdout, run.stdout[-2000:]
    trials = tmp_path / "run" / "trials"
    (gen,) = [p for p in trials.iterdir() if p.name.startswith("g-")]
    mine = json.loads((gen / "done.json").read_text())
    theirs = json.loads((out / "trials" / gen.name / "done.json").read_text())
    assert mine["started_at"] == theirs["started_at"], "the generation trial ran again"
    done = [json.loads(p.read_text()) for p in trials.glob("t-*/done.json")]
    imported = [d for d in done if "bundle_id" in d]
    assert len(imported) == 1 and len(done) == 3, "L1 imported and both random controls finish"
    (failed,) = [json.loads(p.read_text()) for p in trials.glob("t-*/failed.json")]
    assert "level_02.safetensors" in failed["reason"] and "sha256" in failed["reason"]
    assert "\n" not in failed["reason"]

    report = ltsweep("report", str(sweep), "--out", str(tmp_path / "run"))
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "run" / "report" / "index.html").read_text()
    assert "Imported ticket sources" in page and imported[0]["bundle_id"] in page


def test_the_shipped_import_sweep_matches_the_demo_it_imports_from() -> None:
    """search_spaces/digits_imported.yaml imports the demo's tickets and reuses its trials: its
    datasets, optimizers, IMP protocol and levels must be the demo's, or nothing would pair."""
    from ltsweep.sweep.config import load_sweep

    mine = load_sweep(REPO / "search_spaces" / "digits_imported.yaml")
    demo = load_sweep(REPO / "search_spaces" / "demo.yaml")
    assert mine.datasets["shapes_small"] == demo.datasets["shapes_small"]
    assert (mine.imp, mine.optimizers, mine.compile, mine.seeds, mine.transfer.levels) == (
        demo.imp,
        demo.optimizers,
        demo.compile,
        demo.seeds,
        demo.transfer.levels,
    )
    assert [s.tickets for s in mine.sources if s.imported] == ["runs/published/vgg_tiny-digits-sgd"]
    assert mine.reuse == ("runs/demo",)
