"""`ltsweep ui` in a real headless browser: the printed URL lands on the trial runs, with the
axis tags as columns (Debian's chromium; scripts/setup.sh installs it)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from ltsweep.tracking import schema as S
from ltsweep.tracking import ui_view
from tests.common import known_store
from tests.common.known_store import NAME
from tests.common.net import free_port


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The store of known values (``tests/common/known_store.py``), built once for this module."""
    return known_store.build(tmp_path_factory.mktemp("report"))


pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _browser(url: str, *mode: str) -> subprocess.CompletedProcess:
    """Headless chromium; virtual time lets the JS app fetch and render before it dumps."""
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    argv += ["--window-size=1600,1000", "--virtual-time-budget=30000", *mode, url]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


def test_printed_url_shows_trial_runs_with_axis_columns(known) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (scripts/setup.sh installs it with apt-get)")
    import mlflow

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ltsweep", "ui", NAME, "--port", str(port), "--workers", "1"],
        cwd=known["root"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        first = proc.stdout.readline()
        url = first.split(": ", 1)[1].split(" ", 1)[0]
        assert url.startswith(f"http://127.0.0.1:{port}/#/experiments/"), first
        assert "viewStateShareKey=" in url, f"the URL does not select the trial view: {url}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        client = mlflow.MlflowClient(tracking_uri=known["uri"])
        exp = client.get_experiment_by_name(S.experiment_name(NAME))
        assert exp.tags.get(ui_view.KIND_TAG) == ui_view.KIND_TRAINING, exp.tags
        dom = _browser(url, "--dump-dom").stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "Training runs" in dom, "the UI did not open the model-training runs page"
    assert S.TAG_KIND in dom, "the ltsweep.kind column is not on the page"
    runs = client.search_runs([exp.experiment_id], max_results=5000)
    names = {r.info.run_name: r.data.tags.get(S.TAG_ROLE, "") for r in runs}
    shown = {n for n in names if f">{n}<" in dom}
    assert shown and all("result" in names[n] for n in shown), f"non-trial runs shown: {shown}"
    parent = next(r.info.run_name for r in runs if r.data.tags.get(S.TAG_ROLE) == "sweep")
    assert f">{parent}<" not in dom, "the sweep's parent run is on the trial page"


def _readme_filters() -> list[str]:
    from tests.common.cli import REPO

    text = (REPO / "README.md").read_text()
    block = text.split("Ready-made filters to paste into the search box:", 1)[1]
    block = block.split("```text\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_filters_parse_and_select(known) -> None:
    """The README's filters, as the UI sends them to the server, on the known store."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=known["uri"])
    exp = client.get_experiment_by_name(S.experiment_name(NAME)).experiment_id
    filters = _readme_filters()
    assert len(filters) == 3, filters
    checks = [
        lambda t: t[S.TAG_LEVEL] == "3" and t[S.TAG_KIND] != "dense",
        lambda t: t[S.TAG_TARGET_DATASET] == "shapes" and t[S.TAG_KIND] == "random",
        lambda t: t[S.TAG_KIND] == "transferred" and t[S.TAG_SOURCE_DATASET] == "digits",
    ]
    # The known store has levels 1-3 (the demo 1-5) and two optimizers on digits (the demo: shapes).
    edits = [("'5'", "'3'"), ("'shapes'", "'shapes'"), ("'shapes'", "'digits'")]
    for text, check, (old, new) in zip(filters, checks, edits):
        query = text.replace(old, new)
        runs = client.search_runs([exp], filter_string=query, max_results=5000)
        assert runs, f"README filter selects nothing on the known store: {query}"
        assert all(check(r.data.tags) for r in runs), f"README filter selects other runs: {query}"
