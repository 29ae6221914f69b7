"""Paired differences and the claim lines on results whose values are chosen by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ltsweep.report import claims, stats
from ltsweep.report import differences as D

T975_2 = 4.302652729749464  # Student's t, 97.5% quantile, 2 degrees of freedom (3 seeds)


def _run(kind, src, tgt, level, wr, seed, acc) -> dict:
    sd, so = src or ("none", "none")
    return {
        "model": "vgg_tiny",
        "target_dataset": tgt[0],
        "target_optimizer": tgt[1],
        "kind": kind,
        "source_dataset": sd,
        "source_optimizer": so,
        "level": level,
        "weights_remaining": wr,
        "seed": seed,
        stats.VALUE: acc,
    }


DIGITS, SHAPES, FMNIST, SHAPES_ADAM = (
    ("digits", "sgd"),
    ("shapes", "sgd"),
    ("fashion_mnist", "sgd"),
    ("shapes", "adam"),
)


def _runs() -> pd.DataFrame:
    rows = []
    for seed, (own, rand, small, large) in enumerate(
        [(0.90, 0.60, 0.905, 0.95), (0.91, 0.60, 0.905, 0.96), (0.92, 0.63, 0.925, 0.97)]
    ):
        rows += [
            _run("dense", None, DIGITS, 0, 1.0, seed, 0.93),
            _run("same", DIGITS, DIGITS, 1, 0.5, seed, 0.5),  # not sparse: never a claim level
            _run("random", DIGITS, DIGITS, 1, 0.5, seed, 0.9),
            _run("same", DIGITS, DIGITS, 2, 0.05, seed, own),
            _run("random", DIGITS, DIGITS, 2, 0.05, seed, rand),
            _run("transferred", SHAPES, DIGITS, 2, 0.05, seed, small),
            _run("transferred", FMNIST, DIGITS, 2, 0.05, seed, large),
        ]
    rows += [  # shapes/adam: a single seed, so no interval anywhere
        _run("same", SHAPES_ADAM, SHAPES_ADAM, 2, 0.05, 0, 0.8),
        _run("random", SHAPES_ADAM, SHAPES_ADAM, 2, 0.05, 0, 0.5),
        _run("transferred", SHAPES, SHAPES_ADAM, 2, 0.05, 0, 0.81),
    ]
    return stats.add_labels(pd.DataFrame(rows))


def _row(diffs: pd.DataFrame, target: str, level: int, a: str, b: str) -> pd.Series:
    hit = diffs[(diffs.target == target) & (diffs.level == level) & (diffs.a == a) & (diffs.b == b)]
    assert len(hit) == 1, f"expected one row for {a} − {b} on {target} L{level}, got {len(hit)}"
    return hit.iloc[0]


def test_paired_differences_and_intervals_by_hand() -> None:
    diffs = D.paired_differences(_runs())
    r = _row(diffs, "digits/sgd", 2, "same", "random")  # paired diffs 0.30, 0.31, 0.29
    half = T975_2 * 0.01 / math.sqrt(3)
    assert r.n_seeds == 3 and r["mean"] == pytest.approx(0.30, abs=1e-12)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.30 - half, 0.30 + half), abs=1e-12)
    assert r.verdict == D.BETTER, "a clear +30 point gap must be 'better'"
    r = _row(diffs, "digits/sgd", 2, "from shapes/sgd", "same")  # 0.005, -0.005, 0.005
    sd = math.sqrt(((2 * (0.005 - 0.005 / 3) ** 2) + (-0.005 - 0.005 / 3) ** 2) / 2)
    assert r["mean"] == pytest.approx(0.005 / 3, abs=1e-12)
    assert r.ci_high - r.ci_low == pytest.approx(2 * T975_2 * sd / math.sqrt(3), rel=1e-9)
    assert r.ci_low < 0 < r.ci_high and r.verdict == D.NO_DIFFERENCE, "CI spans 0: no difference"
    r = _row(diffs, "shapes/adam", 2, "same", "random")
    assert r.n_seeds == 1 and math.isnan(r.ci_low) and r.verdict == D.TOO_FEW
    assert not (diffs.level == 0).any(), "dense runs have no pair at a pruning level"
    sources = _row(diffs, "digits/sgd", 2, "from fashion_mnist/sgd", "from shapes/sgd")
    assert sources["mean"] == pytest.approx(0.05 - 0.005 / 3, abs=1e-12)


def test_claim_lines_state_the_evidence() -> None:
    lines, table = claims.claim_lines(D.paired_differences(_runs()), scale=100.0)
    by = dict(zip([c.slug for c in claims.CLAIMS], lines))
    beat = by["tickets_beat_random"]
    assert "holds in 1 of 1 targets" in beat and "+30.0" in beat, beat
    assert "1 more without enough seeds" in beat, beat
    assert "0.5" not in beat.split("at ≤")[0], "a level with 50% weights left was used"
    own = by["transfer_matches_own"]
    assert "holds in 2 of 2" in own, f"'no difference' must count as matching: {own}"
    larger = by["larger_source_better"]
    assert "holds in 1 of 1" in larger and "fashion_mnist/sgd vs shapes/sgd" in larger, larger
    opt = by["across_optimizers"]
    assert opt.startswith(claims.CLAIMS[-1].statement) and "not enough seeds" in opt, opt
    assert set(table.claim) == {c.slug for c in claims.CLAIMS}
    cell = table[(table.claim == "tickets_beat_random") & (table.target == "digits/sgd")]
    assert bool(cell.supports.iloc[0]) and cell["mean"].iloc[0] == pytest.approx(0.30)


def test_claim_not_in_sweep_says_so() -> None:
    runs = _runs()
    lines, _ = claims.claim_lines(D.paired_differences(runs[runs.kind != "random"]), 100.0)
    assert lines[0].endswith("not tested in this sweep (no random-ticket controls)."), lines[0]


def test_every_claim_survives_a_sweep_without_its_comparisons() -> None:
    runs = _runs()
    only_own = runs[runs.kind.isin(["same", "random", "dense"])]
    lines, table = claims.claim_lines(D.paired_differences(only_own), 100.0)
    assert len(lines) == len(claims.CLAIMS)
    assert "not tested in this sweep (no transfers between datasets)" in lines[1], lines[1]
    assert set(table.claim) == {"tickets_beat_random"}, "evidence for claims with no comparison"
