"""Test settings shared by every test: one CPU thread, deterministic kernels, fixed seeds.

One thread because the suite runs on 2-core machines next to other work: a second thread buys
little for these tiny models, and results that must be bit-identical (resume, determinism) then
cannot depend on how the machine splits a reduction.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

# ``from tests.common import ...`` works however pytest was started (tests/ has no __init__.py).
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True, warn_only=True)
torch.backends.cudnn.benchmark = False
torch.backends.cudnn.deterministic = True


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    """Every test starts from the same global RNG state, whatever ran before it."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def tiny_imp(tmp_path_factory: pytest.TempPathFactory):
    """One finished tiny IMP run (vgg_tiny on digits at 8 px), shared by IMP/transfer/ticket tests."""
    from ltsweep.core.imp import IMPRun
    from tests.common import tiny_generation_job

    job = tiny_generation_job()
    workdir = tmp_path_factory.mktemp("imp")
    results = IMPRun(job, workdir).run()
    return job, workdir, results


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory: pytest.TempPathFactory):
    """tests/sweeps/tiny.yaml run once, uninterrupted, by the real CLI on a private 2-CPU Ray:
    ``(out, the CompletedProcess, seconds)``. The uninterrupted results that the kill/resume
    tests on disk and on S3 compare against (one run for the session: a sweep is ~a minute)."""
    import time

    from tests.cli_helpers import REPO, ltsweep

    out = tmp_path_factory.mktemp("tiny") / "out"
    started = time.time()
    tiny = REPO / "tests" / "sweeps" / "tiny.yaml"
    result = ltsweep("run", str(tiny), "--out", str(out), "--num-cpus", "2", timeout=1800)
    assert result.returncode == 0, f"the reference run failed: {result.stdout}{result.stderr}"
    return out, result, time.time() - started


# -- scheduling on xdist workers (``make test``: ``-n 2 --dist loadgroup --no-loadscope-reorder``)
# A module is one unit of work (its module fixtures run once), except that the modules sharing
# the session's ``tiny_sweep`` reference go to one worker (it is computed once there), and the
# cluster tests, each re-executed in a namespace of its own, are units of their own. Units start
# longest first, so that no long unit starts last and runs alone on an idle machine.
SHARED_GROUPS = {
    "tests/test_sweep_run.py": "tiny-sweep",
    "tests/test_storage_s3.py": "tiny-sweep",
    "tests/test_multinode.py::test_lost_node_server_restart_and_killed_driver": "tiny-sweep",
}
SPLIT_MODULES = ("tests/test_multinode.py",)
# Seconds per unit under ``make test`` on a 2-core machine (pytest --durations, 2026-12-02);
# only their order matters, and units not listed start after these, in file order.
UNIT_SECONDS = {
    "tiny-sweep": 700,
    "tests/test_multinode.py::test_sweep_on_a_three_node_cluster_through_an_mlflow_server": 180,
    "tests/test_train_runner.py": 155,
    "tests/test_multinode.py::test_ray_job_submit_status_while_it_runs_and_stop_leaves_it_resumable": 99,
    "tests/test_real_fashion.py": 99,
    "tests/test_sweep_load.py": 60,
    "tests/test_report.py": 51,
    "tests/test_ffcv.py": 49,
    "tests/test_science.py": 44,
    "tests/test_tune_retry.py": 42,
    "tests/test_bad_input.py": 40,
    "tests/test_bench.py": 50,
    "tests/test_storage_gcs.py": 31,
    "tests/test_crash_safety.py": 29,
    "tests/test_schedule.py": 25,
    "tests/test_ui_browser.py": 25,
}


def _unit(item: pytest.Item) -> str:
    module, _, rest = item.nodeid.partition("::")
    test = f"{module}::{rest.split('[')[0]}"
    if test in SHARED_GROUPS or module in SHARED_GROUPS:
        return SHARED_GROUPS.get(test) or SHARED_GROUPS[module]
    return test if module in SPLIT_MODULES else module


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_unit(item)))
    items.sort(key=lambda item: -UNIT_SECONDS.get(_unit(item), 0))  # stable: file order kept
