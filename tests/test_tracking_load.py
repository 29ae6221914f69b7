"""The MLflow SQLite store under load: many short trials finishing together, through the real
CLI, lose no metric point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.common.cli import REPO, ltsweep
from tests.common.sweep_checks import assert_store_complete, store_runs

LOAD = REPO / "tests" / "sweeps" / "load.yaml"


@pytest.mark.slow
def test_16_fractional_trials_eight_at_a_time_keep_every_metric_point(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = ltsweep("run", str(LOAD), "--out", str(out), "--num-cpus", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[generate] 4/4 done" in result.stdout and "[transfer] 12/12 done" in result.stdout
    assert_store_complete(out, LOAD, "load")
    client, runs = store_runs(out, "load")
    expected, logged = 0, 0
    for done in out.glob("trials/*/done.json"):
        record = json.loads(done.read_text())
        histories = [lv["history"] for lv in record.get("levels", [])] or [record["history"]]
        expected += sum(len(h) for h in histories) * 5  # five per-epoch metrics per epoch
    for r in runs:
        if "result" in r.data.tags.get("ltsweep.role", ""):
            for name in ("test_accuracy", "test_loss", "train_loss", "train_accuracy", "lr"):
                logged += len(client.get_metric_history(r.info.run_id, name))
    assert logged == expected > 0
