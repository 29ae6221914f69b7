"""Aggregation over seeds (mean ± SE: docs/design.md#the-study) and the report's labels."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ltsweep.core.jobs import DENSE, RANDOM, SAME, TRANSFERRED
from ltsweep.tracking import schema

if TYPE_CHECKING:
    import pandas as pd

VALUE = schema.FINAL_ACCURACY  # the paper's figures use the final-epoch accuracy
CONTROLS = (SAME, RANDOM, DENSE)
TARGET = ("model", "target_dataset", "target_optimizer")


def config_label(dataset: str, optimizer: str) -> str:
    """How a (dataset, optimizer) configuration is written everywhere: ``cifar10/sgd``."""
    return f"{dataset}/{optimizer}"


def line_label(kind: str, source_dataset: str, source_optimizer: str) -> str:
    """The line a result run belongs to in an accuracy figure: a control's kind, or its source."""
    if kind in CONTROLS:
        return kind
    source = config_label(source_dataset, source_optimizer)
    return f"from {source}" if kind == TRANSFERRED else f"{kind} from {source}"


def add_labels(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with ``source``, ``target`` and ``line`` label columns."""
    out = df.copy()
    out["source"] = [config_label(d, o) for d, o in zip(out.source_dataset, out.source_optimizer)]
    out["target"] = [config_label(d, o) for d, o in zip(out.target_dataset, out.target_optimizer)]
    out["line"] = [
        line_label(k, d, o) for k, d, o in zip(out.kind, out.source_dataset, out.source_optimizer)
    ]
    return out


def mean_se(df: pd.DataFrame, by: list[str], value: str = VALUE) -> pd.DataFrame:
    """Per group: ``n`` runs, ``mean`` and ``se`` of ``value``, mean ``weights_remaining``, seeds.

    ``se`` is the sample standard deviation over √n, NaN when fewer than two runs: one seed has
    no spread to show, and drawing zero would claim a certainty the data do not have.
    """
    import pandas as pd

    cols = [*by, "n", "mean", "se", "weights_remaining", "seeds"]
    data = df.dropna(subset=[value])
    if data.empty:
        return pd.DataFrame(columns=cols)
    grouped = data.groupby(by, dropna=False, sort=True)
    out = grouped.agg(
        n=(value, "count"),
        mean=(value, "mean"),
        std=(value, "std"),
        weights_remaining=("weights_remaining", "mean"),
        seeds=("seed", "nunique"),
    ).reset_index()
    out["se"] = [s / math.sqrt(n) if n >= 2 else math.nan for s, n in zip(out["std"], out["n"])]
    return out[cols]


def percent_scale(values: pd.Series) -> float:
    """100 when accuracies are stored as fractions (all ≤ 1), else 1: the report shows percent."""
    finite = values.dropna()
    return 100.0 if finite.empty or float(finite.abs().max()) <= 1.0 else 1.0


def pct(fraction: float) -> str:
    """A weights-remaining fraction as a short percentage: 0.2 -> '20%', 0.0012 -> '0.12%'."""
    return f"{fraction * 100:.3g}%"


# Verdicts. A t-interval from 2 seeds has 1 degree of freedom (multiplier 12.7): wider than the
# accuracy scale, so below MIN_SEEDS a comparison is inconclusive whatever its interval says.
MIN_SEEDS = 3
HOLDS, CONTRADICTED, INCONCLUSIVE = "holds", "contradicted", "inconclusive"
SUPERIORITY, NON_INFERIORITY = "superiority", "non-inferiority"  # the tests claims' words need
# Floor and ceiling (docs/verdicts.md): two sides both within CHANCE_POINTS of chance (100 /
# classes), or both within one test image of 100%, cannot tell tickets apart: no verdict.
CHANCE_POINTS = 2.0
AT_CHANCE, AT_CEILING = "uninformative (at chance)", "uninformative (at ceiling)"
UNINFORMATIVE = "uninformative"
# One test image in points (100 / test-set size) is the smallest spread a comparison is allowed:
# a zero-width interval is never evidence by itself. Where the test set's size is unknown (a
# store written before it was recorded), this many points.
DEFAULT_RESOLUTION = 0.1
ALPHA = 0.025  # one-sided, per direction: a 95% two-sided interval's bound
CORRECTION = "Holm"


def too_few_seeds(n: int) -> str:
    return f"{INCONCLUSIVE} ({n} seed{'' if n == 1 else 's'})"


def uninformative(a_mean: float, b_mean: float, chance: float, resolution: float) -> str | None:
    """AT_CHANCE when both sides' mean accuracies (points) lie within CHANCE_POINTS of chance,
    AT_CEILING when both lie within one test image of 100%; else None."""
    if chance == chance and max(abs(a_mean - chance), abs(b_mean - chance)) <= CHANCE_POINTS:
        return AT_CHANCE
    image = resolution if resolution == resolution else DEFAULT_RESOLUTION
    if min(a_mean, b_mean) >= 100.0 - image - 1e-9:
        return AT_CEILING
    return None


def spread(sd: float, resolution: float) -> float:
    """The standard deviation a verdict uses: the seeds' own, but at least one test image."""
    image = resolution if resolution == resolution else DEFAULT_RESOLUTION
    return max(sd, image) if sd == sd else math.nan


def bound(test: str, margin: float) -> float:
    return 0.0 if test == SUPERIORITY else -margin


def p_values(n: int, mean: float, sd: float, at: float) -> tuple[float, float]:
    """One-sided p-values of "the true difference is above ``at``" (holds) and "below" it
    (contradicted), Student's t with n − 1 degrees of freedom on the paired differences."""
    from scipy.stats import t

    if n < 2 or sd != sd or sd <= 0:
        return math.nan, math.nan
    stat = (mean - at) / (sd / math.sqrt(n))
    return float(t.sf(stat, n - 1)), float(t.cdf(stat, n - 1))


def holm(p: list[float], alpha: float = ALPHA) -> list[bool]:
    """Holm's step-down rejections of ``p`` at family-wise level ``alpha`` (NaN never rejects)."""
    order = sorted((v, i) for i, v in enumerate(p) if v == v)
    m, out = len(order), [False] * len(p)
    for step, (value, i) in enumerate(order):
        if value > alpha / (m - step):
            break
        out[i] = True
    return out


def half_width(n: int, sd: float, alpha: float = ALPHA) -> float:
    """Half the width of the two-sided (1 − 2·alpha) t-interval of n paired differences."""
    from scipy.stats import t

    return float(t.isf(alpha, n - 1)) * sd / math.sqrt(n) if n >= 2 else math.nan


def seeds_to_settle(
    mean: float, sd: float, at: float, alpha: float, most: int = 1000
) -> int | None:
    """Paired seeds that would settle a comparison (interval wholly on one side of ``at``) if
    more seeds kept the observed mean and spread; None when no number would (mean at ``at``)."""
    gap = abs(mean - at)
    if sd != sd or gap == 0:
        return None
    for n in range(MIN_SEEDS, most + 1):
        if half_width(n, sd, alpha) < gap:
            return n
    return None
