"""What the shipped studies cover, read from their plans (no training): fashion.yaml's real-data
study and the demo's within-domain pair beside its cross-domain one."""

from __future__ import annotations

from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.files import resolve_sweep_file
from ltsweep.sweep.plan import build_plan


def _pairs(name: str) -> tuple[set, object]:
    plan = build_plan(load_sweep(resolve_sweep_file(name)))
    pairs = {
        (
            t.axes.kind,
            t.axes.source.name if t.axes.source else "none",
            t.axes.source.optimizer if t.axes.source else "none",
            t.axes.target.name,
            t.axes.target.optimizer,
        )
        for t in plan.transfer
    }
    return pairs, plan


def test_fashion_study_covers_optimizer_domain_and_control_transfers() -> None:
    pairs, plan = _pairs("fashion")
    wanted = {
        ("transferred", "fashion_a", "sgd", "fashion_a", "adam"),  # SGD -> Adam
        ("transferred", "fashion_a", "adam", "fashion_a", "sgd"),  # Adam -> SGD
        ("transferred", "fashion_a", "sgd", "fashion_b", "sgd"),  # same-distribution control
        ("transferred", "digits", "sgd", "fashion_a", "sgd"),  # embedded -> real
        ("transferred", "fashion_a", "sgd", "digits", "sgd"),  # real -> embedded
        ("random", "none", "none", "fashion_a", "sgd"),
    }
    assert wanted <= pairs, f"missing from the plan: {wanted - pairs}"
    sweep = plan.sweep
    assert (1 - sweep.imp.rate) ** max(plan.levels()) <= 0.05, "does not reach <= 5% remaining"
    datasets = {t.job.data.name: t.job.data for t in plan.generation}
    halves = {(t.job.data.half, t.job.data.train_subset) for t in plan.generation}
    assert datasets["fashion_mnist"].loader == "torch" and {("a", 8000), ("b", 8000)} <= halves


def test_demo_has_a_within_domain_and_a_cross_domain_transfer() -> None:
    pairs, _ = _pairs("demo")
    within = ("transferred", "shapes", "sgd", "shapes_small", "sgd")
    across = ("transferred", "digits", "sgd", "shapes_small", "sgd")
    assert within in pairs and across in pairs, "demo lacks the within/cross-domain pair"
    assert ("transferred", "digits", "sgd", "shapes", "sgd") in pairs, "cross-domain pair gone"
