"""The benchmark harness (bench/): structure of its outputs, never its timings.

Speed lives in ``python -m bench``; these tests only check that the harness runs, writes a JSON
and a Markdown table of the agreed shape, and reports a failing benchmark as a row.
"""

from __future__ import annotations

import json

import pytest
import torch

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
    assert {"train_step", "orchestration", "resume", "plan", "packing", "driver"} <= set(names)
    assert {"compile", "demo"} <= set(names), "the compile and demo benchmarks are not found"


def test_demo_benchmark_compares_the_two_seed_eager_demo_with_the_shipped_one(tmp_path):
    from bench.bench_demo import DEMO, two_seed_eager
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan

    before = build_plan(load_sweep(two_seed_eager(tmp_path)))
    shipped = build_plan(load_sweep(DEMO))
    assert before.sweep.seeds == (0, 1) and shipped.sweep.seeds == (0, 1, 2)
    assert not any(t.job.train.compile for t in before.trials), "the baseline demo compiles"
    assert all(t.job.train.compile for t in shipped.trials), "the shipped demo is not compiled"
    assert before.levels() == (1, 2, 3, 4, 5) and shipped.levels() == (1, 3, 5)
    assert (len(before.generation), len(before.transfer)) == (8, 100)


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


def test_plain_step_is_a_plain_pytorch_step():
    """The training-step baseline (``bench.bench_step.Stepper`` without a mask) is a plain PyTorch
    step, bit for bit: forward, cross-entropy, backward, optimizer step; the masked candidate
    differs from it only by the mask."""
    import torch.nn.functional as F

    from bench.bench_step import StepCase, Stepper
    from ltsweep.core.models import create_model

    case = StepCase("vgg_tiny", 16, 32)
    stepper = Stepper(case)
    stepper.seconds(3)
    torch.manual_seed(0)
    model = create_model("vgg_tiny", 10)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4, foreach=True
    )
    x, y = stepper.batches[0]
    for step in range(3):
        for group in optimizer.param_groups:
            group["lr"] = stepper.schedule.lr_at(step)
        loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    mine, theirs = stepper.model.state_dict(), model.state_dict()
    differ = [k for k in mine if not torch.equal(mine[k], theirs[k])]
    assert not differ, f"the plain step differs from a plain PyTorch step in {differ[:3]}"
    masked = Stepper(case, masked=True)
    masked.seconds(3)
    assert masked.mask is not None and abs(masked.mask.density - 0.2) < 0.01
    weights = masked.model.state_dict()
    pruned = [(weights[n] * (~m)).abs().sum() for n, m in masked.mask.items()]
    assert float(sum(pruned)) == 0.0, "pruned weights moved in the masked step"


def test_benchmark_sweeps_are_valid(tmp_path):
    from bench.bench_packing import sweep_file
    from bench.bench_resume import SWEEP
    from bench.procs import quick_variant
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan

    small = build_plan(load_sweep(SWEEP))
    assert (len(small.generation), len(small.transfer)) == (2, 8)
    quick = build_plan(load_sweep(quick_variant(SWEEP, tmp_path)))
    assert (len(quick.generation), len(quick.transfer)) == (2, 4)
    assert {t.job.train.epochs for t in quick.trials} == {3}
    path = sweep_file(tmp_path / "packing.yaml", {"cpu": 1, "gpu": 0.25}, 10)
    packing = build_plan(load_sweep(path))
    assert len(packing.transfer) == 4 and all(t.resources.gpu == 0.25 for t in packing.transfer)


@pytest.mark.parametrize("size", [100, 1000, 5000])
def test_driver_benchmark_sweep_has_about_the_size_asked(size):
    import tempfile
    from pathlib import Path

    from bench.bench_driver import LEVELS, _plan

    with tempfile.TemporaryDirectory() as tmp:
        plan = _plan(size, Path(tmp))
    per_seed = 2 + 4 * LEVELS
    assert abs(len(plan.trials) - size) <= per_seed // 2, (
        f"{size} trials asked, the driver sweep has {len(plan.trials)}"
    )
    assert {t.resources.cpu for t in plan.trials} == {1.0}, "trials must be cpu: 1 (2 at once)"


def test_driver_benchmark_null_trials_leave_real_records(tmp_path):
    """The trial body that trains nothing must leave what execute() leaves, or the driver's
    recording (read_info of every ticket, done records) would not be exercised."""
    from bench.bench_driver import loop_process
    from ltsweep.core.tickets import load_ticket
    from ltsweep.storage.done import read_done
    from ltsweep.storage.paths import SweepPaths
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan
    from ltsweep.trial_layout import ticket_dir

    result = loop_process(42, tmp_path)
    assert result["trials"] == 42 and result["wall"] > 0, f"loop process reported {result}"
    plan = build_plan(load_sweep(tmp_path / "bench_driver_42.yaml"))
    paths = SweepPaths(tmp_path)
    records = {t.key: read_done(paths, t.key) for t in plan.trials}
    missing = [k for k, r in records.items() if r is None]
    assert not missing, f"{len(missing)} trials have no done record"
    gen = plan.generation[0]
    levels = records[gen.key]["levels"]
    assert [lv["level"] for lv in levels] == list(range(gen.job.imp.levels + 1))
    ticket = load_ticket(ticket_dir(paths.trial_dir(gen.key), 3))  # verifies the sha256
    assert ticket.info.level == 3 and ticket.info.source_key == gen.key
    xfer = plan.transfer[0]
    assert records[xfer.key]["history"][0]["test_accuracy"] == 0.8


def test_driver_growth_row_compares_largest_with_500():
    from bench.bench_driver import growth_row

    row = growth_row({100: 9.0, 500: 10.0, 5000: 12.0})
    assert row["baseline_label"] == "500 trials" and row["candidate_label"] == "5000 trials"
    assert row["ratio_median"] == pytest.approx(1.2) and common.target_met(row) == "yes"
    assert growth_row({100: 1.0}) is None, "one size has no growth to report"


@pytest.mark.slow
def test_driver_benchmark_runs_end_to_end(tmp_path, monkeypatch):
    """42 trials through Tune, the gate and MLflow (the candidate process checks that every
    trial finished and is FINISHED in MLflow) against the plain loop: rows of the agreed shape."""
    monkeypatch.setenv("BENCH_DRIVER_SIZES", "42")
    code = main(["--only", "driver", "--repeats", "1", "--out", str(tmp_path)])
    assert code == 0, "the driver benchmark raised (see its log above)"
    (row,) = json.loads((tmp_path / "latest.json").read_text())["rows"]
    assert row["name"] == "driver: 42 trials" and row["candidate"] is not None
    assert row["baseline"] > 0, f"plain loop took no time per trial: {row}"


def test_orchestration_floor_runs_every_trial_after_its_ticket(tmp_path):
    """The floor (plain processes, gate order) trains every trial, each transfer only once the
    ticket it trains was on disk: else its time would not be the same work as the sweep's."""
    from bench.bench_orchestration import parallel
    from ltsweep.storage.done import read_done
    from ltsweep.storage.paths import SweepPaths
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan
    from ltsweep.trial_layout import ticket_dir

    sweep = common.REPO_ROOT / "tests" / "sweeps" / "tiny.yaml"  # any sweep: the smallest does
    out = tmp_path / "floor"
    parallel(sweep, out, workers=2)
    plan, paths = build_plan(load_sweep(sweep)), SweepPaths(out)
    records = {t.key: read_done(paths, t.key) for t in plan.trials}
    missing = [k for k, r in records.items() if r is None]
    assert not missing, f"the floor left {len(missing)} trials without a done record: {missing}"
    for t in plan.transfer:
        ticket = ticket_dir(paths.trial_dir(t.source_key), t.level) / "ticket.json"
        assert records[t.key]["started_at"] >= ticket.stat().st_mtime - 1.0, (
            f"{t.key} started before its ticket {ticket} was written"
        )
