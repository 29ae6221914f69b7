"""The ticket gate (``tune/gate.py``): generation trials in the planned order, a transfer only once
its ticket exists, ready transfers longest first."""

from __future__ import annotations

from pathlib import Path

from ltsweep.storage.paths import SweepPaths
from ltsweep.sweep.config import load_sweep
from ltsweep.sweep.files import resolve_sweep_file
from ltsweep.sweep.order import generation_order, image_epochs
from ltsweep.sweep.plan import build_plan
from ltsweep.trial_layout import ticket_dir
from ltsweep.tune.gate import TicketGate


def _demo():
    return build_plan(load_sweep(resolve_sweep_file("demo")))


def test_gate_hands_out_ticket_makers_first_then_ready_transfers_longest_first(
    tmp_path: Path,
) -> None:
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
    lengths = []
    while (got := gate.suggest(f"t{len(lengths)}")) not in (None, gate.FINISHED):
        lengths.append(image_epochs(by_key[got["key"]]))
    assert len(lengths) == len(plan.transfer), f"{len(lengths)} of {len(plan.transfer)} handed out"
    assert lengths == sorted(lengths, reverse=True), "ready transfers not handed out longest first"
