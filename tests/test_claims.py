"""The claims' verdicts (superiority, non-inferiority with a margin, too few seeds, at chance,
Holm's adjustment over a family, the same-distribution control, the larger source by the sizes
the trials had) and the claim lines, on results whose values are chosen by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ltsweep.report import claims, stats
from ltsweep.report import differences as D
from tests.common.hand_runs import DIGITS, FMNIST, SHAPES, SHAPES_ADAM
from tests.common.hand_runs import pairs as _pairs
from tests.common.hand_runs import run as _run
from tests.common.hand_runs import runs as _runs

T975_2 = 4.302652729749464  # Student's t, 97.5% quantile, 2 degrees of freedom (3 seeds)


def _row(diffs: pd.DataFrame, target: str, level: int, a: str, b: str) -> pd.Series:
    hit = diffs[(diffs.target == target) & (diffs.level == level) & (diffs.a == a) & (diffs.b == b)]
    assert len(hit) == 1, f"expected one row for {a} − {b} on {target} L{level}, got {len(hit)}"
    return hit.iloc[0]


# (test, seeds, 95% interval in points, margin 1 point) -> verdict: the one-sided p-values the
# claims decide by agree with the interval rule for a single comparison (no adjustment).
VERDICTS = [
    (stats.SUPERIORITY, 3, (0.5, 5.0), stats.HOLDS),
    (stats.SUPERIORITY, 3, (-0.5, 5.0), stats.INCONCLUSIVE),
    (stats.SUPERIORITY, 6, (-5.0, -0.5), stats.CONTRADICTED),
    (stats.NON_INFERIORITY, 3, (-0.8, 2.0), stats.HOLDS),
    (stats.NON_INFERIORITY, 3, (-1.2, 2.0), stats.INCONCLUSIVE),
    (stats.NON_INFERIORITY, 3, (-5.0, -1.2), stats.CONTRADICTED),
    (stats.NON_INFERIORITY, 3, (-5.0, -0.8), stats.INCONCLUSIVE),
    (stats.SUPERIORITY, 2, (20.0, 30.0), "inconclusive (2 seeds)"),
    (stats.NON_INFERIORITY, 1, (math.nan, math.nan), "inconclusive (1 seed)"),
]


def _evidence(n: int, ci: tuple[float, float], **extra) -> pd.DataFrame:
    """One comparison's row as differences.py writes it, from its interval."""
    low, high = ci
    mean = (low + high) / 2
    sd = (high - low) / 2 / D.t_quantile(n - 1) * math.sqrt(n) if n >= 2 else math.nan
    row = {
        "n_seeds": n,
        "mean": mean,
        "sd": sd,
        "ci_low": low,
        "ci_high": high,
        "a_mean": 80.0 + mean,
        "b_mean": 80.0,
        "chance": 10.0,
        "resolution": 0.01,
        "weights_remaining": 0.05,
        "target": "t/sgd",
        "comparison": D.VS_OWN,
        "a_relation": D.OTHER_DATASET,
        "a_source": "s/sgd",
        "b_source": "",
    }
    return pd.DataFrame([{**row, **extra}])


@pytest.mark.parametrize(("test", "n", "ci", "want"), VERDICTS)
def test_verdict_rules(test: str, n: int, ci: tuple[float, float], want: str) -> None:
    claim = next(c for c in claims.CLAIMS if c.test == test)
    got = claims.judge(claim, _evidence(n, ci), margin_points=1.0).verdict.iloc[0]
    assert got == want, f"{test} with {n} seeds and CI {ci}: {got!r}, expected {want!r}"


def _claim_line(runs: list[dict], slug: str, margin: float = 1.0) -> tuple[str, pd.DataFrame]:
    lines, table = claims.claim_lines(
        D.paired_differences(stats.add_labels(pd.DataFrame(runs))), margin
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
    assert (row.ci_low, row.ci_high) == pytest.approx((-127.5, 33.7), abs=0.1), row
    assert row["mean"] == pytest.approx(-46.9), "claims.csv must keep the numbers, in points"
    assert row.unit == "points", row.unit
    assert row.verdict == "inconclusive (2 seeds)" and not row.supports, row.verdict
    assert "holds in" not in line and "inconclusive in all 1" in line, line
    assert "−46.9: inconclusive (2 seeds)" in line and "CI" not in line, line
    # a third seed narrows the interval to wholly below −1 point: contradicted, not holds
    line, ev = _claim_line(
        _pairs(("transferred", DIGITS), ("same", SHAPES), SHAPES, [*d, -46.9]),
        "transfer_matches_own",
    )
    assert ev.iloc[0].verdict == stats.CONTRADICTED and ev.iloc[0].ci_high < -1.0
    assert "holds in 0, contradicted in 1, inconclusive in 0 of 1" in line, line


def test_demo_optimizer_case_with_two_seeds_is_inconclusive() -> None:
    """The demo's shapes/sgd → shapes/adam: +15.9 points, 95% CI −67.3 to +99.2, 2 seeds."""
    d = [15.9 - 6.55, 15.9 + 6.55]
    runs = _pairs(("transferred", SHAPES), ("same", SHAPES_ADAM), SHAPES_ADAM, d)
    line, ev = _claim_line(runs, "across_optimizers")
    row = ev.iloc[0]
    assert (row.ci_low, row.ci_high) == pytest.approx((-67.3, 99.1), abs=0.1), row
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
    lines, table = claims.claim_lines(D.paired_differences(_runs()))
    by = dict(zip([c.slug for c in claims.CLAIMS], lines))
    beat = by["tickets_beat_random"]
    assert "holds in 1, contradicted in 0, inconclusive in 1 of 2 targets" in beat, beat
    assert "(1 of them with fewer than 3 seeds)" in beat and "+30.0" in beat, beat
    assert "at 5% weights remaining (the level nearest report.sparsity 5%)" in beat, beat
    assert "Holm-adjusted over the 1 tests" in beat, beat
    own = by["transfer_matches_own"]
    # +0.17 (CI about ±1.2) is not inside a 1-point margin; +5 points clearly is
    assert "holds in 1, contradicted in 0, inconclusive in 1 of 2" in own, own
    larger = by["larger_source_better"]
    assert "holds in 1" in larger and "fashion_mnist/sgd vs shapes/sgd" in larger, larger
    opt = by["across_optimizers"]
    assert opt.startswith(claims.CLAIMS[-1].statement) and "1 paired seed," in opt, opt
    assert set(table.claim) == {c.slug for c in claims.CLAIMS} - {"same_distribution_control"}
    assert (
        "not tested in this sweep (no transfers between halves" in by["same_distribution_control"]
    )
    cell = table[(table.claim == "tickets_beat_random") & (table.target == "digits/sgd")]
    assert bool(cell.supports.iloc[0]) and cell["mean"].iloc[0] == pytest.approx(30.0)
    assert {"unit", "raw_verdict", "verdict", "p_holds", "chance", "test_size"} <= set(
        table.columns
    )


def test_claim_not_in_sweep_says_so() -> None:
    runs = _runs()
    lines, _ = claims.claim_lines(D.paired_differences(runs[runs.kind != "random"]))
    assert lines[0].endswith("not tested in this sweep (no random-ticket controls)."), lines[0]


def test_every_claim_survives_a_sweep_without_its_comparisons() -> None:
    runs = _runs()
    only_own = runs[runs.kind.isin(["same", "random", "dense"])]
    lines, table = claims.claim_lines(D.paired_differences(only_own))
    assert len(lines) == len(claims.CLAIMS)
    assert "not tested in this sweep (no transfers between datasets)" in lines[1], lines[1]
    assert set(table.claim) == {"tickets_beat_random"}, "evidence for claims with no comparison"


def test_a_sweep_never_that_sparse_says_which_level_it_used() -> None:
    runs = _pairs(("transferred", DIGITS), ("same", SHAPES), SHAPES, [1.0, 2.0, 1.5])
    runs = [{**r, "weights_remaining": 0.25} for r in runs]
    line, _ = _claim_line(runs, "transfer_matches_own")
    assert "at 25% weights remaining (the level nearest report.sparsity 5%)" in line, line


def test_a_floor_is_uninformative_never_support() -> None:
    """A 3-class target where every network ends at exactly 1/3: every paired difference is 0,
    the interval [0, 0]; no comparison is tested, none supports a claim."""
    rows = []
    for seed in range(3):
        for kind, src in (("same", SHAPES), ("random", SHAPES), ("transferred", DIGITS)):
            rows.append(_run(kind, src, SHAPES, 3, 0.05, seed, 1 / 3, target_classes=3))
    lines, table = claims.claim_lines(D.paired_differences(stats.add_labels(pd.DataFrame(rows))))
    assert len(table) and not table.supports.any(), table[["claim", "verdict"]]
    assert set(table.verdict) == {stats.AT_CHANCE}, set(table.verdict)
    assert list(table.chance) == pytest.approx([100 / 3] * len(table)), list(table.chance)
    assert (table.family_tests == 0).all(), "an uninformative comparison counted as a test"
    assert "uninformative (at chance or ceiling) in 1 of 1" in lines[1], lines[1]


def test_a_zero_width_interval_is_not_evidence_by_itself() -> None:
    """Three seeds all exactly +0.2 points apart on a 450-image test set: the raw interval has no
    width, but the spread counts as one test image (0.22 points): not "beats"."""
    rows = []
    for seed in range(3):
        rows.append(_run("random", SHAPES, DIGITS, 3, 0.05, seed, 0.80, target_test_size=450))
        rows.append(_run("same", DIGITS, DIGITS, 3, 0.05, seed, 0.802, target_test_size=450))
    _, table = claims.claim_lines(D.paired_differences(stats.add_labels(pd.DataFrame(rows))))
    row = table[table.claim == "tickets_beat_random"].iloc[0]
    assert row.ci_low == pytest.approx(row.ci_high), "the raw interval has no width"
    assert row.verdict == stats.INCONCLUSIVE and not row.supports, row.verdict
    assert row.sd_used == pytest.approx(100 / 450), row.sd_used


def test_holm_adjusts_holds_and_contradicted_within_a_family() -> None:
    """Three targets, each own ticket beating random by a gap that holds alone (one-sided
    p = 0.0175 for the two weak ones); the two weak ones do not survive the family's adjustment
    (0.0175 > 0.025 / 2): raw "holds", adjusted "inconclusive"."""
    rows = []
    for t, gap in ((("a", "sgd"), 3.0), (("b", "sgd"), 0.9), (("c", "sgd"), 0.9)):
        for seed, noise in enumerate((0.0, 0.3, -0.3)):
            rows.append(_run("random", t, t, 3, 0.05, seed, 0.60))
            rows.append(_run("same", t, t, 3, 0.05, seed, 0.60 + (gap + noise) / 100))
    lines, table = claims.claim_lines(D.paired_differences(stats.add_labels(pd.DataFrame(rows))))
    weak = table[table.target == "c/sgd"].iloc[0]
    assert weak.raw_verdict == stats.HOLDS and weak.verdict == stats.INCONCLUSIVE, (
        f"p = {weak.p_holds:.4f}: raw {weak.raw_verdict}, adjusted {weak.verdict}"
    )
    assert (table.family_tests == 3).all() and set(table.correction) == {"Holm"}
    assert "holds in 1, contradicted in 0, inconclusive in 2 of 3" in lines[0], lines[0]
    assert "Holm-adjusted over the 3 tests" in lines[0], lines[0]
    assert "seeds would settle the inconclusive ones" in lines[0], lines[0]
    assert stats.holm([0.001, 0.012, 0.03]) == [True, True, False], "Holm's step-down"
    assert stats.holm([0.02, 0.001, float("nan")]) == [True, True, False], "NaN never rejects"


def test_halves_of_one_dataset_are_the_control_not_another_dataset() -> None:
    """fashion_a → fashion_b (halves of fashion_mnist, with an optimizer change) is the
    same-distribution control; digits → fashion_b is transfer from another dataset."""
    a, b = ("fashion_a", "adam"), ("fashion_b", "sgd")
    rows = []
    for seed in range(3):
        reg = {"target_registered": "fashion_mnist"}
        rows.append(
            _run("same", b, b, 3, 0.05, seed, 0.85, source_registered="fashion_mnist", **reg)
        )
        rows.append(
            _run("transferred", a, b, 3, 0.05, seed, 0.85, source_registered="fashion_mnist", **reg)
        )
        rows.append(
            _run("transferred", DIGITS, b, 3, 0.05, seed, 0.80, source_registered="digits", **reg)
        )
    lines, table = claims.claim_lines(D.paired_differences(stats.add_labels(pd.DataFrame(rows))))
    by = dict(zip([c.slug for c in claims.CLAIMS], lines))
    other = table[table.claim == "transfer_matches_own"]
    control = table[table.claim == "same_distribution_control"]
    assert list(other.a_source) == ["digits/sgd"], (
        "a half-to-half transfer filed as another dataset"
    )
    assert list(control.a_source) == ["fashion_a/adam"], control
    assert "fashion_a/adam → fashion_b/sgd" in by["same_distribution_control"]


def test_the_larger_source_is_the_one_that_trained_on_more_images() -> None:
    """A 500-image subset of Fashion-MNIST is smaller than digits' 1347: digits is "larger"."""
    rows = []
    for seed in range(3):
        rows.append(_run("transferred", FMNIST, SHAPES, 3, 0.05, seed, 0.70, source_train_size=500))
        rows.append(_run("transferred", DIGITS, SHAPES, 3, 0.05, seed, 0.75 + seed / 1000))
    _, table = claims.claim_lines(D.paired_differences(stats.add_labels(pd.DataFrame(rows))))
    row = table[table.claim == "larger_source_better"].iloc[0]
    assert (row.a_source, row.b_source) == ("digits/sgd", "fashion_mnist/sgd"), row
    assert row["mean"] == pytest.approx(5.1, abs=0.01) and row.verdict == stats.HOLDS, row
