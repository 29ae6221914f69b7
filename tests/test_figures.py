"""The accuracy figures (``ltsweep.report.figures``) of the known store's report: one per
model and target, one line per ticket source and control, gaps for missing points."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.common.known_store import CONFIGS, MODEL
from tests.common.known_store import accuracies as _acc
from tests.common.known_store import mean as _mean


def test_accuracy_figures_have_expected_lines(known: dict, report) -> None:
    by_slug = {f.slug: f for f in report.accuracy_figures}
    assert sorted(by_slug) == sorted(f"accuracy__{MODEL}__{d}__{o}" for d, o in CONFIGS)
    fig = by_slug[f"accuracy__{MODEL}__digits__sgd"]
    ax = fig.figure.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert list(lines) == ["same", "from digits/adam", "from shapes/sgd", "random", "dense"]
    assert ax.get_xscale() == "log" and ax.get_xlim()[0] > ax.get_xlim()[1]  # inverted
    # The missing point is a gap (NaN), never zero; the others are the hand-computed means.
    ys = lines["from shapes/sgd"].get_ydata()
    assert math.isnan(ys[1]) and not np.isnan(ys[[0, 2]]).any()
    want = _mean(_acc(known, "transferred", ("shapes", "sgd"), ("digits", "sgd"), 3)) * 100
    assert ys[2] == pytest.approx(want, rel=1e-12)
    assert list(lines["same"].get_xdata()) == pytest.approx([0.5, 0.2, 0.05])
    dense = (
        _mean(
            [
                r["acc"]
                for r in known["planned"]
                if r["kind"] == "dense" and r["tgt"] == ("digits", "sgd")
            ]
        )
        * 100
    )
    assert lines["dense"].get_ydata()[0] == pytest.approx(dense, rel=1e-12)
    caption = fig.figure.get_supxlabel()
    assert "Built from 24 finished results" in caption and "2 unfinished or failed" in caption
    for f in report.all_figures:
        for rel in f.files:
            assert (report.out_dir / rel).stat().st_size > 1000, rel
        assert {Path(p).suffix for p in f.files} == {".png", ".svg"}
