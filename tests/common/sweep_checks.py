"""What a finished sweep's output must hold, read back: its MLflow runs, its done records."""

from __future__ import annotations

import json
from pathlib import Path


def store_runs(out: Path, sweep: str):
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    exp = client.get_experiment_by_name(f"ltsweep/{sweep}")
    return client, client.search_runs([exp.experiment_id], max_results=5000)


def plan_keys(sweep_file: Path) -> list[str]:
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan

    plan = build_plan(load_sweep(sweep_file))
    return [t.key for t in plan.trials]


def final_accuracies(out: Path) -> dict[str, list[float]]:
    result = {}
    for done in sorted((out / "trials").glob("*/done.json")):
        record = json.loads(done.read_text())
        histories = (
            [lv["history"] for lv in record["levels"]]
            if "levels" in record
            else [record["history"]]
        )
        result[done.parent.name] = [h[-1]["test_accuracy"] for h in histories]
    return result


def assert_store_complete(out: Path, sweep_file: Path, sweep: str) -> None:
    client, runs = store_runs(out, sweep)
    by_key: dict[str, list] = {}
    for r in runs:
        by_key.setdefault(r.data.tags.get("ltsweep.trial_key"), []).append(r)
    assert all(len(v) == 1 for v in by_key.values()), "a trial key has two runs"
    assert not [r for r in runs if r.info.status == "RUNNING"], "a run was left RUNNING"
    for key in plan_keys(sweep_file):
        assert by_key[key][0].info.status == "FINISHED", key
    results = [r for r in runs if "result" in r.data.tags.get("ltsweep.role", "")]
    axes = (
        "stage",
        "kind",
        "model",
        "source_dataset",
        "source_optimizer",
        "target_dataset",
        "target_optimizer",
        "level",
        "weights_remaining",
        "seed",
        "trial_key",
    )
    for r in results:
        assert all(f"ltsweep.{a}" in r.data.tags for a in axes), r.data.tags
        history = client.get_metric_history(r.info.run_id, "test_accuracy")
        assert len({m.step for m in history}) == len(history) > 0  # one point per epoch
        last = max(history, key=lambda m: m.step)  # MLflow returns points in no set order
        assert r.data.metrics["final_test_accuracy"] == last.value
        assert "train_loss" in r.data.metrics
