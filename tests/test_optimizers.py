"""The optimizer-transfer view (``ltsweep.report.optimizers``) of the known store's report."""

from __future__ import annotations

import pytest

from tests.common.known_store import MODEL
from tests.common.known_store import accuracies as _acc
from tests.common.known_store import mean as _mean


def test_optimizer_view(known: dict, report) -> None:
    assert [f.slug for f in report.optimizer_figures] == [f"optimizer__{MODEL}__digits"]
    fig = report.optimizer_figures[0].figure
    panels = [[ln.get_label() for ln in ax.get_lines()] for ax in fig.axes if ax.get_lines()]
    assert panels == [
        ["same", "from digits/sgd", "random", "dense"],
        ["same", "from digits/adam", "random", "dense"],
    ]
    table = report.optimizer_table
    assert len(table) == 6 and set(zip(table.made_with, table.trained_with)) == {
        ("sgd", "adam"),
        ("adam", "sgd"),
    }
    row = table[(table.made_with == "sgd") & (table.level == 1)].iloc[0]
    sgd_made = _mean(_acc(known, "transferred", ("digits", "sgd"), ("digits", "adam"), 1))
    adam_own = _mean(_acc(known, "same", ("digits", "adam"), ("digits", "adam"), 1))
    assert row.ticket_minus_own == pytest.approx(sgd_made - adam_own, rel=1e-9, abs=1e-12)
