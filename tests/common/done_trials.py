"""Trials done on disk without training, for the tracking tests: real tickets and done records."""

from __future__ import annotations

from pathlib import Path

from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.plan import build_plan


def recorded_trials(tmp_path: Path) -> tuple:
    """One generation trial and one of its transfers, done on disk by the benchmark's
    no-training body (real tickets and done records), in a fresh SQLite store."""
    from bench.bench_driver import null_execute, sweep_yaml
    from ltsweep.storage.done import read_done
    from ltsweep.storage.paths import SweepPaths

    sweep = tmp_path / "scale.yaml"
    sweep.write_text(sweep_yaml(42))
    plan = build_plan(load_sweep(sweep))
    gen = plan.generation[0]
    xfer = next(t for t in plan.transfer if t.source_key == gen.key)
    paths = SweepPaths(tmp_path / "out")
    for trial in (gen, xfer):
        null_execute(trial, paths)
    return paths, [(t, read_done(paths, t.key)) for t in (gen, xfer)]
