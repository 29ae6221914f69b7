"""`ltsweep report` against an MLflow store whose values are known.

The store follows ``ltsweep.tracking.schema``: one model, three configurations (digits/sgd,
digits/adam, shapes/sgd) that are both sources and targets, three levels, two seeds, the
``same`` / ``random`` / ``dense`` controls, one FAILED and one RUNNING run, one point missing
entirely (shapes/sgd -> digits/sgd at level 2) and one with a single seed.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ltsweep import cli
from ltsweep.errors import UserError
from ltsweep.report.build import build_report
from ltsweep.tracking.sweep_store import locate
from tests.common.known_store import MODEL, NAME, SEEDS


def test_index_html_and_mlflow_artifacts(known: dict, report) -> None:
    import mlflow

    page = (report.out_dir / "index.html").read_text()
    for f in report.all_figures:
        for rel in f.files:
            assert f'href="{rel}"' in page
        assert f'src="{f.files[0]}"' in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch: offline
    assert 'href="summary.csv"' in page and "<table" in page
    client = mlflow.MlflowClient(tracking_uri=known["uri"])
    logged = {a.path for a in client.list_artifacts(known["parent"], "report")}
    assert {"report/index.html", "report/summary.csv", "report/figures"} <= logged
    assert report.parent_run_id == known["parent"]


def test_cli_in_subprocess_uses_default_store(known: dict, report) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    out = known["root"] / "cli_report"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ltsweep",
            "report",
            f"search_spaces/{NAME}.yaml",
            "--report-dir",
            str(out),
            "--sparsity",
            "50%",
            "--no-mlflow-log",
        ],
        cwd=known["root"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert str(out / "index.html") in proc.stdout
    assert (out / "summary.csv").read_bytes() == (report.out_dir / "summary.csv").read_bytes()
    assert sorted(p.name for p in (out / "figures").glob("matrix__*.png")) == [
        f"matrix__{MODEL}__level01.png"
    ]


def test_errors_are_one_line(tmp_path: Path, monkeypatch, capsys, known: dict) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert cli.main(["report", "nothing"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no MLflow store at" in err and "no sweep named 'nothing'" in err, err
    assert "\n" not in err, err
    assert not (tmp_path / "runs").exists()  # nothing created by looking
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not an ltsweep report"):
        build_report(
            NAME, out_dir=tmp_path / "keep", tracking_uri=known["uri"], log_to_mlflow=False
        )
    assert (tmp_path / "keep" / "notes.txt").read_text() == "mine"
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args(["report", NAME, "--sparsity", "2"])
    assert exit_info.value.code == 2 and "not in (0, 1]" in capsys.readouterr().err


def test_store_resolution(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    here = tmp_path.resolve()
    # No sweep file (e.g. a store copied from a cluster): the argument or a path's stem is the name.
    where = locate("nosuchsweep")
    assert where.name == "nosuchsweep" and where.file is None
    assert where.tracking_uri == f"sqlite:///{here}/runs/nosuchsweep/mlflow.db"
    assert locate("elsewhere/nosuchsweep.yaml").name == "nosuchsweep"
    assert locate("x", sweep_out=tmp_path / "o").tracking_uri == f"sqlite:///{here}/o/mlflow.db"
    # A sweep file gives the name and tracking_uri, as `ltsweep run` reads them.
    demo = Path(__file__).resolve().parents[1] / "search_spaces" / "demo.yaml"
    if demo.is_file():
        (tmp_path / "search_spaces").mkdir()
        text = "name: renamed\ntracking_uri: sqlite:///custom.db\n" + demo.read_text()
        (tmp_path / "search_spaces" / "mine.yaml").write_text(text)
        where = locate("mine")
        assert (where.name, where.tracking_uri) == ("renamed", "sqlite:///custom.db")
        assert where.out == here / "runs" / "renamed"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert locate("x").tracking_uri == "http://127.0.0.1:5000"
    assert locate("x", tracking_uri="sqlite:///a.db").tracking_uri == "sqlite:///a.db"


def test_out_means_the_sweep_output_everywhere(known: dict, capsys) -> None:
    """`report --out X` reads the sweep run with `run --out X`; `--sweep-out` still works, warned."""
    sweep_out = known["root"] / "runs" / NAME
    report_dir = known["root"] / "flag_report"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    argv = ["report", NAME, "--out", str(sweep_out), "--report-dir", str(report_dir)]
    proc = subprocess.run(
        [sys.executable, "-m", "ltsweep", *argv, "--no-mlflow-log"],
        cwd=known["root"] / "runs",  # not where runs/known is: only --out can find the store
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, f"report --out <sweep dir> failed: {proc.stderr}"
    assert (report_dir / "index.html").is_file(), "the report did not go to --report-dir"
    assert "deprecated" not in proc.stderr, "the new spelling must not warn"
    for command in ("report", "ui", "export"):
        args = cli.build_parser().parse_args([command, NAME, "--sweep-out", "old"])
        assert args.out == "old", f"{command}: --sweep-out no longer sets the sweep output"
        err = capsys.readouterr().err
        assert "--sweep-out is deprecated" in err and "use --out" in err, err
        args = cli.build_parser().parse_args([command, NAME, "--out", "new"])
        assert args.out == "new", f"{command}: --out is not the sweep output directory"
        # Kept as text: a Path would fold s3://b/p into a local directory s3:/b/p.
        args = cli.build_parser().parse_args([command, NAME, "--out", "s3://b/p?scheme=http"])
        assert args.out == "s3://b/p?scheme=http", f"{command}: --out mangled a URI: {args.out}"


def test_claims_and_paired_differences(known: dict, report) -> None:
    import html as html_lib

    page = (report.out_dir / "index.html").read_text()
    top = page.index("What this sweep found")
    assert top < page.index("<figure"), "the claim lines are not at the top of index.html"
    assert len(report.claims) == 6
    assert all(
        "weights remaining (the level nearest report.sparsity 5%)" in c for c in report.claims[:2]
    )
    for line in report.claims:
        assert html_lib.escape(line) in page, f"claim line missing from the page: {line}"
    with open(report.out_dir / "differences.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(report.differences) > 0
    # same − random on digits/sgd at level 3, paired by seed, by hand (t quantile, 1 dof)
    tgt = ("digits", "sgd")
    by_seed = {
        (r["kind"], r["seed"]): r["acc"]
        for r in known["planned"]
        if r["tgt"] == tgt and r["level"] == 3 and r["kind"] in ("same", "random")
    }
    diffs = [by_seed["same", s] - by_seed["random", s] for s in SEEDS]
    mean = sum(diffs) / 2
    half = 12.706204736174698 * abs(diffs[0] - diffs[1]) / math.sqrt(2) / math.sqrt(2)
    row = next(
        r
        for r in rows
        if (r["target"], r["level"], r["a"], r["b"]) == ("digits/sgd", "3", "same", "random")
    )
    assert float(row["mean"]) == pytest.approx(mean * 100, rel=1e-9), "not in points"
    assert float(row["ci_low"]) == pytest.approx((mean - half) * 100, rel=1e-9)
    assert float(row["ci_high"]) == pytest.approx((mean + half) * 100, rel=1e-9)
    assert row["unit"] == "points"
    one = next(
        r
        for r in rows
        if (r["target"], r["level"], r["a"]) == ("shapes/sgd", "3", "from digits/adam")
        and r["b"] == "same"
    )
    assert (
        one["n_seeds"] == "1" and one["verdict"] == "inconclusive (1 seed)" and one["ci_low"] == ""
    )
    assert (report.out_dir / "claims.csv").stat().st_size > 100


def _blank_folder(root: Path) -> Path:
    """Three classes of the same grey image: nothing can be learned, every network is at 1/3."""
    from PIL import Image

    for name in ("a", "b", "c"):
        (root / name).mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (8, 8), (128, 128, 128)).save(root / name / f"{i}.png")
    return root


def _accuracy(axes) -> float:
    """Test accuracies by the typed axes: chance on the blank folder, a learnable digits half."""
    if axes.target.name == "blank":
        return 1 / 3
    noise = axes.seed * 0.002
    return {"same": 0.90, "transferred": 0.899, "random": 0.60, "dense": 0.92}[axes.kind] + noise


def test_halves_and_a_target_at_chance(tmp_path: Path, monkeypatch) -> None:
    """Two halves of digits and an image folder where nothing can be learned, done without
    training and recorded as ``run`` records them: the half-to-half transfer is the
    same-distribution control, never "another dataset"; nothing on the folder supports a claim;
    the claims are tested at the sweep's report.sparsity."""
    import json

    from ltsweep.storage.paths import SweepPaths
    from ltsweep.sweep.config import load_sweep
    from ltsweep.sweep.plan import build_plan
    from tests.common.done_trials import record_plan

    monkeypatch.setenv("LTSWEEP_CACHE", str(tmp_path / "cache"))
    half = {"dataset": "digits", "batch_size": 32, "schedule": {"epochs": 1}, "workers": 0}
    folder = {"kind": "image_folder", "path": str(_blank_folder(tmp_path / "blank"))}
    folder |= {"image_size": 16, "test_fraction": 0.5, "batch_size": 8, "schedule": {"epochs": 1}}
    sgd = "sgd"
    sweep = {
        "name": "floor",
        "models": [{"name": "vgg_tiny"}],
        "datasets": {"digits_a": {**half, "half": "a"}, "digits_b": {**half, "half": "b"}},
        "optimizers": {sgd: {"lr": 0.05}},
        "sources": [{"dataset": "digits_a", "optimizer": sgd}],
        "targets": [
            {"dataset": "digits_b", "optimizer": sgd},
            {"dataset": "blank", "optimizer": sgd},
        ],
        "imp": {"levels": 2, "rate": 0.2},
        "seeds": [0, 1, 2],
        "report": {"sparsity": 0.64, "margin_points": 1.0},
    }
    sweep["datasets"]["blank"] = folder
    file, out = tmp_path / "floor.yaml", tmp_path / "out"
    file.write_text(json.dumps(sweep))
    out.mkdir()
    uri = f"sqlite:///{out / 'mlflow.db'}"
    record_plan(build_plan(load_sweep(file)), SweepPaths(out), uri, _accuracy)
    report = build_report(str(file), tracking_uri=uri, sweep_out=out, log_to_mlflow=False)
    table = pd.read_csv(report.out_dir / "claims.csv")
    assert {"unit", "raw_verdict", "verdict", "chance", "test_size", "p_holds"} <= set(table)
    assert set(table.unit) == {"points"} and set(table.weights_remaining) == {0.64}
    control = table[table.claim == "same_distribution_control"]
    other = table[table.claim == "transfer_matches_own"]
    assert list(control.a_source) == ["digits_a/sgd"] and list(control.target) == ["digits_b/sgd"]
    assert "digits_b/sgd" not in set(other.target), (
        "a half-to-half transfer filed as another dataset"
    )
    blank = table[table.target == "blank/sgd"]
    assert len(blank) and not blank.supports.any(), blank[["claim", "verdict"]]
    assert all(v.startswith("uninformative") for v in blank.verdict), set(blank.verdict)
    assert (blank.chance.round(4) == 33.3333).all() and (blank.test_size == 9).all(), blank
    assert all(
        "at 64% weights remaining" in line for line in report.claims if "not tested" not in line
    )


def test_report_settings_are_sweep_keys(tmp_path: Path) -> None:
    """``report.sparsity`` and ``report.margin_points`` (0 means 0) are read from the sweep file;
    a sparsity outside (0, 1] is refused naming its key."""
    import yaml

    from ltsweep.sweep.config import load_sweep

    base = yaml.safe_load((Path(__file__).parent / "sweeps" / "tiny.yaml").read_text())
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**base, "report": {"sparsity": 0.1, "margin_points": 0}}))
    settings = load_sweep(path).report
    assert (settings.sparsity, settings.margin_points) == (0.1, 0.0), settings
    path.write_text(yaml.safe_dump({**base, "report": {"sparsity": 0}}))
    with pytest.raises(UserError, match=r"report\.sparsity"):
        load_sweep(path)
