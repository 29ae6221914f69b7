"""``ltsweep plan SWEEP [--json]``: the trial list, counts, reuse savings and a cost estimate."""

from __future__ import annotations

import argparse
import json
from collections import Counter

from ltsweep.sweep.context import add_sweep_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sweep_arguments(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--trials", action="store_true", help="list every trial")


def summarize_plan(plan) -> dict:
    from ltsweep.hashing import to_jsonable

    trainings = sum(t.trainings for t in plan.trials)
    naive = plan.naive_trainings()
    costed = [t for t in plan.trials if t.epoch_gpu_seconds is not None]
    gpu_hours = (
        sum(t.epochs * t.epoch_gpu_seconds * max(1, t.resources.workers) for t in costed) / 3600
    )
    return {
        "sweep": plan.sweep.name,
        "trials": {"generate": len(plan.generation), "transfer": len(plan.transfer)},
        "transfer_by_kind": dict(Counter(t.tags["kind"] for t in plan.transfer)),
        "trainings": trainings,
        "trainings_naive": naive,
        "trainings_saved_by_reuse": naive - trainings,
        "skipped_incompatible": plan.skipped_incompatible,
        "resources": {
            "generate": sorted(
                {json.dumps(to_jsonable(r)) for r in {t.resources for t in plan.generation}}
            ),
            "transfer": sorted(
                {json.dumps(to_jsonable(r)) for r in {t.resources for t in plan.transfer}}
            ),
        },
        "gpu_hours_estimate": round(gpu_hours, 1) if costed else None,
        "gpu_hours_coverage": f"{len(costed)}/{len(plan.trials)} trials have per-epoch costs",
    }


def run(args: argparse.Namespace) -> int:
    from ltsweep.sweep.context import load_context

    ctx = load_context(args)
    summary = summarize_plan(ctx.plan)
    if args.trials:
        summary["trial_list"] = [
            {"key": t.key, "stage": t.stage, **t.tags, "source_key": t.source_key}
            for t in ctx.plan.trials
        ]
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"sweep {summary['sweep']} ({ctx.file})")
    print(f"  generation trials  {summary['trials']['generate']}")
    print(f"  transfer trials    {summary['trials']['transfer']}  {summary['transfer_by_kind']}")
    print(
        f"  trainings          {summary['trainings']} (naive {summary['trainings_naive']}: "
        f"{summary['trainings_saved_by_reuse']} saved by reusing IMP levels as same-target "
        "and dense baselines)"
    )
    if summary["skipped_incompatible"]:
        print(
            f"  skipped            {summary['skipped_incompatible']} transfers between "
            "incompatible trunks (transfer.skip_incompatible)"
        )
    for stage, res in summary["resources"].items():
        print(f"  resources {stage:<9}{', '.join(res)}")
    gh = summary["gpu_hours_estimate"]
    print(
        f"  GPU-hours          {gh if gh is not None else 'unknown'} "
        f"({summary['gpu_hours_coverage']})"
    )
    if args.trials:
        for t in summary["trial_list"]:
            print(
                f"  {t['key']}  {t['stage']:<8} {t['kind']:<11} {t['source_dataset']}/"
                f"{t['source_optimizer']} -> {t['target_dataset']}/{t['target_optimizer']} "
                f"L{t['level'] or '*'} s{t['seed']}"
            )
    return 0
