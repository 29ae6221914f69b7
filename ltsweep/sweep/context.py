"""What every sweep command starts from: the file, its configuration, the plan, the paths."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ltsweep.storage.paths import SweepPaths
from ltsweep.sweep.config import SweepConfig, load_sweep
from ltsweep.sweep.files import resolve_sweep_file, sweep_paths, tracking_uri
from ltsweep.sweep.plan import Plan, build_plan


@dataclass(frozen=True)
class SweepContext:
    file: Path
    config: SweepConfig
    plan: Plan
    paths: SweepPaths
    tracking_uri: str


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep", help="a name in search_spaces/ (e.g. demo, grid_full) or a path")
    parser.add_argument(
        "--out",
        help="output directory, or s3://BUCKET/PREFIX / gs://BUCKET/PREFIX (default: runs/<sweep>)",
    )
    parser.add_argument("--data-root", help="root of the real datasets (or set LTSWEEP_DATA)")


def load_context(args: argparse.Namespace) -> SweepContext:
    file = resolve_sweep_file(args.sweep)
    config = load_sweep(file)
    plan = build_plan(config, getattr(args, "data_root", None))
    paths = sweep_paths(config.name, getattr(args, "out", None))
    return SweepContext(file, config, plan, paths, tracking_uri(paths, config.tracking_uri))


def check_data(ctx: SweepContext) -> None:
    """Fail before anything starts when a real dataset is not where the sweep says."""
    from ltsweep.core.data import find_dataset, get_spec

    for name, settings in ctx.config.datasets.items():
        if settings.is_folder:  # listed and checked when the plan was built
            continue
        spec = get_spec(settings.registered(name))
        if settings.loader == "ffcv":
            from ltsweep.core.data.ffcv_loader import check_ready

            check_ready(spec, ctx.config.ffcv_dir, settings.image_size)
            continue
        if not spec.embedded:
            find_dataset(spec, ctx.plan.generation[0].job.data.data_root)
