"""`ltsweep export` against the store of known values (``tests/common/known_store.py``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ltsweep.report.export import export
from ltsweep.tracking import sweep_store
from tests.common import known_store
from tests.common.known_store import NAME


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The store of known values (``tests/common/known_store.py``), built once for this module."""
    return known_store.build(tmp_path_factory.mktemp("report"))


EPOCHS = 3  # the known store logs three epochs (steps 0-2) per result run


def test_parquet_one_row_per_trial_epoch_level(known: dict, tmp_path) -> None:
    import pandas as pd

    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    target = tmp_path / "F.parquet"
    proc = subprocess.run(
        [sys.executable, "-m", "ltsweep", "export", NAME, "--to", str(target)],
        cwd=known["root"],  # runs/known/mlflow.db is the default store from here
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"export failed: {proc.stderr}"
    epochs = pd.read_parquet(target)
    planned = {r["run_id"]: r for r in known["planned"]}
    assert len(epochs) == len(planned) * EPOCHS, "not one row per run and epoch"
    assert set(epochs.run_id) == set(planned), "FAILED/RUNNING runs leaked in or runs are missing"
    assert not epochs.duplicated(["trial_key", "level", "epoch"]).any(), "duplicate rows"
    last = epochs[epochs.epoch == 2].set_index("run_id")
    for run_id, run in planned.items():
        row = last.loc[run_id]
        assert row.test_accuracy == run["acc"], "final epoch differs from the stored metric"
        assert (row.kind, int(row.level), int(row.seed)) == (run["kind"], run["level"], run["seed"])
    scheduled = known["planned"][0]["run_id"]  # the one run with a resolution schedule
    sizes = epochs[epochs.run_id == scheduled].sort_values("epoch").train_resolution.tolist()
    assert sizes == known_store.RESOLUTIONS, f"train_resolution per epoch exported as {sizes}"
    others = epochs[epochs.run_id != scheduled].train_resolution
    assert others.isna().all(), "runs without a schedule must export no training size"
    results = pd.read_parquet(tmp_path / "F.results.parquet")
    assert len(results) == len(planned)
    assert dict(zip(results.run_id, results.final_test_accuracy)) == {
        k: r["acc"] for k, r in planned.items()
    }, "result table values differ from what the report reads"
    assert not list(tmp_path.glob(".*.tmp")), "temporary files left behind"


def test_csv_streams_in_pages(known: dict, tmp_path) -> None:
    import pandas as pd
    import pyarrow.parquet as pq

    client, exp = sweep_store.open_experiment(known["uri"], NAME)
    n = len(known["planned"])
    paged = export(client, exp, tmp_path / "e.parquet", page_size=7)
    groups = pq.ParquetFile(paged.epochs).num_row_groups
    assert groups == -(-n // 7), f"{groups} row groups: the export did not stream page by page"
    assert paged.epoch_rows == n * EPOCHS and paged.result_rows == n
    as_csv = export(client, exp, tmp_path / "e.csv", fmt="csv", page_size=50)
    a = pd.read_csv(as_csv.epochs).sort_values(["run_id", "epoch"]).reset_index(drop=True)
    b = pd.read_parquet(paged.epochs).sort_values(["run_id", "epoch"]).reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    assert (a.test_accuracy.to_numpy() == b.test_accuracy.to_numpy()).all(), "CSV != Parquet"


def test_format_and_suffix_must_agree(known: dict, tmp_path, capsys) -> None:
    from ltsweep import cli

    code = cli.main(
        [
            "export",
            NAME,
            "--tracking-uri",
            known["uri"],
            "--to",
            str(tmp_path / "x.csv"),
            "--format",
            "parquet",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "make them agree" in err and "\n" not in err, err
    assert not list(tmp_path.iterdir()), "something was written for bad input"


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__]))
