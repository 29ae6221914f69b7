"""The parallel schedule's durations (``tests/common/durations.py``): a ``--junitxml`` report
becomes seconds per unit, shared and split units summed as conftest groups them, and the
stored file keeps what this run did not measure."""

from __future__ import annotations

import json
from pathlib import Path

from tests.common import durations

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
  <testcase classname="tests.test_sweep_run" name="test_a@tiny-sweep" time="10.5"/>
  <testcase classname="tests.test_storage_s3" name="test_b[x.y@z]@tiny-sweep" time="4.5"/>
  <testcase classname="tests.test_multinode"
            name="test_lost_node_server_restart_and_killed_driver@tiny-sweep" time="5"/>
  <testcase classname="tests.test_multinode.test_other@tests/test_multinode.py"
            name="test_other" time="6"/>
  <testcase classname="tests.test_multinode"
            name="test_other[p]@tests/test_multinode.py::test_other" time="1"/>
  <testcase classname="tests.test_train" name="test_one[sgd]@tests/test_train.py" time="1.25"/>
  <testcase classname="tests.test_train" name="test_two" time="0.75"/>
  <testcase classname="tests.test_ui.TestServer" name="test_in_a_class" time="3"/>
  <testcase classname="tests.test_gone" name="test_no_such_module" time="99"/>
</testsuite></testsuites>
"""


def test_junit_report_becomes_seconds_per_unit(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(JUNIT)
    measured = durations.measure(report)
    assert measured == {
        "tiny-sweep": 20.0,
        "tests/test_multinode.py::test_other": 7.0,
        "tests/test_train.py": 2.0,
        "tests/test_ui.py": 3.0,
    }, f"units measured wrongly from a junit report: {measured}"


def test_command_keeps_unmeasured_units_and_drops_removed_modules(tmp_path: Path) -> None:
    report, stored = tmp_path / "junit.xml", tmp_path / "durations.json"
    report.write_text(JUNIT)
    old = {"tests/test_train.py": 50, "tests/test_models.py": 8, "tests/test_removed.py": 30}
    old["tiny-sweep"] = 700
    stored.write_text(json.dumps({"about": "", "seconds": old}))
    assert durations.main([str(report), "--out", str(stored)]) == 0
    seconds = durations.load(stored)
    assert seconds["tests/test_train.py"] == 2.0, "a measured unit kept its old figure"
    assert seconds["tests/test_models.py"] == 8.0, "a unit this run did not measure was dropped"
    assert "tests/test_removed.py" not in seconds, "a module that no longer exists was kept"
    assert seconds["tiny-sweep"] == 20.0, "the shared group was not measured as one unit"
    assert list(seconds.values()) == sorted(seconds.values(), reverse=True), (
        f"the file is not longest first: {seconds}"
    )


def test_unreadable_report_is_one_line_exit_2(tmp_path: Path, capsys) -> None:
    stored = tmp_path / "durations.json"
    assert durations.main([str(tmp_path / "missing.xml"), "--out", str(stored)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--junitxml" in err, f"not one line naming the fix: {err!r}"
    assert not stored.exists(), "a failed refresh wrote the durations file"


def test_stored_durations_name_only_existing_units() -> None:
    """A renamed module whose old name stays in the file would silently lose its place."""
    stale = [unit for unit in durations.load() if not durations.exists(unit)]
    assert not stale, f"tests/durations.json names units that do not exist: {stale}"
