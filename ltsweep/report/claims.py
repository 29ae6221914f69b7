"""The paper's claims, each with its evidence in this sweep: one line per claim for index.html.

Each claim picks its comparisons from the paired differences (``differences.py``) at every
target's sparsest level with at most ``HIGH_SPARSITY`` of the weights left (the paper's region
of interest; docs/design.md#the-study) and judges each with the test its words need
(``stats.verdict``): "beats" is superiority (95% interval above 0), "does as well as" is
non-inferiority (interval above −margin, the sweep's ``report.margin_points``). Holds,
contradicted and inconclusive are counted separately; fewer than three seeds is
"inconclusive (n seeds)" (docs/verdicts.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ltsweep.report import differences as D
from ltsweep.report import stats

if TYPE_CHECKING:
    import pandas as pd

HIGH_SPARSITY = 0.10
SHOWN = 4  # per-comparison evidence items written out in a claim's line
# Training-split sizes, to order sources by size ("larger datasets transfer best" [paper]).
TRAIN_SIZES = {
    "digits": 1_347,
    "shapes": 3_000,
    "fashion_mnist": 60_000,
    "svhn": 73_257,
    "cifar10": 50_000,
    "cifar100": 50_000,
    "imagenet": 1_281_167,
    "places365": 1_803_460,
}


def source_of(line: str) -> str:
    """The source dataset of a transferred line ``from digits/sgd`` -> ``digits``."""
    return line.removeprefix("from ").split("/")[0]


def _dataset(config: str) -> str:
    return config.split("/")[0]


def _mask(values: list[bool], rows: pd.DataFrame):
    """A boolean row mask (a plain empty list would select no *columns* instead)."""
    import numpy as np

    return np.asarray(values, dtype=bool).reshape(len(rows))


def _larger_first(rows: pd.DataFrame) -> pd.DataFrame:
    """Source-vs-source rows of two differently sized sources, oriented larger − smaller."""
    size = [
        (TRAIN_SIZES.get(source_of(a)), TRAIN_SIZES.get(source_of(b)))
        for a, b in zip(rows.a, rows.b)
    ]
    keep = [sa is not None and sb is not None and sa != sb for sa, sb in size]
    out = rows.loc[_mask(keep, rows)].copy()
    flip = [sa < sb for (sa, sb), k in zip(size, keep) if k]
    for i, f in zip(out.index, flip):
        if f:
            r = out.loc[i]
            out.loc[i, ["a", "b"]] = [r.b, r.a]
            out.loc[i, ["mean", "ci_low", "ci_high"]] = [-r["mean"], -r.ci_high, -r.ci_low]
            out.loc[i, "verdict"] = D.verdict(int(r.n_seeds), -r.ci_high, -r.ci_low)
    return out


@dataclass(frozen=True)
class Claim:
    slug: str
    statement: str
    unit: str  # what one comparison is, for "holds in k of n <unit>"
    missing: str  # what the sweep lacks when there is nothing to compare
    select: Callable[[pd.DataFrame], pd.DataFrame]
    test: str  # stats.SUPERIORITY or stats.NON_INFERIORITY: what the statement's words need


def _vs_random(rows: pd.DataFrame, transferred: bool) -> pd.DataFrame:
    mine = rows.a.str.startswith("from ") if transferred else rows.a == stats.SAME
    return rows[(rows.comparison == D.VS_RANDOM) & mine]


def _vs_own(rows: pd.DataFrame, same_data: bool) -> pd.DataFrame:
    own = rows[rows.comparison == D.VS_OWN]
    same = [source_of(a) == _dataset(t) for a, t in zip(own.a, own.target)]
    return own.loc[_mask([s == same_data for s in same], own)]


CLAIMS = (
    Claim(
        "tickets_beat_random",
        "Winning tickets beat random tickets at high sparsity",
        "targets",
        "random-ticket controls",
        lambda r: _vs_random(r, transferred=False),
        stats.SUPERIORITY,
    ),
    Claim(
        "transfer_matches_own",
        "Tickets transferred from another dataset do as well as the target's own, or better",
        "source → target pairs",
        "transfers between datasets",
        lambda r: _vs_own(r, same_data=False),
        stats.NON_INFERIORITY,
    ),
    Claim(
        "transfer_beats_random",
        "Transferred tickets beat random tickets",
        "source → target pairs",
        "transferred tickets with random controls",
        lambda r: _vs_random(r, transferred=True),
        stats.SUPERIORITY,
    ),
    Claim(
        "larger_source_better",
        "Tickets from the larger source dataset transfer better",
        "target × source-pair comparisons",
        "targets with tickets from two sources of different size",
        lambda r: _larger_first(r[r.comparison == D.SOURCE_VS_SOURCE]),
        stats.SUPERIORITY,
    ),
    Claim(
        "across_optimizers",
        "Tickets transfer between optimizers (SGD ↔ Adam) on the same data, as well as the "
        "target's own",
        "source → target pairs",
        "tickets moved between optimizers",
        lambda r: _vs_own(r, same_data=True),
        stats.NON_INFERIORITY,
    ),
)
BY_SLUG = {c.slug: c for c in CLAIMS}


def claim_level_rows(diffs: pd.DataFrame) -> pd.DataFrame:
    """Per (model, target): the rows at its sparsest level with ≤ HIGH_SPARSITY weights left,
    or at its sparsest level when none is that sparse."""
    if diffs.empty:
        return diffs
    keep = []
    for _key, group in diffs.groupby(["model", "target"], sort=True):
        sparse = group[group.weights_remaining <= HIGH_SPARSITY + 1e-9]
        pool = sparse if not sparse.empty else group
        keep.append(pool[pool.level == pool.level.max()])
    import pandas as pd

    return pd.concat(keep, ignore_index=True)


def _points(value: float, scale: float) -> str:
    return f"{value * scale:+.1f}".replace("-", "−")


def _item(row, scale: float) -> str:
    who = row.target if row.a == stats.SAME else f"{row.a.removeprefix('from ')} → {row.target}"
    if row.comparison == D.SOURCE_VS_SOURCE:
        who = f"{row.a.removeprefix('from ')} vs {row.b.removeprefix('from ')} on {row.target}"
    if int(row.n_seeds) < stats.MIN_SEEDS or row.ci_low != row.ci_low:
        return f"{who} {_points(row['mean'], scale)}: {row.verdict}"
    ci = f"95% CI {_points(row.ci_low, scale)} to {_points(row.ci_high, scale)}"
    return f"{who} {_points(row['mean'], scale)} ({ci}): {row.verdict}"


def criterion(claim: Claim, margin_points: float) -> str:
    """The rule a comparison must pass for the claim to hold, in words."""
    if claim.test == stats.SUPERIORITY:
        return "holds = 95% interval above 0"
    return f"holds = 95% interval above −{margin_points:g} points, the margin"


def judge(claim: Claim, rows: pd.DataFrame, margin_points: float, scale: float) -> pd.DataFrame:
    """The claim's evidence rows with its verdict (replacing the family's) and ``supports``."""
    out = rows.copy()
    margin = margin_points / scale  # in the differences' own unit
    out["verdict"] = [
        stats.verdict(claim.test, int(n), lo, hi, margin)
        for n, lo, hi in zip(out.n_seeds, out.ci_low, out.ci_high)
    ]
    out["supports"] = [v == stats.HOLDS for v in out.verdict]
    out["test"] = claim.test
    out["margin_points"] = margin_points if claim.test == stats.NON_INFERIORITY else 0.0
    return out


def summary_line(claim: Claim, rows: pd.DataFrame, scale: float, margin_points: float) -> str:
    """One claim's line from its judged evidence rows (``judge``)."""
    if rows.empty:
        return f"{claim.statement}: not tested in this sweep (no {claim.missing})."
    unit = "points" if scale == 100.0 else "(as stored)"
    n = len(rows)
    verdicts = list(rows.verdict)
    k, c = verdicts.count(stats.HOLDS), verdicts.count(stats.CONTRADICTED)
    few = sum(1 for v in verdicts if v.startswith(stats.INCONCLUSIVE + " ("))
    i = n - k - c
    counts = f"holds in {k}, contradicted in {c}, inconclusive in {i} of {n} {claim.unit}"
    rule = criterion(claim, margin_points)
    if few == n:
        seeds = "/".join(str(x) for x in sorted({int(x) for x in rows.n_seeds}))
        counts = f"inconclusive in all {n} {claim.unit}"
        rule = f"{seeds} paired seeds, {stats.MIN_SEEDS} needed for a verdict"
    elif few:
        counts += f" ({few} of them with fewer than {stats.MIN_SEEDS} seeds)"
    order = {stats.HOLDS: 0, stats.CONTRADICTED: 1, stats.INCONCLUSIVE: 2}
    ranked = rows.assign(_o=[order.get(v, 3) for v in verdicts]).sort_values("_o", kind="stable")
    shown = [_item(r, scale) for _i, r in ranked.head(SHOWN).iterrows()]
    more = f"; {n - SHOWN} more in claims.csv" if n > SHOWN else ""
    mean = float(rows["mean"].mean())
    sparsest = float(rows.weights_remaining.max())
    where = f"at ≤ {stats.pct(HIGH_SPARSITY)} weights"
    if sparsest > HIGH_SPARSITY + 1e-9:  # the sweep never prunes that far: say what was used
        where = f"at each target's sparsest level (up to {stats.pct(sparsest)} weights)"
    return (
        f"{claim.statement}: {counts} {where} "
        f"({rule}; mean difference {_points(mean, scale)} {unit}; "
        f"{'; '.join(shown)}{more})."
    )


def evidence(
    claim: Claim, rows: pd.DataFrame, scale: float, margin_points: float = 1.0
) -> tuple[str, pd.DataFrame]:
    """The claim's line and its judged evidence rows."""
    judged = judge(claim, claim.select(rows), margin_points, scale)
    return summary_line(claim, judged, scale, margin_points), judged


COLUMNS = ("claim", "statement", "test", "margin_points", *D.COLUMNS, "supports")


def claim_lines(
    diffs: pd.DataFrame, scale: float, margin_points: float = 1.0
) -> tuple[list[str], pd.DataFrame]:
    """Every claim's line, and one table of all their evidence for claims.csv (the numbers, each
    row's verdict under its claim's test, and the margin used)."""
    import pandas as pd

    rows = claim_level_rows(diffs)
    lines, tables = [], []
    for claim in CLAIMS:
        line, ev = evidence(claim, rows, scale, margin_points)
        lines.append(line)
        tables.append(ev.assign(claim=claim.slug, statement=claim.statement))
    table = pd.concat([t for t in tables if not t.empty] or [pd.DataFrame(columns=COLUMNS)])
    return lines, table.reindex(columns=list(COLUMNS)).reset_index(drop=True)
