"""The command line answers at once: ``--help``, every ``<cmd> --help``, ``status`` and a bad
sweep file for every sweep command run without importing torch, Ray or MLflow (each costs
seconds of CPU on import), checked in a fresh interpreter with the module table and its CPU time.

CPU time, not wall time: a loaded 2-core machine stretches wall time, not the work done.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from tests.common.cli import REPO

HEAVY = ("torch", "ray", "mlflow", "pandas", "matplotlib", "sklearn")
COMMANDS = ("run", "plan", "status", "report", "export", "ui", "ticket", "data")
SWEEP_COMMANDS = ("run", "plan", "status", "report", "export", "ui")
CPU_BUDGET_S = 1.5  # all the cases below together; importing torch alone takes ~1 s of CPU

PROBE = textwrap.dedent(
    """
    import contextlib, io, json, resource, sys, time

    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    from ltsweep import cli
    heavy = {heavy!r}
    cases = json.loads(sys.argv[1])
    seen = []
    for argv in cases:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as exc:  # --help exits through argparse
                code = exc.code
        loaded = sorted(m for m in heavy if m in sys.modules)
        seen.append({{"argv": argv, "code": code, "loaded": loaded, "out": out.getvalue(),
                      "err": err.getvalue()}})
    print(json.dumps({{"cases": seen, "cpu": cpu()}}))
    """
).format(heavy=HEAVY)


def _probe(cases: list[list[str]], cwd: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(cases)],
        cwd=cwd,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(cwd)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"the probe failed: {done.stderr[-2000:]}"
    return json.loads(done.stdout)


def _check(result: dict) -> None:
    for case in result["cases"]:
        assert not case["loaded"], (
            f"`ltsweep {' '.join(case['argv'])}` imported {case['loaded']}: a command imports "
            "torch/Ray/MLflow only once its work needs them"
        )
    assert result["cpu"] < CPU_BUDGET_S, (
        f"{len(result['cases'])} CLI cases took {result['cpu']:.2f} s of CPU in one process "
        f"(budget {CPU_BUDGET_S} s): something heavy is imported on the way"
    )


def test_help_of_every_command_imports_nothing_heavy(tmp_path: Path) -> None:
    cases = [["--help"], *([c, "--help"] for c in COMMANDS), ["data", "list", "--help"]]
    result = _probe(cases, tmp_path)
    for case in result["cases"]:
        assert case["code"] == 0 and "usage:" in case["out"], case
    _check(result)


def test_bad_sweep_files_and_status_answer_without_the_engine(tmp_path: Path) -> None:
    cfg = yaml.safe_load((REPO / "tests" / "sweeps" / "tiny.yaml").read_text())
    cfg["models"][0]["name"] = "vgg_tiyn"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    typo = tmp_path / "typo.yaml"
    typo.write_text("models: [{name: vgg_tiny}]\nseedz: [0]\n")
    out = tmp_path / "out"
    out.mkdir()  # an output directory with no trial done yet: status reads every record
    cases = [[c, str(bad)] for c in SWEEP_COMMANDS]
    cases += [["plan", str(typo)], ["status", "demo", "--out", str(out)], ["plan", "demo"]]
    result = _probe(cases, tmp_path)
    *bad_cases, typo_case, status, plan = result["cases"]
    for case in bad_cases:
        assert case["code"] == 2 and "did you mean 'vgg_tiny'" in case["err"], case
    assert typo_case["code"] == 2 and "did you mean 'seeds'" in typo_case["err"], typo_case
    # the demo's generation count comes from its sweep file, not from this test
    assert status["code"] == 0 and re.search(r"generate\s+0/\d+ done", status["out"]), status
    assert plan["code"] == 0 and "sweep demo" in plan["out"], plan
    _check(result)
