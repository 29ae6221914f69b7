"""The transfer matrix (``ltsweep.report.matrix``) of the known store's report: cells by hand,
missing cells NaN (never 0), transfer_matrix.csv in points."""

from __future__ import annotations

import csv
import math

import pytest

from tests.common.known_store import CONFIGS, MISSING, ONE_SEED
from tests.common.known_store import accuracies as _acc
from tests.common.known_store import label as _label
from tests.common.known_store import mean as _mean


def test_transfer_matrix_cells(known: dict, report) -> None:
    assert [(m.level, m.requested) for m in report.matrices] == [(2, 0.2), (3, 0.05)]
    m = report.matrices[0]
    configs = [_label(c) for c in sorted(CONFIGS)]
    assert list(m.vs_own.index) == configs and list(m.vs_own.columns) == configs
    for src in CONFIGS:
        for tgt in CONFIGS:
            kind = "same" if src == tgt else "transferred"
            ticket = _acc(known, kind, src, tgt, 2)
            cell_own = m.vs_own.loc[_label(src), _label(tgt)]
            cell_rand = m.vs_random.loc[_label(src), _label(tgt)]
            if (src, tgt, 2) == MISSING:
                assert math.isnan(cell_own) and math.isnan(cell_rand)  # missing, not zero
                assert m.n.loc[_label(src), _label(tgt)] == 0
                continue
            own = _mean(_acc(known, "same", tgt, tgt, 2))
            rand = _mean(_acc(known, "random", tgt, tgt, 2))
            assert cell_own == pytest.approx(_mean(ticket) - own, rel=1e-9, abs=1e-12)
            assert cell_rand == pytest.approx(_mean(ticket) - rand, rel=1e-9, abs=1e-12)
    src, tgt, level, _seed = ONE_SEED
    single = report.matrices[1].ticket.loc[_label(src), _label(tgt)]
    assert single == pytest.approx(_acc(known, "transferred", src, tgt, level)[0], rel=1e-12)
    with open(report.out_dir / "transfer_matrix.csv", newline="") as fh:
        cells = list(csv.DictReader(fh))
    gap = [
        c
        for c in cells
        if (c["source"], c["target"], c["level"]) == ("shapes/sgd", "digits/sgd", "2")
    ]
    assert gap[0]["vs_own"] == "" and gap[0]["ticket_n"] == "0"
    near = next(c for c in cells if c["vs_own"] and c["source"] != c["target"])
    cell = m.vs_own.loc[near["source"], near["target"]]
    assert float(near["vs_own"]) == pytest.approx(cell * 100) and near["unit"] == "points"
