"""The paper's claims, each with its evidence in this sweep: one line per claim for index.html.

Each claim picks its comparisons from the paired differences (``differences.py``) at one declared
sparsity: per model and target, the level whose weights remaining is nearest the sweep's
``report.sparsity`` (or ``ltsweep report --sparsity``). Comparisons are classified by the
sweep's structure (``differences.relation``: the target's own ticket, the same entry with
another optimizer, another half or subset of one registered dataset, another dataset), never by
names. Each is judged with the test its claim's words need: "beats" is superiority (above 0),
"does as well as" non-inferiority (above −margin, ``report.margin_points``), one-sided at 2.5%
per direction (a 95% interval's bound), with the seeds' spread floored at one test image, and
Holm's adjustment over the family (the claim's rows) for "holds" and "contradicted" alike. Fewer
than three seeds is "inconclusive (n seeds)"; two sides at chance or at the ceiling are
"uninformative" and never tested (docs/verdicts.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ltsweep.report import differences as D
from ltsweep.report import stats

if TYPE_CHECKING:
    import pandas as pd

SHOWN = 4  # per-comparison evidence items written out in a claim's line


def _mask(values: list[bool], rows: pd.DataFrame):
    """A boolean row mask (a plain empty list would select no *columns* instead)."""
    import numpy as np

    return np.asarray(values, dtype=bool).reshape(len(rows))


SWAP = (("a", "b"), ("a_relation", "b_relation"), ("a_source", "b_source"))
SWAP += (("a_train_size", "b_train_size"), ("a_mean", "b_mean"))


def _larger_first(rows: pd.DataFrame) -> pd.DataFrame:
    """Source-vs-source rows of two sources whose training-set sizes (as the trials had them)
    are known and differ, oriented larger − smaller."""
    keep = [
        D.known(a) is not None and D.known(b) is not None and int(a) != int(b)
        for a, b in zip(rows.a_train_size, rows.b_train_size)
    ]
    out = rows.loc[_mask(keep, rows)].copy()
    for i in out.index:
        r = out.loc[i]
        if int(r.a_train_size) < int(r.b_train_size):
            for x, y in SWAP:
                out.loc[i, [x, y]] = [r[y], r[x]]
            out.loc[i, ["mean", "ci_low", "ci_high"]] = [-r["mean"], -r.ci_high, -r.ci_low]
            out.loc[i, "verdict"] = D.verdict(
                int(r.n_seeds), -r.ci_high, -r.ci_low, r.b_mean, r.a_mean, r.chance, r.resolution
            )
    return out


@dataclass(frozen=True)
class Claim:
    slug: str
    statement: str
    unit: str  # what one comparison is, for "holds in k of n <unit>"
    missing: str  # what the sweep lacks when there is nothing to compare
    select: Callable[[pd.DataFrame], pd.DataFrame]
    test: str  # stats.SUPERIORITY or stats.NON_INFERIORITY: what the statement's words need


def _vs_random(rows: pd.DataFrame, relation: str) -> pd.DataFrame:
    return rows[(rows.comparison == D.VS_RANDOM) & (rows.a_relation == relation)]


def _vs_own(rows: pd.DataFrame, relation: str) -> pd.DataFrame:
    return rows[(rows.comparison == D.VS_OWN) & (rows.a_relation == relation)]


CLAIMS = (
    Claim(
        "tickets_beat_random",
        "Winning tickets beat random tickets",
        "targets",
        "random-ticket controls",
        lambda r: _vs_random(r, D.OWN),
        stats.SUPERIORITY,
    ),
    Claim(
        "transfer_matches_own",
        "Tickets transferred from another dataset do as well as the target's own, or better",
        "source → target pairs",
        "transfers between datasets",
        lambda r: _vs_own(r, D.OTHER_DATASET),
        stats.NON_INFERIORITY,
    ),
    Claim(
        "same_distribution_control",
        "Tickets moved between halves or subsets of one dataset (the same-distribution control) "
        "do as well as the target's own",
        "source → target pairs",
        "transfers between halves or subsets of one dataset",
        lambda r: _vs_own(r, D.SAME_DISTRIBUTION),
        stats.NON_INFERIORITY,
    ),
    Claim(
        "transfer_beats_random",
        "Tickets transferred from another dataset beat random tickets",
        "source → target pairs",
        "transferred tickets with random controls",
        lambda r: _vs_random(r, D.OTHER_DATASET),
        stats.SUPERIORITY,
    ),
    Claim(
        "larger_source_better",
        "Tickets from the larger source dataset transfer better",
        "target × source-pair comparisons",
        "targets with tickets from two sources of different training-set sizes",
        lambda r: _larger_first(r[r.comparison == D.SOURCE_VS_SOURCE]),
        stats.SUPERIORITY,
    ),
    Claim(
        "across_optimizers",
        "Tickets transfer between optimizers (SGD ↔ Adam) on the same data, as well as the "
        "target's own",
        "source → target pairs",
        "tickets moved between optimizers",
        lambda r: _vs_own(r, D.SAME_DATA),
        stats.NON_INFERIORITY,
    ),
)
BY_SLUG = {c.slug: c for c in CLAIMS}


def claim_level_rows(diffs: pd.DataFrame, sparsity: float) -> pd.DataFrame:
    """Per (model, target): the rows at the level whose weights remaining is nearest (in log)
    ``sparsity``, the fraction the sweep declares (``report.sparsity``)."""
    import pandas as pd

    if diffs.empty:
        return diffs
    keep = []
    for _key, group in diffs.groupby(["model", "target"], sort=True):
        levels = group.groupby("level").weights_remaining.mean()
        distance = (levels.apply(math.log) - math.log(sparsity)).abs()
        keep.append(group[group.level == int(distance.idxmin())])
    return pd.concat(keep, ignore_index=True)


def _points(value: float) -> str:
    return f"{value:+.1f}".replace("-", "−")


def _who(row) -> str:
    if row.comparison == D.SOURCE_VS_SOURCE:
        return f"{row.a_source} vs {row.b_source} on {row.target}"
    if row.a_relation == D.OWN:
        return str(row.target)
    return f"{row.a_source} → {row.target}"


def _item(row) -> str:
    if row.tested:
        ci = f"95% CI {_points(row.ci_low)} to {_points(row.ci_high)}"
        return f"{_who(row)} {_points(row['mean'])} ({ci}): {row.verdict}"
    return f"{_who(row)} {_points(row['mean'])}: {row.verdict}"


def criterion(claim: Claim, margin_points: float) -> str:
    """The rule a comparison must pass for the claim to hold, in words."""
    if claim.test == stats.SUPERIORITY:
        return "holds = 95% interval above 0"
    return f"holds = 95% interval above −{margin_points:g} points, the margin"


def _decide(p_holds: float, p_contradicted: float) -> str:
    if p_holds < stats.ALPHA:
        return stats.HOLDS
    return stats.CONTRADICTED if p_contradicted < stats.ALPHA else stats.INCONCLUSIVE


def judge(claim: Claim, rows: pd.DataFrame, margin_points: float) -> pd.DataFrame:
    """The claim's evidence rows, each with its raw and adjusted verdicts and what is needed to
    judge it again (``supports`` is the adjusted "holds")."""
    out = rows.copy().reset_index(drop=True)
    margin = margin_points if claim.test == stats.NON_INFERIORITY else 0.0
    at = stats.bound(claim.test, margin)
    n = [int(x) for x in out.n_seeds]
    floor = [
        stats.uninformative(a, b, c, r) if k >= stats.MIN_SEEDS else None
        for k, a, b, c, r in zip(n, out.a_mean, out.b_mean, out.chance, out.resolution)
    ]
    tested = [
        k >= stats.MIN_SEEDS and f is None and lo == lo for k, f, lo in zip(n, floor, out.ci_low)
    ]
    used = [stats.spread(sd, r) for sd, r in zip(out.sd, out.resolution)]
    p = [
        stats.p_values(k, m, sd, at) if t else (math.nan, math.nan)
        for k, m, sd, t in zip(n, out["mean"], used, tested)
    ]
    raw = [
        _decide(ph, pc) if t else (f or stats.too_few_seeds(k))
        for (ph, pc), t, f, k in zip(p, tested, floor, n)
    ]
    holds = stats.holm([ph for ph, _ in p])
    contra = stats.holm([pc for _, pc in p])
    adjusted = [
        (stats.HOLDS if h else stats.CONTRADICTED if c else stats.INCONCLUSIVE) if t else r
        for h, c, t, r in zip(holds, contra, tested, raw)
    ]
    family = sum(tested)
    alpha = stats.ALPHA / max(family, 1)  # the strictest step of Holm's procedure
    out["test"] = claim.test
    out["margin_points"] = margin
    out["tested"] = tested
    out["sd_used"] = used
    out["p_holds"] = [ph for ph, _ in p]
    out["p_contradicted"] = [pc for _, pc in p]
    out["raw_verdict"] = raw
    out["verdict"] = adjusted
    out["correction"] = stats.CORRECTION
    out["family_tests"] = family
    out["seeds_to_settle"] = [
        stats.seeds_to_settle(m, sd, at, alpha) if t and v == stats.INCONCLUSIVE else None
        for m, sd, t, v in zip(out["mean"], used, tested, adjusted)
    ]
    out["smallest_margin"] = [
        max(0.0, stats.half_width(k, sd, alpha) - m)
        if t and claim.test == stats.NON_INFERIORITY
        else math.nan
        for k, m, sd, t in zip(n, out["mean"], used, tested)
    ]
    out["supports"] = [v == stats.HOLDS for v in adjusted]
    return out


def _where(rows: pd.DataFrame, sparsity: float) -> str:
    used = sorted({round(float(w), 6) for w in rows.weights_remaining})
    at = stats.pct(used[0]) if len(used) == 1 else f"{stats.pct(used[0])}–{stats.pct(used[-1])}"
    return f"at {at} weights remaining (the level nearest report.sparsity {stats.pct(sparsity)})"


def _power(claim: Claim, rows: pd.DataFrame) -> str:
    """What the current seeds can settle at the observed spread."""
    tested = rows[rows.tested]
    if tested.empty:
        return ""
    if claim.test == stats.NON_INFERIORITY:
        margin = float(tested.smallest_margin.max())
        text = f"these seeds could confirm a margin of {margin:.1f} points for every comparison"
    else:
        alpha = stats.ALPHA / len(tested)
        widths = [
            stats.half_width(int(k), sd, alpha) for k, sd in zip(tested.n_seeds, tested.sd_used)
        ]
        text = f"these seeds resolve differences beyond ±{max(widths):.1f} points"
    open_rows = tested[tested.verdict == stats.INCONCLUSIVE]
    if len(open_rows):
        need = list(open_rows.seeds_to_settle)
        if any(D.known(x) is None for x in need):
            text += "; an inconclusive one sits on the bound: no number of seeds would settle it"
        else:
            text += f"; about {int(max(need))} seeds would settle the inconclusive ones"
    return f"; {text} (at the observed mean and spread)"


def summary_line(claim: Claim, rows: pd.DataFrame, margin_points: float, sparsity: float) -> str:
    """One claim's line from its judged evidence rows (``judge``)."""
    if rows.empty:
        return f"{claim.statement}: not tested in this sweep (no {claim.missing})."
    n = len(rows)
    verdicts = list(rows.verdict)
    k, c = verdicts.count(stats.HOLDS), verdicts.count(stats.CONTRADICTED)
    u = sum(1 for v in verdicts if v.startswith(stats.UNINFORMATIVE))
    few = sum(1 for v in verdicts if v.startswith(stats.INCONCLUSIVE + " ("))
    i = n - k - c - u
    counts = f"holds in {k}, contradicted in {c}, inconclusive in {i}"
    counts += f", uninformative (at chance or ceiling) in {u}" if u else ""
    counts += f" of {n} {claim.unit}"
    family = int(rows.family_tests.iloc[0])
    rule = f"{criterion(claim, margin_points)}, {stats.CORRECTION}-adjusted over the {family} tests"
    if few == n:
        seeds = "/".join(str(x) for x in sorted({int(x) for x in rows.n_seeds}))
        counts = f"inconclusive in all {n} {claim.unit}"
        plural = "" if seeds == "1" else "s"
        rule = f"{seeds} paired seed{plural}, {stats.MIN_SEEDS} needed for a verdict"
    elif few:
        counts += f" ({few} of them with fewer than {stats.MIN_SEEDS} seeds)"
    order = {stats.HOLDS: 0, stats.CONTRADICTED: 1, stats.INCONCLUSIVE: 2}
    ranked = rows.assign(_o=[order.get(v, 3) for v in verdicts]).sort_values("_o", kind="stable")
    shown = [_item(r) for _i, r in ranked.head(SHOWN).iterrows()]
    more = f"; {n - SHOWN} more in claims.csv" if n > SHOWN else ""
    mean = float(rows["mean"].mean())
    return (
        f"{claim.statement}: {counts} {_where(rows, sparsity)} "
        f"({rule}; mean difference {_points(mean)} points{_power(claim, rows)}; "
        f"{'; '.join(shown)}{more})."
    )


def evidence(
    claim: Claim, rows: pd.DataFrame, margin_points: float = 1.0, sparsity: float = 0.05
) -> tuple[str, pd.DataFrame]:
    """The claim's line and its judged evidence rows."""
    judged = judge(claim, claim.select(rows), margin_points)
    return summary_line(claim, judged, margin_points, sparsity), judged


COLUMNS = (
    "claim",
    "statement",
    "test",
    "unit",
    "margin_points",
    "sparsity",
    *(c for c in D.COLUMNS if c not in ("verdict", "unit")),
    "sd_used",
    "p_holds",
    "p_contradicted",
    "raw_verdict",
    "correction",
    "family_tests",
    "verdict",
    "supports",
    "seeds_to_settle",
    "smallest_margin",
)


def claim_lines(
    diffs: pd.DataFrame, margin_points: float = 1.0, sparsity: float = 0.05
) -> tuple[list[str], pd.DataFrame]:
    """Every claim's line, and one table of all their evidence for claims.csv: the raw numbers
    and interval, chance and the test set's resolution, p-values, the raw and the adjusted
    verdict under its claim's test, and the margin used."""
    import pandas as pd

    rows = claim_level_rows(diffs, sparsity)
    lines, tables = [], []
    for claim in CLAIMS:
        line, ev = evidence(claim, rows, margin_points, sparsity)
        lines.append(line)
        tables.append(ev.assign(claim=claim.slug, statement=claim.statement, sparsity=sparsity))
    table = pd.concat([t for t in tables if not t.empty] or [pd.DataFrame(columns=COLUMNS)])
    return lines, table.reindex(columns=list(COLUMNS)).reset_index(drop=True)
