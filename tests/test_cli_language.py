"""One command-line language, replayed through the real CLI on one finished tiny sweep:

``--out`` finds the sweep's output (and its MLflow store) in every command; the follow-up commands
``run`` prints carry that ``--out`` and work when pasted; ``--data-root`` and ``--tracking-uri``
are accepted by every sweep command; a sweep with no output says so and where it looked; a
typo'd sweep name or subcommand gets "did you mean"; a closed pipe ends output quietly; and
"trial" (a unit of scheduled work) and "result" (one trained network) are counted apart.
(``ui`` printing its URL once the server answers: tests/test_ui.py.)

The sweep is the session's ``tiny_sweep`` (run once by ``conftest.py``); every command here
only reads it, or works on a copy of its store.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

from ltsweep import cli
from tests.common.cli import REPO, _cli_env, ltsweep

TINY = REPO / "tests" / "sweeps" / "tiny.yaml"
SWEEP_COMMANDS = ("run", "plan", "status", "report", "export", "ui")
TINY_TRIALS = 8  # 2 generation + 6 transfer trials
TINY_RESULTS = 12  # each generation trial: one result per level 0..2; each transfer trial: one


def _hints(stdout: str) -> dict[str, list[str]]:
    """The follow-up commands ``run`` printed, by subcommand: ``{"report": [argv...], ...}``."""
    line = next(x for x in stdout.splitlines() if x.startswith("ltsweep: next:"))
    commands = [shlex.split(part) for part in line.split("`")[1::2]]
    return {argv[1]: argv for argv in commands}


def test_run_prints_follow_ups_with_its_out_and_they_work_pasted(tiny_sweep, tmp_path) -> None:
    """`report SWEEP --out DIR` (pasted) reads DIR/mlflow.db and counts results (trained
    networks), where status counts trials."""
    out, result, _ = tiny_sweep
    hints = _hints(result.stdout)
    assert set(hints) >= {"status", "report", "ui"}, result.stdout
    for name, argv in hints.items():
        assert argv[argv.index("--out") + 1] == str(out.resolve()), (
            f"the printed `ltsweep {name}` hint does not carry the run's --out: {argv}"
        )
    elsewhere = tmp_path / "elsewhere"  # pasted in another directory: no runs/ there
    elsewhere.mkdir()
    status = ltsweep(*hints["status"][1:], "--json", cwd=elsewhere, timeout=120)
    assert status.returncode == 0, f"pasted status hint failed: {status.stderr}"
    counts = json.loads(status.stdout)
    assert sum(c["done"] for c in counts.values()) == TINY_TRIALS, counts
    report_dir = tmp_path / "report"
    report = ltsweep(
        *hints["report"][1:], "--report-dir", str(report_dir), "--no-mlflow-log", cwd=elsewhere
    )
    assert report.returncode == 0, f"pasted report hint failed: {report.stderr}"
    assert (report_dir / "index.html").is_file(), "the pasted report hint wrote no report"
    assert f"({TINY_RESULTS} finished results," in report.stdout, report.stdout


def test_export_finds_the_store_by_name_under_out_and_counts_results(tiny_sweep, tmp_path) -> None:
    """`export NAME --out DIR` with no sweep file of that name (a store copied from a cluster):
    the store under DIR decides; one row per result."""
    out, _, _ = tiny_sweep
    to = tmp_path / "x" / "epochs.csv"  # "tiny" is no file in search_spaces/
    got = ltsweep("export", "tiny", "--out", str(out), "--to", str(to), cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    results = to.with_name("epochs.results.csv")
    rows = results.read_text().strip().splitlines()
    assert len(rows) - 1 == TINY_RESULTS, f"{results} has {len(rows) - 1} rows, not one per result"
    assert "one per result" in got.stdout and "per trial" not in got.stdout, got.stdout


def test_status_without_output_says_so_and_where_it_looked(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["status", str(TINY)]) == 2
    err = capsys.readouterr().err.strip()
    where = tmp_path / "runs" / "tiny"
    assert f"has no output at {where}" in err and "--out" in err and "\n" not in err, err


def test_common_flags_mean_the_same_in_every_sweep_command(tmp_path, monkeypatch) -> None:
    """Every sweep command accepts --out, --data-root and --tracking-uri, and resolves the sweep's
    output and store from them the same way (the engine's ``load_context``, the store readers'
    ``locate``)."""
    from ltsweep.sweep.context import load_context
    from ltsweep.tracking.sweep_store import locate

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out, uri = tmp_path / "o", "sqlite:////elsewhere/mlflow.db"
    flags = ["--out", str(out), "--data-root", str(tmp_path), "--tracking-uri", uri]
    for command in SWEEP_COMMANDS:
        args = cli.build_parser().parse_args([command, str(TINY), *flags])
        assert (args.out, args.data_root, args.tracking_uri) == (str(out), str(tmp_path), uri)
        if command in ("report", "export", "ui"):
            where = locate(args.sweep, args.out, args.tracking_uri)
            got = (where.out, where.tracking_uri)
        else:
            ctx = load_context(args)
            got = (ctx.paths.out, ctx.tracking_uri)
            assert ctx.plan.generation[0].job.data.data_root == str(tmp_path), command
        assert got == (out, uri), f"{command} resolves {got}, not {(out, uri)}"
    args = cli.build_parser().parse_args(["status", str(TINY), "--out", str(out)])
    assert load_context(args).tracking_uri == f"sqlite:///{out / 'mlflow.db'}"


@pytest.mark.parametrize("command", SWEEP_COMMANDS)
def test_a_typo_in_a_sweep_name_gets_did_you_mean(command, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert cli.main([command, "dmeo"]) == 2
    err = capsys.readouterr().err
    assert "no sweep named 'dmeo' (did you mean 'demo'?)" in err and "available:" in err, err
    assert not (tmp_path / "runs").exists(), "looking for a sweep created its output"


def test_a_typo_in_a_subcommand_gets_did_you_mean(capsys) -> None:
    for argv, wanted in ((["stauts", "demo"], "status"), (["data", "lsit"], "list")):
        with pytest.raises(SystemExit) as stop:
            cli.main(argv)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and f"did you mean {wanted!r}?" in err, err


def test_a_closed_pipe_ends_output_quietly(tmp_path) -> None:
    """`ltsweep plan demo --trials | head`: the reader is gone before the first line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ltsweep", "plan", "demo", "--trials"],
        cwd=tmp_path,
        env=_cli_env(None),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # as `head` does once it has its lines
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and err == "", f"exit {proc.returncode}: {err}"
