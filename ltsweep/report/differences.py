"""Paired differences between ticket kinds, with a 95% confidence interval over seeds.

Two lines of a figure are compared on the same target and level, seed by seed: the same seed
trains both (same data order, same initialisation where the kinds share one), so the paired
difference has far less noise than the difference of two means. The interval is Student's t over
the paired seeds; with fewer than two pairs there is no interval, and with fewer than three
(1 degree of freedom, a multiplier of 12.7) the verdict is "inconclusive (n seeds)" although the
interval is kept in differences.csv.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import TYPE_CHECKING

from ltsweep.report import stats

if TYPE_CHECKING:
    import pandas as pd

CONFIDENCE = 0.95
# Comparison families: what the report's claims are built from.
VS_RANDOM = "ticket − random"
VS_OWN = "transferred − own"
SOURCE_VS_SOURCE = "source − source"
BETTER, WORSE, NO_DIFFERENCE = "better", "worse", "no difference"
COLUMNS = (
    "model",
    "target",
    "level",
    "weights_remaining",
    "comparison",
    "a",
    "b",
    "n_seeds",
    "mean",
    "ci_low",
    "ci_high",
    "verdict",
)


def interval(diffs: list[float]) -> tuple[float, float, float]:
    """(mean, low, high) of the paired differences; low/high NaN with fewer than two."""
    n = len(diffs)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = sum(diffs) / n
    if n < 2:
        return mean, math.nan, math.nan
    from scipy.stats import t

    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = float(t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def verdict(n: int, low: float, high: float) -> str:
    """Which side of zero the interval is on; fewer than ``stats.MIN_SEEDS`` seeds say nothing."""
    if n < stats.MIN_SEEDS or low != low:
        return stats.too_few_seeds(n)
    if low > 0:
        return BETTER
    return WORSE if high < 0 else NO_DIFFERENCE


def _pairs(lines: list[str]) -> list[tuple[str, str, str]]:
    """(family, a, b) for every comparison the lines present at one target and level allow."""
    sources = sorted(x for x in lines if x.startswith("from "))
    tickets = [x for x in (stats.SAME, *sources) if x in lines]
    out = [(VS_RANDOM, x, stats.RANDOM) for x in tickets if stats.RANDOM in lines]
    if stats.SAME in lines:
        out += [(VS_OWN, x, stats.SAME) for x in sources]
    out += [(SOURCE_VS_SOURCE, a, b) for a, b in combinations(sources, 2)]
    return out


def paired_differences(runs: pd.DataFrame, value: str = stats.VALUE) -> pd.DataFrame:
    """One row per (model, target, level, comparison): mean paired difference a − b and its CI.

    ``runs`` is the report's summary with ``stats.add_labels`` applied; dense runs (level 0)
    have nothing to pair with at a pruning level and are left out.
    """
    import pandas as pd

    rows = []
    data = runs[(runs.kind != stats.DENSE) & runs[value].notna()]
    for (model, target, level), group in data.groupby(["model", "target", "level"], sort=True):
        by_seed = group.groupby(["line", "seed"])[value].mean()  # one value per (line, seed)
        lines = sorted(group.line.unique())
        for family, a, b in _pairs(lines):
            sa, sb = by_seed.loc[a], by_seed.loc[b]
            seeds = sorted(set(sa.index) & set(sb.index))
            mean, low, high = interval([float(sa[s] - sb[s]) for s in seeds])
            rows.append(
                {
                    "model": model,
                    "target": target,
                    "level": int(level),
                    "weights_remaining": float(group.weights_remaining.mean()),
                    "comparison": family,
                    "a": a,
                    "b": b,
                    "n_seeds": len(seeds),
                    "mean": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "verdict": verdict(len(seeds), low, high),
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))
