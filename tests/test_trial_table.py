"""What Tune receives per trial (``tune/trial_table.py``): each trial's resources from its config
alone, and a pickled trainable whose size does not grow with the plan."""

from __future__ import annotations

import pytest

from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.files import resolve_sweep_file
from ltsweep.sweep.plan import build_plan


def test_tune_configs_carry_each_trials_resources() -> None:
    """The placement Tune asks for comes from the trial's config alone, and matches the plan:
    fractional GPUs, Ray Train drivers (their workers reserve their own) and CPU-only trials."""
    from ltsweep.tune.trial_table import placement, trial_config

    plan = build_plan(load_sweep(resolve_sweep_file("grid_full")))
    seen = {}
    for trial in plan.trials:
        seen.setdefault((trial.stage, trial.resources), trial)
    assert any(r.workers > 1 for _, r in seen) and any(0 < r.gpu < 1 for _, r in seen), (
        f"grid_full no longer mixes Ray Train and fractional-GPU trials: {sorted(seen)}"
    )
    for (stage, r), trial in seen.items():
        config = trial_config(trial)
        assert config["key"] == trial.key
        bundles = placement(config).bundles
        want = (
            [{"CPU": 0.1}]
            if r.workers > 1
            else [{"CPU": r.cpu, **({"GPU": r.gpu} if r.gpu else {})}]
        )
        assert bundles == want, f"{stage} trial with {r}: Tune would reserve {bundles}, not {want}"


def test_what_tune_pickles_per_trial_does_not_grow_with_the_plan(tmp_path) -> None:
    """Tune unpickles a trainable (with its resource function) twice per trial on the driver;
    when that pickle held every trial, each trial cost O(plan). The
    shared trial table pickles as an object id, and a worker deserializes it once."""
    ray = pytest.importorskip("ray", reason="the trial table lives in Ray's object store")
    from ray import cloudpickle, tune
    from ray.tune.trainable import wrap_function

    from bench.bench_driver import null_trainable, sweep_yaml
    from ltsweep.tune.trial_table import TrialTable, placement

    plans = {}
    for n in (42, 1008):
        (tmp_path / f"s{n}.yaml").write_text(sweep_yaml(n))
        plans[n] = build_plan(load_sweep(tmp_path / f"s{n}.yaml"))
    ray.init(address="local", num_cpus=1, include_dashboard=False, configure_logging=False)
    try:
        sizes = {}
        for n, plan in plans.items():
            table = TrialTable.put({t.key: t for t in plan.trials})
            trainable = tune.with_resources(
                tune.with_parameters(null_trainable, trials=table, out=str(tmp_path), uri=""),
                placement,
            )
            # What Tune's registry stores (register_trainable) and unpickles per trial:
            sizes[n] = len(cloudpickle.dumps(wrap_function(trainable)))
            copy = cloudpickle.loads(cloudpickle.dumps(table))  # as a worker receives it
            key = plan.trials[-1].key
            assert copy[key] == plan.trials[-1], "the table handed a worker another trial"
            assert copy[key] is copy[key], "the table was deserialized again for a second look-up"
            assert len(copy) == len(plan.trials)
        assert sizes[1008] - sizes[42] < 512, (
            f"Tune's pickled trainable grows with the plan: {sizes[42]} bytes at 42 trials, "
            f"{sizes[1008]} at 1,008 (does the resource function close over the trials again?)"
        )
    finally:
        ray.shutdown()
