"""Test settings shared by every test: one CPU thread, deterministic kernels, fixed seeds.

One thread because the suite runs on 2-core machines next to other work: a second thread buys
little for these tiny models, and results that must be bit-identical (resume, determinism) then
cannot depend on how the machine splits a reduction.
"""

from __future__ import annotations

import os
import random

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before torch is imported

import numpy as np
import pytest
import torch

from tests.common import durations

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
    from tests.common.tiny import tiny_generation_job

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

    from tests.common.cli import REPO, ltsweep

    out = tmp_path_factory.mktemp("tiny") / "out"
    started = time.time()
    tiny = REPO / "tests" / "sweeps" / "tiny.yaml"
    result = ltsweep("run", str(tiny), "--out", str(out), "--num-cpus", "2", timeout=1800)
    assert result.returncode == 0, f"the reference run failed: {result.stdout}{result.stderr}"
    return out, result, time.time() - started


# -- the parallel schedule (``make test``: ``-n 2 --dist loadgroup --no-loadscope-reorder``): each
# test's unit (tests/common/durations.py) is an xdist group, and units start longest first by the
# seconds measured in tests/durations.json (tests/README.md: how to refresh them).
_SECONDS = durations.load()


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.xdist_group(durations.unit_of(item.nodeid)))
    # stable: units of equal seconds keep file order
    items.sort(key=lambda item: -durations.seconds(durations.unit_of(item.nodeid), _SECONDS))


# -- the MLflow store of known values and its report, shared by the report modules' tests
@pytest.fixture(scope="session")
def known(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The store of known values (``tests/common/known_store.py``), built once per session."""
    from tests.common import known_store

    return known_store.build(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="session")
def report(known: dict):
    """The known store's report (claims at 5%, matrices at 5% and 20% weights remaining)."""
    from ltsweep.report.build import build_report
    from tests.common.known_store import NAME

    return build_report(
        NAME, out_dir=known["root"] / "report", tracking_uri=known["uri"], sparsities=[0.05, 0.2]
    )
