"""Refusing placements no node can ever hold (ltsweep.tune.placement): the arithmetic of a
trial's bundles against a fixed cluster and an autoscaling one, the line it prints, and the real
``ltsweep run`` refusing a two-worker trial that a 2-CPU local Ray can never place."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ltsweep.errors import UserError
from ltsweep.sweep.trial import Resources
from ltsweep.tune.placement import Offer, bundles, can_ever_place, refuse_unplaceable
from tests.common.cli import REPO, ltsweep, tree
from tests.common.sweep_checks import store_runs
from tests.common.tiny import tiny_workers_trial

TWO_CPUS = Offer(nodes=[{"CPU": 2.0, "GPU": 0.0}])
# cluster.yaml's shape: a head with no CPU for trials, node types the autoscaler may launch
AUTOSCALING = Offer(
    nodes=[{"CPU": 0.0, "GPU": 0.0}],
    node_types={"gpu8": {"CPU": 96.0, "GPU": 8.0}, "gpu1": {"CPU": 8.0, "GPU": 1.0}},
)


def _fits(r: Resources, offer: Offer) -> bool:
    return can_ever_place(bundles(r), offer)


def test_a_fixed_cluster_holds_the_driver_and_the_workers_together() -> None:
    assert not _fits(Resources(cpu=1, workers=2), TWO_CPUS), "0.1 + 2 x 1 CPU fit 2 CPUs?"
    assert _fits(Resources(cpu=0.5, workers=2), TWO_CPUS)
    assert _fits(Resources(cpu=2), TWO_CPUS) and not _fits(Resources(cpu=3), TWO_CPUS)
    assert not _fits(Resources(cpu=1, gpu=1), TWO_CPUS), "a GPU trial on a CPU-only node"
    two_nodes = Offer(nodes=[{"CPU": 2.0}, {"CPU": 1.0}])
    assert _fits(Resources(cpu=1, workers=2), two_nodes), "workers may spread over nodes"
    assert not _fits(Resources(cpu=1, workers=3), two_nodes)


def test_an_autoscaling_cluster_is_judged_by_its_node_types() -> None:
    assert _fits(Resources(cpu=8, gpu=1, workers=16), AUTOSCALING), "an empty cluster refused"
    assert _fits(Resources(cpu=12, gpu=1), AUTOSCALING)
    assert not _fits(Resources(cpu=97, gpu=1), AUTOSCALING), "no node type has 97 CPUs"
    assert not _fits(Resources(cpu=1, gpu=9), AUTOSCALING)


def test_the_refusal_names_what_the_trial_needs_and_what_the_cluster_offers() -> None:
    trial = tiny_workers_trial()
    refuse_unplaceable([trial], TWO_CPUS)  # 0.1 + 2 x 0.5 CPU: placed
    big = tiny_workers_trial(resources=Resources(cpu=1, workers=2))
    with pytest.raises(UserError) as err:
        refuse_unplaceable([big], TWO_CPUS)
    line = str(err.value)
    for part in ("2.1 CPU", "driver 0.1 CPU + 2 workers × {CPU: 1}", "1 node(s): {CPU: 2}"):
        assert part in line, f"{part!r} missing from: {line}"
    assert "\n" not in line


def test_run_refuses_a_trial_no_node_can_hold_at_once(tmp_path: Path) -> None:
    cfg = yaml.safe_load((REPO / "tests" / "sweeps" / "tiny.yaml").read_text())
    cfg["resources"]["generate"] = {"cpu": 1, "workers": 2}
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    result = ltsweep("run", str(sweep), "--out", str(out), "--num-cpus", "2", timeout=600)
    assert result.returncode == 2, f"exit {result.returncode}: {result.stdout}{result.stderr}"
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("ltsweep")]  # not MLflow's
    assert len(errors) == 1 and "can never hold" in errors[0], result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "2.1 CPU" in errors[0] and "{CPU: 2}" in errors[0], errors[0]
    assert not any("trials/" in p for p in tree(out)), "a trial started before the refusal"
    _, runs = store_runs(out, sweep.stem)  # a sweep is named after its file
    (sweep_run,) = [r for r in runs if r.data.tags.get("ltsweep.role") == "sweep"]
    assert sweep_run.info.status == "FAILED", f"a refused sweep's run is {sweep_run.info.status}"
    assert "can never hold" in sweep_run.data.tags.get("ltsweep.refused", ""), "reason not tagged"
