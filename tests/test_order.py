"""The ticket gate's order (``sweep/order.py``): ticket makers first, costliest first."""

from __future__ import annotations

from pathlib import Path

from ltsweep.storage.paths import SweepPaths
from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.files import resolve_sweep_file
from ltsweep.sweep.order import generation_order, trial_cost
from ltsweep.sweep.plan import build_plan
from ltsweep.trial_layout import ticket_dir
from ltsweep.tune.gate import TicketGate


def _demo():
    return build_plan(load_sweep(resolve_sweep_file("demo")))


def test_generation_order_puts_ticket_makers_first_and_costliest_first() -> None:
    plan = _demo()
    order = generation_order(plan.generation, plan.transfer)
    sources = {t.source_key for t in plan.transfer}
    makers = [t.key in sources for t in order]
    assert makers == sorted(makers, reverse=True), "a generation trial nobody waits on came first"
    for group in (True, False):
        costs = [trial_cost(t) for t in order if (t.key in sources) == group]
        assert costs == sorted(costs, reverse=True), f"not costliest first: {costs}"
    shapes, digits = (
        next(t for t in plan.generation if t.job.data.name == n) for n in ("shapes", "digits")
    )
    assert trial_cost(shapes) > trial_cost(digits), "cost ignores the training-set size"


def test_gate_hands_out_ready_transfers_costliest_first(tmp_path: Path) -> None:
    plan = _demo()
    paths = SweepPaths(tmp_path)
    gate = TicketGate(list(plan.generation), list(plan.transfer), paths, poll_seconds=0.0)
    by_key = {t.key: t for t in plan.trials}
    handed = [gate.suggest(f"g{i}")["key"] for i in range(len(plan.generation))]
    assert handed == [t.key for t in generation_order(plan.generation, plan.transfer)]
    assert gate.suggest("wait") is None, "a transfer was handed out before its ticket existed"
    for t in plan.transfer:  # every ticket appears at once
        rel = ticket_dir(Path(paths.trial_rel(t.source_key)), t.level) / "ticket.json"
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    costs = []
    while (got := gate.suggest(f"t{len(costs)}")) not in (None, gate.FINISHED):
        costs.append(trial_cost(by_key[got["key"]]))
    assert len(costs) == len(plan.transfer), f"{len(costs)} of {len(plan.transfer)} handed out"
    assert costs == sorted(costs, reverse=True), "ready transfers not handed out costliest first"


def test_timeline_counts_idle_cores_between_and_around_trials() -> None:
    """bench/timeline.py: two cores, one trial 0-10 s, another 2-6 s: 2 + 4 idle core-seconds."""
    from bench.timeline import idle_core_seconds

    records = [{"started_at": 0.0, "ended_at": 10.0}, {"started_at": 2.0, "ended_at": 6.0}]
    idle = idle_core_seconds(records, cores=2)
    assert abs(idle - 6.0) < 1e-9, f"idle core-seconds {idle}, expected 6 (0-2 s and 6-10 s)"
