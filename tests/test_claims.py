"""Paired differences, the claims' verdicts (superiority, non-inferiority with a margin, too few
seeds) and the claim lines, on results whose values are chosen by hand."""

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
    assert r.n_seeds == 1 and math.isnan(r.ci_low) and r.verdict == "inconclusive (1 seed)"
    assert not (diffs.level == 0).any(), "dense runs have no pair at a pruning level"
    sources = _row(diffs, "digits/sgd", 2, "from fashion_mnist/sgd", "from shapes/sgd")
    assert sources["mean"] == pytest.approx(0.05 - 0.005 / 3, abs=1e-12)


# (test, seeds, 95% interval in accuracy fractions, margin 0.01 = 1 point) -> verdict
VERDICTS = [
    (stats.SUPERIORITY, 3, (0.001, 0.05), stats.HOLDS),
    (stats.SUPERIORITY, 3, (-0.001, 0.05), stats.INCONCLUSIVE),
    (stats.SUPERIORITY, 6, (-0.05, -0.001), stats.CONTRADICTED),
    (stats.NON_INFERIORITY, 3, (-0.009, 0.02), stats.HOLDS),
    (stats.NON_INFERIORITY, 3, (-0.011, 0.02), stats.INCONCLUSIVE),
    (stats.NON_INFERIORITY, 3, (-0.05, -0.011), stats.CONTRADICTED),
    (stats.NON_INFERIORITY, 3, (-0.05, -0.009), stats.INCONCLUSIVE),
    (stats.SUPERIORITY, 2, (0.2, 0.3), "inconclusive (2 seeds)"),
    (stats.NON_INFERIORITY, 2, (-0.001, 0.3), "inconclusive (2 seeds)"),
    (stats.NON_INFERIORITY, 1, (math.nan, math.nan), "inconclusive (1 seed)"),
]


@pytest.mark.parametrize(("test", "n", "ci", "want"), VERDICTS)
def test_verdict_rules(test: str, n: int, ci: tuple[float, float], want: str) -> None:
    got = stats.verdict(test, n, ci[0], ci[1], margin=0.01)
    assert got == want, f"{test} with {n} seeds and CI {ci}: {got!r}, expected {want!r}"


def _pairs(a_line: tuple, b_line: tuple, target: tuple, diffs_points: list[float]) -> list[dict]:
    """Runs whose paired differences a − b on ``target`` are ``diffs_points`` (one per seed)."""
    rows = []
    for seed, d in enumerate(diffs_points):
        rows.append(_run(*b_line, target, 3, 0.05, seed, 0.80))
        rows.append(_run(*a_line, target, 3, 0.05, seed, 0.80 + d / 100))
    return rows


def _claim_line(runs: list[dict], slug: str, margin: float = 1.0) -> tuple[str, pd.DataFrame]:
    lines, table = claims.claim_lines(
        D.paired_differences(stats.add_labels(pd.DataFrame(runs))), 100.0, margin
    )
    by = dict(zip([c.slug for c in claims.CLAIMS], lines))
    return by[slug], table[table.claim == slug]


def test_demo_cross_domain_case_is_not_support() -> None:
    """The demo's digits/sgd → shapes/sgd: −46.9 points, 95% CI −127.6 to +33.7 from 2 seeds.
    It used to count as "holds" because the interval spans zero."""
    d = [-46.9 - 6.345, -46.9 + 6.345]  # 2 seeds: half-width 12.706 x |d1 - d2| / 2 = 80.6
    runs = _pairs(("transferred", DIGITS), ("same", SHAPES), SHAPES, d)
    line, ev = _claim_line(runs, "transfer_matches_own")
    row = ev.iloc[0]
    assert (row.ci_low * 100, row.ci_high * 100) == pytest.approx((-127.5, 33.7), abs=0.1), row
    assert row["mean"] * 100 == pytest.approx(-46.9), "claims.csv must keep the numbers"
    assert row.verdict == "inconclusive (2 seeds)" and not row.supports, row.verdict
    assert "holds in" not in line and "inconclusive in all 1" in line, line
    assert "−46.9: inconclusive (2 seeds)" in line and "CI" not in line, line
    # a third seed narrows the interval to wholly below −1 point: contradicted, not holds
    line, ev = _claim_line(
        _pairs(("transferred", DIGITS), ("same", SHAPES), SHAPES, [*d, -46.9]),
        "transfer_matches_own",
    )
    assert ev.iloc[0].verdict == stats.CONTRADICTED and ev.iloc[0].ci_high < -0.01
    assert "holds in 0, contradicted in 1, inconclusive in 0 of 1" in line, line


def test_demo_optimizer_case_with_two_seeds_is_inconclusive() -> None:
    """The demo's shapes/sgd → shapes/adam: +15.9 points, 95% CI −67.3 to +99.2, 2 seeds."""
    d = [15.9 - 6.55, 15.9 + 6.55]
    runs = _pairs(("transferred", SHAPES), ("same", SHAPES_ADAM), SHAPES_ADAM, d)
    line, ev = _claim_line(runs, "across_optimizers")
    row = ev.iloc[0]
    assert (row.ci_low * 100, row.ci_high * 100) == pytest.approx((-67.3, 99.1), abs=0.1), row
    assert row.verdict == "inconclusive (2 seeds)", row.verdict
    assert "inconclusive in all 1 source → target pairs" in line, line
    assert "(2 paired seeds, 3 needed for a verdict;" in line, line
    assert "+15.9: inconclusive (2 seeds)" in line, line


def test_margin_decides_non_inferiority_and_is_stated() -> None:
    """Paired differences −0.3, −0.9, −0.6 points: CI about −1.35 to +0.15. Inside a 2-point
    margin (holds), not inside a 1-point one (inconclusive); the line states the margin."""
    runs = _pairs(("transferred", DIGITS), ("same", SHAPES), SHAPES, [-0.3, -0.9, -0.6])
    line1, ev1 = _claim_line(runs, "transfer_matches_own", margin=1.0)
    line2, ev2 = _claim_line(runs, "transfer_matches_own", margin=2.0)
    assert ev1.iloc[0].verdict == stats.INCONCLUSIVE and ev2.iloc[0].verdict == stats.HOLDS
    assert "above −1 points, the margin" in line1 and "above −2 points, the margin" in line2
    assert "holds in 1, contradicted in 0, inconclusive in 0 of 1" in line2, line2
    assert ev2.iloc[0].margin_points == 2.0 and ev2.iloc[0].test == stats.NON_INFERIORITY


def test_claim_lines_state_the_evidence() -> None:
    lines, table = claims.claim_lines(D.paired_differences(_runs()), scale=100.0)
    by = dict(zip([c.slug for c in claims.CLAIMS], lines))
    beat = by["tickets_beat_random"]
    assert "holds in 1, contradicted in 0, inconclusive in 1 of 2 targets" in beat, beat
    assert "(1 of them with fewer than 3 seeds)" in beat and "+30.0" in beat, beat
    assert "0.5" not in beat.split("at ≤")[0], "a level with 50% weights left was used"
    own = by["transfer_matches_own"]
    # +0.17 (CI about ±1.2) is not inside a 1-point margin; +5 points clearly is
    assert "holds in 1, contradicted in 0, inconclusive in 1 of 2" in own, own
    larger = by["larger_source_better"]
    assert "holds in 1" in larger and "fashion_mnist/sgd vs shapes/sgd" in larger, larger
    opt = by["across_optimizers"]
    assert opt.startswith(claims.CLAIMS[-1].statement) and "1 paired seeds" in opt, opt
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


def test_a_sweep_never_that_sparse_says_which_level_it_used() -> None:
    runs = _pairs(("transferred", DIGITS), ("same", SHAPES), SHAPES, [1.0, 2.0, 1.5])
    runs = [{**r, "weights_remaining": 0.25} for r in runs]
    line, _ = _claim_line(runs, "transfer_matches_own")
    assert "at each target's sparsest level (up to 25% weights)" in line, line
    assert "≤ 10%" not in line, line
