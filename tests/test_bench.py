"""The benchmark harness (bench/): structure of its outputs, never its timings.

Speed lives in ``python -m bench``; these tests only check that the harness runs, writes a JSON
and a Markdown table of the agreed shape, and reports a failing benchmark as a row.
"""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from bench import common
from bench.__main__ import discover, main, run_module


def test_quick_run_writes_json_and_markdown(tmp_path, capsys):
    code = main(["--quick", "--only", "plan", "--out", str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / "latest.json").read_text())
    assert {"command", "machine", "rows", "modules", "started", "seconds"} <= set(report)
    assert {"cpu", "cores", "torch", "gpu"} <= set(report["machine"])
    assert report["machine"]["torch"] == torch.__version__
    (row,) = report["rows"]
    assert set(common.ROW_KEYS) <= set(row)
    assert row["name"].startswith("plan:")
    assert row["ratio_min"] <= row["ratio_median"] <= row["ratio_max"]
    assert row["machine"] == common.machine_line(report["machine"])
    md = (tmp_path / "latest.md").read_text()
    table = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert len(table) == 2 + len(report["rows"])
    assert all(ln.count(" | ") == table[0].count(" | ") for ln in table[2:])
    assert row["name"] in md and report["machine"]["cpu"] in md
    assert table[0] in capsys.readouterr().out  # the table is printed too


def test_a_failing_benchmark_becomes_a_row():
    rows, info = run_module("does_not_exist", None, quick=True)
    assert len(rows) == 1 and rows[0]["notes"].startswith("error: ModuleNotFoundError")
    assert set(common.ROW_KEYS) <= set(rows[0]) and "error" in info


def test_discovery_finds_the_benchmarks():
    names = discover()
    assert {"train_step", "orchestration", "resume", "plan", "packing"} <= set(names)


def test_interleave_alternates_and_drops_warmup():
    calls = []
    base, cand = common.interleave(
        lambda: calls.append("A") or 1.0, lambda: calls.append("B") or 2.0, repeats=3, warmup=1
    )
    assert calls == ["A", "B"] * 4
    assert base == [1.0] * 3 and cand == [2.0] * 3


def test_rows_ratios_and_targets():
    row = common.make_row("x", "m", "s", "b", [2.0, 4.0, 1.0], "c", [1.0, 1.0, 1.0], "<= 1.25")
    assert (row["ratio_median"], row["ratio_min"], row["ratio_max"]) == (0.5, 0.25, 1.0)
    assert common.target_met(row) == "yes"
    assert common.target_met({**row, "target": ">= 0.95"}) == "no"
    assert common.target_met({**row, "target": "candidate < 15"}) == "yes"
    skipped = common.not_run_row("g", "m", "u", "b", "c", ">= 2", "no GPU")
    assert common.target_met(skipped) == "-" and skipped["notes"] == "not run: no GPU"
    with pytest.raises(ValueError, match="lacks"):
        common.check_row({"name": "x"})


def test_plain_loop_matches_train_without_a_mask():
    """The training-step baseline differs from ltsweep's loop only by masking."""
    from bench.bench_train_step import CountingLoader, plain_train
    from ltsweep.core.models import create_model
    from ltsweep.core.train import train
    from tests.common import digits_loaders, tiny_train_config

    config = tiny_train_config(epochs=2)
    states = []
    for loop in ("ltsweep", "plain"):
        torch.manual_seed(0)
        model = create_model("vgg_tiny", 10)
        train_l, test_l = digits_loaders()
        train_l, test_l = CountingLoader(train_l, 5), CountingLoader(test_l, 1)
        if loop == "ltsweep":
            train(model, train_l, test_l, config)
        else:
            plain_train(model, train_l, test_l, config)
        assert train_l.images == 2 * 5 * 64
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_benchmark_sweeps_are_valid(tmp_path):
    from bench.bench_packing import sweep_dict
    from bench.bench_resume import SWEEP
    from bench.procs import quick_variant
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan

    small = build_plan(load_sweep(SWEEP))
    assert (len(small.generation), len(small.transfer)) == (2, 8)
    quick = build_plan(load_sweep(quick_variant(SWEEP, tmp_path)))
    assert (len(quick.generation), len(quick.transfer)) == (2, 4)
    assert {t.job.train.epochs for t in quick.trials} == {3}
    path = tmp_path / "packing.yaml"
    path.write_text(yaml.safe_dump(sweep_dict("vgg19", 32, 10, 128, {"cpu": 1, "gpu": 0.25})))
    packing = build_plan(load_sweep(path))
    assert len(packing.transfer) == 4 and all(t.resources.gpu == 0.25 for t in packing.transfer)
