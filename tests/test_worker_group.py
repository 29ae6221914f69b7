"""Ray Train generation on 2 CPU workers (gloo, DDP): same tickets as single-process IMP, run
from inside a Ray Tune trial with FFCV loaders; compiled steps (DDP of the mask-folding forward)
recorded as such and, after the driver and its workers are killed, resumed bit for bit without
training a finished level again; placements waiting for busy resources counted. (A worker killed
mid-level, the group restarted from the epoch checkpoint: tests/test_storage_s3.py, on a bucket.)

The local cluster runs with ``RAY_AUTH_MODE=disabled``: Ray >= 2.59 turns token authentication
on for local clusters and writes ``~/.ray/auth_token`` into the home directory; a throwaway
2-CPU cluster that lives for one test module needs neither. A cluster started with
``cluster.yaml`` keeps Ray's default.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ltsweep.core.imp import IMPRun
from ltsweep.core.tickets import load_ticket
from ltsweep.trial_layout import level_dir, ticket_dir
from ltsweep.tune.worker_group import run_generation_distributed
from tests.common.tiny import (
    assert_state_equal,
    metrics_without_time,
    tiny_generation_job,
    tiny_workers_trial,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ray_address():
    ray = pytest.importorskip("ray", reason="Ray Train needs ray (a main dependency)")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_AUTH_MODE", "disabled")
        mp.setenv("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.5")  # reports are paced by this poll
        ctx = ray.init(
            address="local", num_cpus=2, include_dashboard=False, configure_logging=False
        )
        try:
            yield ctx.address_info["address"]
        finally:
            ray.shutdown()


def _assert_same_structure(dist_dir: Path, single_dir: Path, levels: int) -> None:
    for level in range(levels + 1):
        a, b = load_ticket(ticket_dir(dist_dir, level)), load_ticket(ticket_dir(single_dir, level))
        assert sorted(a.weights) == sorted(b.weights)
        assert {k: v.shape for k, v in a.weights.items()} == {
            k: v.shape for k, v in b.weights.items()
        }
        assert {k: v.shape for k, v in a.mask.items()} == {k: v.shape for k, v in b.mask.items()}
        assert a.mask.kept == b.mask.kept and a.mask.total == b.mask.total
        assert a.info.weights_remaining == pytest.approx(b.info.weights_remaining)
        assert a.info.level == level and a.info.rewind_step > 0


def test_tune_trial_generates_tickets_like_single_process(ray_address: str, tmp_path: Path):
    from ray import tune

    from ltsweep.core.data.ffcv_convert import convert_dataset

    pytest.importorskip("ffcv", reason="FFCV is not installed (scripts/setup.sh installs it)")
    convert_dataset("digits", tmp_path / "ffcv", image_size=8, workers=1)
    job = tiny_generation_job(levels=2, epochs=2)
    data = dataclasses.replace(job.data, loader="ffcv", ffcv_dir=str(tmp_path / "ffcv"), workers=1)
    dist_job = dataclasses.replace(job, data=data)
    workdir, storage = tmp_path / "dist", str(tmp_path / "storage")

    def trial(config: dict) -> None:  # a Tune function trainable that drives Ray Train
        results = run_generation_distributed(
            dist_job, workdir, 2, False, storage, "gen-tiny", {"CPU": 0.5}
        )
        tune.report({"levels": len(results), "density": results[-1]["weights_remaining"]})

    tuner = tune.Tuner(
        tune.with_resources(trial, {"cpu": 0.5}),
        run_config=tune.RunConfig(name="tune", storage_path=storage, verbose=0),
    )
    grid = tuner.fit()
    assert not grid.errors, grid.errors
    assert grid[0].metrics["levels"] == 3 and grid[0].metrics["density"] == pytest.approx(0.25)
    IMPRun(job, tmp_path / "single").run()
    _assert_same_structure(workdir, tmp_path / "single", levels=2)
    from ltsweep.core.kernels import kernel_family
    from ltsweep.tune.worker_group import read_worker_kernels

    kernels = read_worker_kernels(workdir)  # both ranks on this machine's CPU kernels: one family
    assert kernels == kernel_family("cpu"), f"the ranks' kernels read back as {kernels!r}"


def _wait_for(path: Path, proc: subprocess.Popen, log: Path, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            state = "exited" if proc.poll() is not None else f"not within {timeout:.0f} s"
            proc.kill()
            pytest.fail(
                f"{path} did not appear ({state}); driver output:\n{log.read_text()[-3000:]}"
            )
        time.sleep(0.05)


def _start_driver(script: str, args: list[str], ray_address: str, log: Path) -> subprocess.Popen:
    """A driver process on the test's Ray cluster, its output to ``log``."""
    env = {**os.environ, "LTSWEEP_TEST_RAY": ray_address, "RAY_AUTH_MODE": "disabled"}
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-c", script, *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


EXECUTE = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import ray
    from ltsweep.storage.paths import SweepPaths
    from ltsweep.tune.trainable import execute
    from tests.common.tiny import tiny_workers_trial
    ray.init(address=os.environ["LTSWEEP_TEST_RAY"], configure_logging=False)
    print("STEPS", execute(tiny_workers_trial(), SweepPaths(Path(sys.argv[1])))["steps"])
""")


def _levels_without_time(record: dict) -> list[dict]:
    return [
        {**lv, "history": metrics_without_time(lv["history"]), "ticket_dir": ""}
        for lv in record["levels"]
    ]


def test_compiled_two_worker_trial_resumes_after_a_kill_bit_for_bit(
    ray_address: str, tmp_path: Path
):
    from safetensors.torch import load_file

    from ltsweep.storage.paths import SweepPaths
    from ltsweep.tune.trainable import execute

    trial = tiny_workers_trial()
    reference = execute(trial, SweepPaths(tmp_path / "reference"))
    assert reference["steps"] == "compiled", f"the two workers trained {reference['steps']}"
    assert [lv["steps"] for lv in reference["levels"]] == ["compiled", "compiled"]

    out, log = tmp_path / "killed", tmp_path / "driver.log"
    workdir = SweepPaths(out).trial_dir(trial.key)
    proc = _start_driver(EXECUTE, [str(out)], ray_address, log)
    try:
        _wait_for(level_dir(workdir, 0) / "result.json", proc, log)
        proc.send_signal(signal.SIGKILL)  # the driver (and with it its workers) during level 1
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (level_dir(workdir, 1) / "result.json").exists(), "killed too late to test resume"
    level0 = (level_dir(workdir, 0) / "result.json").stat().st_mtime_ns

    resumed = execute(trial, SweepPaths(out))
    assert (level_dir(workdir, 0) / "result.json").stat().st_mtime_ns == level0, (
        "the finished level 0 was trained again instead of read back"
    )
    assert resumed["steps"] == "compiled", resumed["steps"]
    assert _levels_without_time(resumed) == _levels_without_time(reference), (
        "the resumed compiled trial's levels differ from the uninterrupted run's"
    )
    ref_dir = SweepPaths(tmp_path / "reference").trial_dir(trial.key)
    for lv in range(2):
        a, b = load_ticket(ticket_dir(workdir, lv)), load_ticket(ticket_dir(ref_dir, lv))
        assert_state_equal(dict(a.mask), dict(b.mask))
        assert_state_equal(a.weights, b.weights)
        final = "final.safetensors"
        assert_state_equal(
            load_file(level_dir(workdir, lv) / final), load_file(level_dir(ref_dir, lv) / final)
        )


def test_a_placement_waiting_for_busy_resources_is_counted(ray_address: str):
    from ray.util import placement_group, remove_placement_group

    from ltsweep.tune.placement import pending_placements

    busy = placement_group([{"CPU": 1}])  # half the 2-CPU cluster, held
    assert busy.wait(120), "could not reserve 1 of the cluster's 2 CPUs"
    waiting = placement_group([{"CPU": 2}])  # fits the cluster, not while the other is held
    held = [busy, waiting]
    try:
        assert pending_placements() >= 1, "a placement that waits for busy CPUs was not counted"
        remove_placement_group(held.pop(0))
        assert waiting.wait(120), "the waiting placement never started"
        assert pending_placements() == 0, "a placement that started is still counted"
    finally:
        for pg in held:
            remove_placement_group(pg)
