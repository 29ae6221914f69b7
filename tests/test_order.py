"""The ticket gate's order (``sweep/order.py``): ticket makers first, longest first."""

from __future__ import annotations

from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.files import resolve_sweep_file
from ltsweep.sweep.order import generation_order, image_epochs
from ltsweep.sweep.plan import build_plan


def _demo():
    return build_plan(load_sweep(resolve_sweep_file("demo")))


def test_generation_order_puts_ticket_makers_first_and_longest_first() -> None:
    plan = _demo()
    order = generation_order(plan.generation, plan.transfer)
    sources = {t.source_key for t in plan.transfer}
    makers = [t.key in sources for t in order]
    assert makers == sorted(makers, reverse=True), "a generation trial nobody waits on came first"
    for group in (True, False):
        lengths = [image_epochs(t) for t in order if (t.key in sources) == group]
        assert lengths == sorted(lengths, reverse=True), f"not longest first: {lengths}"
    shapes, digits = (
        next(t for t in plan.generation if t.job.data.name == n) for n in ("shapes", "digits")
    )
    assert image_epochs(shapes) > image_epochs(digits), "image-epochs ignore the training-set size"


def test_timeline_counts_idle_cores_between_and_around_trials() -> None:
    """bench/timeline.py: two cores, one trial 0-10 s, another 2-6 s: 2 + 4 idle core-seconds."""
    from bench.timeline import idle_core_seconds

    records = [{"started_at": 0.0, "ended_at": 10.0}, {"started_at": 2.0, "ended_at": 6.0}]
    idle = idle_core_seconds(records, cores=2)
    assert abs(idle - 6.0) < 1e-9, f"idle core-seconds {idle}, expected 6 (0-2 s and 6-10 s)"
