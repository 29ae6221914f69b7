"""Which results a report holds (``ltsweep.report.collect``): summary.csv exactly as the store
holds them; and by the plan ``run`` records in the store (``ltsweep.storage.plan_keys``), exactly
the current plan's results, each once, in ``report``, ``export``, ``status`` and ``ui`` alike,
even when the sweep file changed between two runs into one --out, and from a store copied
without its sweep file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ltsweep.errors import UserError
from ltsweep.storage.paths import SweepPaths
from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.plan import Plan, build_plan
from ltsweep.tracking import schema
from tests.common.done_trials import record_plan
from tests.common.known_store import NAME

DATA = {"image_size": 16, "batch_size": 64, "schedule": {"epochs": 1}, "workers": 0}
CONFIGS = [{"dataset": "digits", "optimizer": "sgd"}, {"dataset": "shapes", "optimizer": "sgd"}]


def _sweep(shapes_epochs: int) -> dict:
    return {
        "name": "edited",
        "models": [{"name": "vgg_tiny"}],
        "datasets": {"digits": DATA, "shapes": {**DATA, "schedule": {"epochs": shapes_epochs}}},
        "optimizers": {"sgd": {"lr": 0.05}},
        "sources": CONFIGS,
        "targets": CONFIGS,
        "imp": {"levels": 2, "rate": 0.2, "rewind_epochs": 1},
        "seeds": [0],
        "report": {"margin_points": 2.5},
    }


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One --out, two runs: the second after shapes' schedule was edited (its generation trial
    and every transfer from or onto it get new keys)."""
    root = tmp_path_factory.mktemp("edited")
    file, out = root / "edited.yaml", root / "out"
    out.mkdir()
    paths, uri = SweepPaths(out), f"sqlite:///{out / 'mlflow.db'}"
    plans: list[Plan] = []
    for epochs in (1, 2):
        file.write_text(json.dumps(_sweep(epochs)))  # JSON is YAML
        plans.append(build_plan(load_sweep(file)))
        record_plan(plans[-1], paths, uri)
    from ltsweep.tracking.axes import planned_results

    old, new = (planned_results(p.keys()) for p in plans)
    return {"file": file, "out": out, "uri": uri, "paths": paths, "old": old, "new": new}


def test_an_edited_sweep_reports_only_its_current_plan(edited: dict) -> None:
    from ltsweep.report.build import build_report

    gone = edited["old"] - edited["new"]
    assert gone and edited["old"] & edited["new"], "the edit should keep some keys, drop others"
    report = build_report(
        str(edited["file"]),
        tracking_uri=edited["uri"],
        sweep_out=edited["out"],
        log_to_mlflow=False,
    )
    with open(report.out_dir / "summary.csv", newline="") as fh:
        keys = [row["trial_key"] for row in csv.DictReader(fh)]
    assert sorted(keys) == sorted(edited["new"]), (
        f"summary.csv must hold one row per result of the current plan ({len(edited['new'])}), "
        f"got {len(keys)} rows, {len(set(keys) - edited['new'])} of them from the earlier plan"
    )
    assert (report.earlier, report.planned) == (len(gone), len(edited["new"])), (
        f"earlier {report.earlier} (want {len(gone)}), planned {report.planned}"
    )
    line = f"{len(gone)} results of an earlier version of this sweep are not shown"
    page = (report.out_dir / "index.html").read_text()
    assert line in page, f"the report page does not say {line!r}"


def test_a_copied_store_without_its_sweep_file_keeps_the_selection(
    edited: dict, tmp_path: Path
) -> None:
    """By name alone (no sweep file resolves), the store's recorded plan still selects."""
    from ltsweep.report.build import build_report

    report = build_report(
        "edited",
        out_dir=tmp_path / "report",
        tracking_uri=edited["uri"],
        sweep_out=edited["out"],
        log_to_mlflow=False,
    )
    assert set(report.summary.trial_key) == edited["new"], "the copied store mixed plans"
    assert report.margin_points == 2.5, "the report settings recorded with the plan were not used"


def test_export_and_ui_select_the_same_results(edited: dict, tmp_path: Path) -> None:
    import mlflow

    from ltsweep.report.export import export
    from ltsweep.storage.plan_keys import read_plan_keys
    from ltsweep.tracking import schema, ui_view

    client = mlflow.MlflowClient(tracking_uri=edited["uri"])
    exp = client.get_experiment_by_name(schema.experiment_name("edited")).experiment_id
    plan = read_plan_keys(edited["paths"])
    done = export(client, exp, tmp_path / "e.csv", "csv", plan=plan)
    gone = len(edited["old"] - edited["new"])
    assert (done.result_rows, done.earlier) == (len(edited["new"]), gone), done
    hidden = ui_view.ensure_tags(client, exp, plan)
    shown = client.search_runs([exp], ui_view.PLAN_FILTER, max_results=1000)
    keys = {r.data.tags[schema.TAG_TRIAL_KEY] for r in shown}
    assert (keys, hidden) == (edited["new"], gone), (
        f"the UI's view shows {len(keys)} results and hides {hidden}; want the plan's "
        f"{len(edited['new'])} and {gone} hidden"
    )


def test_one_result_never_counts_twice(edited: dict, tmp_path: Path) -> None:
    """A second FINISHED run of a result key (two drivers racing) is counted once: the first."""
    import mlflow

    from ltsweep.report.build import build_report
    from ltsweep.tracking import schema

    client = mlflow.MlflowClient(tracking_uri=edited["uri"])
    exp = client.get_experiment_by_name(schema.experiment_name("edited")).experiment_id
    key = sorted(edited["new"])[0]
    first = client.search_runs([exp], f"tags.`{schema.TAG_TRIAL_KEY}` = '{key}'")[0]
    twin = client.create_run(exp, tags=first.data.tags).info.run_id
    client.log_metric(twin, schema.FINAL_ACCURACY, 0.123)
    client.set_terminated(twin)
    report = build_report(
        str(edited["file"]),
        out_dir=tmp_path / "report",
        tracking_uri=edited["uri"],
        sweep_out=edited["out"],
        log_to_mlflow=False,
    )
    rows = report.summary[report.summary.trial_key == key]
    assert len(rows) == 1 and rows.run_id.iloc[0] == first.info.run_id, (
        f"result {key} counted {len(rows)} times (or from its later twin)"
    )
    assert report.repeated == 1, f"the repeated run is not counted apart ({report.repeated})"
    client.delete_run(twin)


def test_a_damaged_plan_record_is_one_line(edited: dict, tmp_path: Path) -> None:
    from ltsweep.storage.plan_keys import PLAN_FILE, read_plan_keys

    copy = tmp_path / "copy"
    copy.mkdir()
    raw = json.loads((edited["out"] / PLAN_FILE).read_text())
    raw["transfer"] = raw["transfer"][1:]  # a key lost: its digest no longer matches
    (copy / PLAN_FILE).write_text(json.dumps(raw))
    with pytest.raises(UserError, match=r"damaged.*ltsweep run"):
        read_plan_keys(SweepPaths(copy))


def test_status_of_a_copied_store_counts_its_recorded_plan(edited: dict, tmp_path: Path) -> None:
    from tests.common.cli import ltsweep_quick

    result = ltsweep_quick("status", "edited", "--out", str(edited["out"]), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    generation = len({k.split("/")[0] for k in edited["new"] if k.startswith("g-")})
    transfer = len({k for k in edited["new"] if k.startswith("t-")})
    assert counts["generate"]["done"] == generation and counts["transfer"]["done"] == transfer, (
        f"status without the sweep file counted {counts}; the recorded plan has {generation} "
        f"generation and {transfer} transfer trials, all done"
    )
    assert sum(counts["transfer"].values()) == transfer, "trials of the earlier plan were counted"


def test_summary_csv_matches_store_exactly(known: dict, report) -> None:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=known["uri"])
    exp = client.get_experiment_by_name(schema.experiment_name(NAME)).experiment_id
    store = {r.info.run_id: r for r in client.search_runs([exp], max_results=5000)}
    with open(report.out_dir / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(known["planned"])  # FAILED, RUNNING and non-result runs left out
    assert {r["run_id"] for r in rows} == {r["run_id"] for r in known["planned"]}
    assert not {r["run_id"] for r in rows} & known["excluded"]
    for row in rows:
        run = store[row["run_id"]]
        assert run.info.status == "FINISHED"
        for col in (
            "model",
            "kind",
            "source_dataset",
            "source_optimizer",
            "target_dataset",
            "target_optimizer",
            "level",
            "seed",
            "stage",
            "trial_key",
        ):
            assert row[col] == run.data.tags[f"ltsweep.{col}"], col
        assert float(row["weights_remaining"]) == float(run.data.tags[schema.TAG_WEIGHTS_REMAINING])
        for col, key in (
            ("final_test_accuracy", schema.FINAL_ACCURACY),
            ("best_test_accuracy", schema.BEST_ACCURACY),
            ("final_test_loss", "test_loss"),
            ("final_train_loss", "train_loss"),
            ("final_train_accuracy", "train_accuracy"),
        ):
            assert float(row[col]) == run.data.metrics[key], col  # exact, not approximate
