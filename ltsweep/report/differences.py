"""Paired differences between ticket kinds, with a 95% confidence interval over seeds, in points.

Two lines of a figure are compared on the same target and level, seed by seed: the same seed
trains both (same data order, same initialisation where the kinds share one), so the paired
difference has far less noise than the difference of two means. The interval is Student's t over
the paired seeds; with fewer than two pairs there is no interval, and with fewer than three
(1 degree of freedom, a multiplier of 12.7) the verdict is "inconclusive (n seeds)" although the
interval is kept in differences.csv.

Each line is described by the results' typed axes (``collect``): its kind, its source entry and
the registered dataset behind it, the training-set size it had; how a ticket's source relates to
the target (``relation``) is read from them, never from a label. Every value is in points of
accuracy (``UNIT``), whatever scale the store holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any

from ltsweep.report import stats

if TYPE_CHECKING:
    import pandas as pd

CONFIDENCE = 0.95
UNIT = "points"  # of accuracy: 0-100
# Comparison families: what the report's claims are built from.
VS_RANDOM = "ticket − random"
VS_OWN = "transferred − own"
SOURCE_VS_SOURCE = "source − source"
BETTER, WORSE, SPANS_ZERO = "better", "worse", "interval spans 0"
# How a ticket's source relates to the target it trains on (from the typed axes).
OWN = "own"  # the target's own IMP run
SAME_DATA = "same data"  # the same entry, another optimizer
SAME_DISTRIBUTION = "same distribution"  # another half or subset of one registered dataset
OTHER_DATASET = "another dataset"
COLUMNS = (
    "model",
    "target",
    "level",
    "weights_remaining",
    "comparison",
    "a",
    "b",
    "a_relation",
    "b_relation",
    "a_source",
    "b_source",
    "a_train_size",
    "b_train_size",
    "n_seeds",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
    "a_mean",
    "b_mean",
    "chance",
    "test_size",
    "resolution",
    "verdict",
    "unit",
)
# Axis columns a store written before the typed record lacks: read as unknown.
STRUCTURE = ("source_registered", "target_registered", "source_train_size")
STRUCTURE += ("target_classes", "target_test_size")


@dataclass(frozen=True)
class Line:
    """One line of a figure at one target: a ticket kind and, for a transferred ticket, its
    source; ``relation`` says how the source relates to the target."""

    label: str  # how the page writes it ("same", "random", "from digits/sgd")
    kind: str
    source: str  # the source configuration's label, "" for random
    relation: str
    train_size: int | None  # the source's training-set size (None: unknown)


def known(value: Any) -> Any:
    """``value``, or None where it is missing (None, NaN or pandas' NA)."""
    import pandas as pd

    return None if value is None or bool(pd.isna(value)) else value


def relation(row: Any) -> str:
    """How a result's ticket relates to its target, from the typed axes of ``row``."""
    if row.kind == stats.SAME:
        return OWN
    if row.kind != stats.TRANSFERRED:
        return row.kind  # random
    if row.source_dataset == row.target_dataset:
        return SAME_DATA
    source = known(row.source_registered) or row.source_dataset
    target = known(row.target_registered) or row.target_dataset
    return SAME_DISTRIBUTION if source == target else OTHER_DATASET


def with_structure(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with every structural column present (unknown where the store lacks it)."""
    out = runs.copy()
    for col in STRUCTURE:
        if col not in out.columns:
            out[col] = None
    return out


def _lines(group: pd.DataFrame) -> dict[str, Line]:
    lines = {}
    for row in group.drop_duplicates("line").itertuples():
        source = row.source if row.kind == stats.TRANSFERRED else ""
        size = known(row.source_train_size)
        lines[row.line] = Line(
            row.line, row.kind, source, relation(row), None if size is None else int(size)
        )
    return lines


def interval(diffs: list[float]) -> tuple[float, float, float, float]:
    """(mean, sd, low, high) of the paired differences; sd/low/high NaN with fewer than two."""
    n = len(diffs)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    mean = sum(diffs) / n
    if n < 2:
        return mean, math.nan, math.nan, math.nan
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    return mean, sd, mean - half, mean + half


def t_quantile(df: int, confidence: float = CONFIDENCE) -> float:
    from scipy.stats import t

    return float(t.ppf(0.5 + confidence / 2, df))


def verdict(
    n: int,
    low: float,
    high: float,
    a_mean: float = math.nan,
    b_mean: float = math.nan,
    chance: float = math.nan,
    resolution: float = math.nan,
) -> str:
    """Which side of zero the interval is on; fewer than ``stats.MIN_SEEDS`` seeds say nothing,
    and neither do two sides at chance or at the ceiling (``stats.uninformative``)."""
    if n < stats.MIN_SEEDS or low != low:
        return stats.too_few_seeds(n)
    floor = stats.uninformative(a_mean, b_mean, chance, resolution)
    if floor:
        return floor
    if low > 0:
        return BETTER
    return WORSE if high < 0 else SPANS_ZERO


def _pairs(lines: dict[str, Line]) -> list[tuple[str, Line, Line]]:
    """(family, a, b) for every comparison the lines present at one target and level allow."""
    tickets = sorted(
        (x for x in lines.values() if x.kind == stats.TRANSFERRED), key=lambda x: x.label
    )
    own = lines.get(stats.SAME)
    random = lines.get(stats.RANDOM)
    mine = ([own] if own else []) + tickets
    out = [(VS_RANDOM, x, random) for x in mine if random is not None]
    if own is not None:
        out += [(VS_OWN, x, own) for x in tickets]
    out += [(SOURCE_VS_SOURCE, a, b) for a, b in combinations(tickets, 2)]
    return out


def _first(group: pd.DataFrame, col: str) -> Any:
    values = group[col].dropna()
    return known(values.iloc[0]) if len(values) else None


def paired_differences(
    runs: pd.DataFrame, scale: float = 100.0, value: str = stats.VALUE
) -> pd.DataFrame:
    """One row per (model, target, level, comparison): mean paired difference a − b and its CI,
    in points (``scale``: 100 when the store holds fractions, 1 when it holds percent).

    ``runs`` is the report's summary with ``stats.add_labels`` applied; dense runs (level 0)
    have nothing to pair with at a pruning level and are left out.
    """
    import pandas as pd

    rows = []
    runs = with_structure(runs)
    data = runs[(runs.kind != stats.DENSE) & runs[value].notna()]
    for (model, target, level), group in data.groupby(["model", "target", "level"], sort=True):
        by_seed = group.groupby(["line", "seed"])[value].mean() * scale  # one per (line, seed)
        classes, test_size = _first(group, "target_classes"), _first(group, "target_test_size")
        chance = 100.0 / classes if classes else math.nan
        resolution = 100.0 / test_size if test_size else math.nan
        for family, a, b in _pairs(_lines(group)):
            sa, sb = by_seed.loc[a.label], by_seed.loc[b.label]
            seeds = sorted(set(sa.index) & set(sb.index))
            mean, sd, low, high = interval([float(sa[s] - sb[s]) for s in seeds])
            a_mean = float(sa[seeds].mean()) if seeds else math.nan
            b_mean = float(sb[seeds].mean()) if seeds else math.nan
            rows.append(
                {
                    "model": model,
                    "target": target,
                    "level": int(level),
                    "weights_remaining": float(group.weights_remaining.mean()),
                    "comparison": family,
                    "a": a.label,
                    "b": b.label,
                    "a_relation": a.relation,
                    "b_relation": b.relation,
                    "a_source": a.source,
                    "b_source": b.source,
                    "a_train_size": a.train_size,
                    "b_train_size": b.train_size,
                    "n_seeds": len(seeds),
                    "mean": mean,
                    "sd": sd,
                    "ci_low": low,
                    "ci_high": high,
                    "a_mean": a_mean,
                    "b_mean": b_mean,
                    "chance": chance,
                    "test_size": test_size,
                    "resolution": resolution,
                    "verdict": verdict(len(seeds), low, high, a_mean, b_mean, chance, resolution),
                    "unit": UNIT,
                }
            )
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("a_train_size", "b_train_size", "test_size"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    return out
