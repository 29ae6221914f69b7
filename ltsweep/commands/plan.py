"""``ltsweep plan SWEEP [--json]``: the trial list, counts, reuse savings and a cost estimate.

The text output is tables; ``--json`` holds the same facts as plain JSON numbers and objects.
The cost comes from ``ltsweep.sweep.cost`` (what the figures mean: docs/cost.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections import Counter
from typing import Any

from ltsweep.commands import add_sweep_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sweep_arguments(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--trials", action="store_true", help="list every trial")
    parser.add_argument(
        "--as-imported",
        nargs="+",
        metavar="SOURCE",
        help="price the sweep as if these source datasets' ticket series were imported "
        "(published bundles, `sources: [{tickets: URI}]`): the hours another lab would spend",
    )


def _resources(trials) -> list[dict[str, Any]]:
    """One object per distinct resource shape, with how many trials ask for it."""
    counts = Counter(t.resources for t in trials)
    return [
        {"cpu": r.cpu, "gpu": r.gpu, "workers": r.workers, "trials": n}
        for r, n in sorted(counts.items(), key=lambda item: (-item[1], repr(item[0])))
    ]


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def summarize_plan(plan, reused: dict[str, str] | None = None) -> dict[str, Any]:
    """The plan's facts; ``reused`` maps generation keys done in a ``reuse`` store to it."""
    from ltsweep.sweep.cost import estimate, imported_savings

    trainings = sum(t.trainings for t in plan.trials)
    naive = plan.naive_trainings()
    cost = estimate(plan)
    return {
        "sweep": plan.sweep.name,
        "trials": {"generate": len(plan.generation), "transfer": len(plan.transfer)},
        "transfer_by_kind": dict(Counter(t.axes.kind for t in plan.transfer)),
        "trainings": trainings,
        "trainings_naive": naive,
        "trainings_saved_by_reuse": naive - trainings,
        "skipped_incompatible": plan.skipped_incompatible,
        "resources": {
            "generate": _resources(plan.generation),
            "transfer": _resources(plan.transfer),
        },
        "gpu_hours_estimate": _round(cost.gpu_hours, 3),
        "imported": [
            {
                "source": i.label,
                "origin": i.origin,
                "model": i.model,
                "optimizer": i.optimizer,
                "seeds": list(i.seeds),
                "bundles": list(i.bundle_ids),
                "gpu_hours": 0.0,
                "gpu_hours_saved": _round(i.gpu_hours_saved, 3),
            }
            for i in imported_savings(plan)
        ],
        "reuse": _reuse(plan, reused),
        "cost": {
            "gpu": cost.gpu or None,
            "unit": "GPU-hours",
            "meaning": "sum over trials of epochs x epoch_gpu_seconds (one GPU, one whole epoch) "
            "x the mean (size / base size)^2 of a resolution schedule's epochs "
            "/ multi_gpu_efficiency for trials on several GPUs",
            "multi_gpu_efficiency": cost.multi_gpu_efficiency,
            "gpu_hours": _round(cost.gpu_hours, 3),
            "saved_by_resolution_gpu_hours": _round(cost.saved_hours, 3),
            "trials_costed": cost.trials_costed,
            "trials": cost.trials,
            "breakdown": [
                {
                    "stage": r.stage,
                    "model": r.model,
                    "dataset": r.dataset,
                    "trials": r.trials,
                    "epochs": r.epochs,
                    "gpu_hours": _round(r.gpu_hours, 3),
                    "share": _round(r.share, 4),
                    "saved_by_resolution_gpu_hours": _round(r.saved_hours, 3),
                }
                for r in cost.rows
            ],
            "unused_generation": [
                {
                    "model": u.model,
                    "dataset": u.dataset,
                    "optimizer": u.optimizer,
                    "trials": u.trials,
                    "gpu_hours": _round(u.gpu_hours, 3),
                }
                for u in cost.unused
            ],
        },
    }


def _reuse(plan, reused: dict[str, str] | None) -> dict[str, Any] | None:
    if not plan.sweep.reuse:
        return None
    from ltsweep.sweep.cost import reuse_savings

    trials, hours = reuse_savings(plan, reused or {})
    return {"stores": list(plan.sweep.reuse), "trials": trials, "gpu_hours_saved": _round(hours, 3)}


def _print_imports(summary: dict[str, Any]) -> None:
    from ltsweep.text_table import hours

    for i in summary["imported"]:
        saved = (
            "unknown (no epoch_gpu_seconds for its dataset in this sweep)"
            if i["gpu_hours_saved"] is None
            else f"{hours(i['gpu_hours_saved'])} GPU-hours saved"
        )
        seeds = len(i["seeds"])
        note = "" if seeds >= 3 else f"; claims on it will read inconclusive ({seeds} seed(s))"
        print(
            f"  imported source    {i['source']}/{i['optimizer']} from {i['origin']}: "
            f"{seeds} seed(s) paired, 0 GPU-hours here, {saved}{note}"
        )
    reuse = summary.get("reuse")
    if reuse:
        saved = (
            ""
            if reuse["gpu_hours_saved"] is None
            else (f", {hours(reuse['gpu_hours_saved'])} GPU-hours")
        )
        print(
            f"  reuse              {reuse['trials']:,} generation trial(s) done in "
            f"{', '.join(s.split('?', 1)[0] for s in reuse['stores'])}: copied, not run{saved}"
        )


def _print_as_imported(w: dict[str, Any]) -> None:
    from ltsweep.text_table import hours

    def h(value: float | None) -> str:
        return "unknown" if value is None else f"{hours(value)} GPU-hours"

    print(
        f"  as imported        with {', '.join(w['sources'])} imported as published tickets: "
        f"{w['generation_trials_replaced']:,} generation trials not run ({h(w['gpu_hours_saved'])}"
        f" saved); this sweep would cost {h(w['gpu_hours_left'])}"
    )


def _print_text(summary: dict[str, Any], file: str) -> None:
    from ltsweep.text_table import render

    trials, cost = summary["trials"], summary["cost"]
    print(f"sweep {summary['sweep']} ({file})")
    print(f"  generation trials  {trials['generate']:,}")
    print(f"  transfer trials    {trials['transfer']:,}")
    kinds = sorted(summary["transfer_by_kind"].items(), key=lambda kv: -kv[1])
    print(render(["transfer kind", "trials"], kinds, indent="    "))
    print(
        f"  trainings          {summary['trainings']:,} (naive {summary['trainings_naive']:,}: "
        f"{summary['trainings_saved_by_reuse']:,} saved by reusing IMP levels as same-target "
        "and dense baselines)"
    )
    if summary["skipped_incompatible"]:
        print(
            f"  skipped            {summary['skipped_incompatible']:,} transfers between "
            "incompatible trunks (transfer.skip_incompatible)"
        )
    res = [
        (stage, r["cpu"], r["gpu"], r["workers"], r["trials"])
        for stage, shapes in summary["resources"].items()
        for r in shapes
    ]
    print("  resources per trial")
    print(render(["stage", "cpu", "gpu", "workers", "trials"], res, indent="    "))
    _print_imports(summary)
    _print_cost(cost)


def _print_cost(cost: dict[str, Any]) -> None:
    from ltsweep.text_table import hours, render

    gh, n, total = cost["gpu_hours"], cost["trials_costed"], cost["trials"]
    gpu = cost["gpu"] or "a GPU kind the sweep does not name (set cost.gpu)"
    if gh is None:
        print(
            f"  GPU-hours          unknown (no dataset gives epoch_gpu_seconds; 0/{total} trials)"
        )
        return
    print(
        f"  GPU-hours          {hours(gh)} on {gpu} ({n:,}/{total:,} trials have per-epoch figures; "
        f"trials on several GPUs count / {cost['multi_gpu_efficiency']:.3g} scaling efficiency)"
    )
    saved = cost["saved_by_resolution_gpu_hours"]
    if saved:
        print(
            f"  saved              {hours(saved)} GPU-hours by progressive resolution "
            f"({saved / (gh + saved):.1%} of {hours(gh + saved)} at full size; docs/cost.md)"
        )
    rows = [
        (
            r["stage"],
            r["model"],
            r["dataset"],
            r["trials"],
            r["epochs"],
            r["gpu_hours"],
            "—" if r["share"] is None else f"{r['share']:.1%}",
            _saving(r["saved_by_resolution_gpu_hours"]),
        )
        for r in cost["breakdown"]
    ]
    print("  where the GPU-hours go (saved: by the dataset's resolution schedule)")
    headers = ["stage", "model", "dataset", "trials", "epochs", "GPU-hours", "share", "saved"]
    print(render(headers, rows, indent="    ", right=(6, 7)))
    for u in cost["unused_generation"]:
        spent = "unknown" if u["gpu_hours"] is None else hours(u["gpu_hours"])
        print(
            f"  warning: {u['trials']} generation trials of {u['model']} on "
            f"{u['dataset']}/{u['optimizer']} ({spent} GPU-hours) make tickets that no transfer "
            "trains and no target needs: drop it from sources or add targets it can reach"
        )


def _saving(saved: float | None) -> str:
    from ltsweep.text_table import hours

    return "—" if saved is None else ("0" if saved == 0 else hours(saved))


def run(args: argparse.Namespace) -> int:
    from ltsweep.sweep.context import load_context

    ctx = load_context(args)
    reused = None
    if ctx.config.reuse:
        from ltsweep.storage.done import has_done
        from ltsweep.storage.reuse import done_elsewhere

        keys = [t.key for t in ctx.plan.generation if not has_done(ctx.paths, t.key)]
        reused = done_elsewhere(keys, ctx.config.reuse)
    summary = summarize_plan(ctx.plan, reused)
    if args.as_imported:
        from ltsweep.sweep.cost import what_if_imported

        w = what_if_imported(ctx.plan, tuple(args.as_imported))
        summary["as_imported"] = {
            "sources": list(w.entries),
            "generation_trials_replaced": w.trials,
            "gpu_hours_saved": _round(w.gpu_hours_saved, 3),
            "gpu_hours_left": _round(w.gpu_hours_left, 3),
        }
    if args.trials:
        from ltsweep.sweep.cost import trial_gpu_seconds

        costs = ctx.config.cost
        summary["trial_list"] = [
            {
                "key": t.key,
                **dataclasses.asdict(t.axes),
                "source_key": t.source_key or None,
                "epochs": t.epochs,
                "epoch_gpu_seconds": t.epoch_gpu_seconds,
                "gpu_seconds": trial_gpu_seconds(t, costs),
            }
            for t in ctx.plan.trials
        ]
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    _print_text(summary, str(ctx.file))
    if "as_imported" in summary:
        _print_as_imported(summary["as_imported"])
    if args.trials:
        for t in summary["trial_list"]:
            source = t["source"] or {"name": "none", "optimizer": "none"}
            print(
                f"  {t['key']}  {t['stage']:<8} {t['kind']:<11} {source['name']}/"
                f"{source['optimizer']} -> {t['target']['name']}/{t['target']['optimizer']} "
                f"L{'*' if t['level'] is None else t['level']} s{t['seed']}"
            )
    return 0
