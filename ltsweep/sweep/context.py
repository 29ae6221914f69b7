"""What every sweep command starts from: the file, its configuration, the plan, the paths."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ltsweep.storage.paths import SweepPaths
from ltsweep.sweep.config import SweepConfig
from ltsweep.sweep.files import find_sweep
from ltsweep.sweep.plan import Plan, build_plan


@dataclass(frozen=True)
class SweepContext:
    file: Path
    config: SweepConfig
    plan: Plan
    paths: SweepPaths
    tracking_uri: str


def load_context(args: argparse.Namespace) -> SweepContext:
    """The sweep of ``args`` (``sweep``, ``out``, ``data_root``, ``tracking_uri``; see
    ``ltsweep.commands.add_sweep_arguments``), found as every command finds it (``find_sweep``);
    the sweep file must resolve, since the plan is built from it."""
    where = find_sweep(args.sweep, getattr(args, "out", None), getattr(args, "tracking_uri", None))
    config = where.require_config()
    assert where.file is not None
    plan = build_plan(config, getattr(args, "data_root", None))
    return SweepContext(where.file, config, plan, where.paths, where.tracking_uri)


def check_data(ctx: SweepContext) -> None:
    """Fail before anything starts when a real dataset is not where the sweep says."""
    from ltsweep.core.data import find_dataset, get_spec

    for name, settings in ctx.config.datasets.items():
        if settings.is_folder:  # listed and checked when the plan was built
            continue
        spec = get_spec(settings.registered(name))
        if settings.loader == "ffcv":
            from ltsweep.core.data.loading.ffcv_backend import check_ready

            check_ready(spec, ctx.config.ffcv_dir, settings.image_size)
            continue
        if not spec.embedded:
            find_dataset(spec, ctx.plan.generation[0].job.data.data_root)
