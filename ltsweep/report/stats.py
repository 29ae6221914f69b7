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


def too_few_seeds(n: int) -> str:
    return f"{INCONCLUSIVE} ({n} seed{'' if n == 1 else 's'})"


def verdict(test: str, n: int, low: float, high: float, margin: float) -> str:
    """A claim's verdict on one paired difference (a − b) and its 95% interval.

    ``superiority`` ("beats", "better"): holds when the interval lies above 0. ``non-inferiority``
    ("does as well as", "close to"): holds when it lies above −``margin``. Contradicted when the
    interval lies wholly below that bound; otherwise, or with fewer than ``MIN_SEEDS`` seeds,
    inconclusive. ``margin`` is in the differences' own unit.
    """
    if n < MIN_SEEDS or low != low or high != high:
        return too_few_seeds(n)
    bound = 0.0 if test == SUPERIORITY else -margin
    if low > bound:
        return HOLDS
    return CONTRADICTED if high < bound else INCONCLUSIVE
