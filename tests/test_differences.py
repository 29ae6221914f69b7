"""Paired differences (``ltsweep.report.differences``): seed-paired, Student-t intervals, in points
whatever the store's scale, each line's relation to its target read from the typed axes."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ltsweep.report import differences as D
from ltsweep.report import stats
from tests.common.hand_runs import DIGITS, FMNIST, SHAPES
from tests.common.hand_runs import run as hand_run

T975_2 = 4.302652729749464  # Student's t, 97.5% quantile, 2 degrees of freedom (3 seeds)


def _run(kind, src, tgt, seed, acc, level=2, **axes) -> dict:
    return hand_run(kind, src, tgt, level, 0.05, seed, acc, **axes)


def _runs(scale: float = 1.0) -> pd.DataFrame:
    rows = []
    for seed, (own, rand, small, large) in enumerate(
        [(0.90, 0.60, 0.905, 0.95), (0.91, 0.60, 0.905, 0.96), (0.92, 0.63, 0.925, 0.97)]
    ):
        rows += [
            _run("dense", None, DIGITS, seed, 0.93 * scale, level=0),
            _run("same", DIGITS, DIGITS, seed, own * scale),
            _run("random", DIGITS, DIGITS, seed, rand * scale),
            _run("transferred", SHAPES, DIGITS, seed, small * scale),
            _run("transferred", FMNIST, DIGITS, seed, large * scale),
        ]
    rows.append(_run("same", SHAPES, SHAPES, 0, 0.8 * scale))  # one seed: no interval
    rows.append(_run("random", SHAPES, SHAPES, 0, 0.5 * scale))
    return stats.add_labels(pd.DataFrame(rows))


def _row(diffs: pd.DataFrame, target: str, a: str, b: str) -> pd.Series:
    hit = diffs[(diffs.target == target) & (diffs.a == a) & (diffs.b == b)]
    assert len(hit) == 1, f"expected one row for {a} − {b} on {target}, got {len(hit)}"
    return hit.iloc[0]


def test_paired_differences_and_intervals_by_hand() -> None:
    diffs = D.paired_differences(_runs())
    r = _row(diffs, "digits/sgd", "same", "random")  # paired diffs 30, 31, 29 points
    half = T975_2 * 1.0 / math.sqrt(3)
    assert r.n_seeds == 3 and r["mean"] == pytest.approx(30.0, abs=1e-9)
    assert (r.ci_low, r.ci_high) == pytest.approx((30.0 - half, 30.0 + half), abs=1e-9)
    assert r.verdict == D.BETTER and r.unit == "points", "a clear +30 point gap must be 'better'"
    r = _row(diffs, "digits/sgd", "from shapes/sgd", "same")  # 0.5, -0.5, 0.5 points
    sd = math.sqrt(((2 * (0.5 - 0.5 / 3) ** 2) + (-0.5 - 0.5 / 3) ** 2) / 2)
    assert r["mean"] == pytest.approx(0.5 / 3, abs=1e-9) and r.sd == pytest.approx(sd)
    assert r.ci_high - r.ci_low == pytest.approx(2 * T975_2 * sd / math.sqrt(3), rel=1e-9)
    assert r.ci_low < 0 < r.ci_high and r.verdict == D.SPANS_ZERO, r.verdict
    r = _row(diffs, "shapes/sgd", "same", "random")
    assert r.n_seeds == 1 and math.isnan(r.ci_low) and r.verdict == "inconclusive (1 seed)"
    assert not (diffs.level == 0).any(), "dense runs have no pair at a pruning level"
    sources = _row(diffs, "digits/sgd", "from fashion_mnist/sgd", "from shapes/sgd")
    assert sources["mean"] == pytest.approx(5.0 - 0.5 / 3, abs=1e-9)
    assert (sources.a_mean, sources.b_mean) == pytest.approx((96.0, 91.1666667)), sources


def test_one_unit_whatever_the_store_holds() -> None:
    """A store in percent and one in fractions give the same differences, in points."""
    fractions = D.paired_differences(_runs(1.0), scale=100.0)
    percent = D.paired_differences(_runs(100.0), scale=1.0)
    cols = ["mean", "ci_low", "ci_high", "a_mean", "b_mean"]
    pd.testing.assert_frame_equal(fractions[cols], percent[cols])
    assert "no difference" not in set(fractions.verdict), "the label is 'interval spans 0'"


def test_relations_come_from_the_registered_datasets_not_names() -> None:
    a, b = ("fash_one", "adam"), ("fash_two", "sgd")
    reg = {"target_registered": "fashion_mnist", "source_registered": "fashion_mnist"}
    rows = [
        _run("same", b, b, 0, 0.8, **reg),
        _run("transferred", a, b, 0, 0.8, **reg),
        _run("transferred", ("fash_two", "adam"), b, 0, 0.8, **reg),
        _run(
            "transferred",
            DIGITS,
            b,
            0,
            0.8,
            target_registered="fashion_mnist",
            source_registered="digits",
        ),
    ]
    diffs = D.paired_differences(stats.add_labels(pd.DataFrame(rows)))
    own = diffs[diffs.comparison == D.VS_OWN].set_index("a_source").a_relation.to_dict()
    assert own == {
        "fash_one/adam": D.SAME_DISTRIBUTION,
        "fash_two/adam": D.SAME_DATA,
        "digits/sgd": D.OTHER_DATASET,
    }, own
