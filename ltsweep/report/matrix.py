"""The transfer matrix: ticket source × target configuration at chosen sparsities.

Cell (source S, target T) = mean final test accuracy of S's ticket trained on T, minus T's own
ticket (``same``) at the same level; a second matrix subtracts T's ``random`` ticket instead. On
the diagonal the ticket *is* T's own, so "vs own" is 0 there and "vs random" is own − random.
A cell with no finished run is NaN (drawn hatched and blank), never 0. Rows are every
configuration with a ticket (a transfer source, or a target's own IMP run); columns every target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ltsweep.report import stats
from ltsweep.report.figures import ReportFigure, new_figure, slug

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.image import AxesImage

# Default sparsities: the levels nearest these fractions of weights remaining, when reached.
DEFAULT_SPARSITIES = (0.2, 0.05, 0.01)


@dataclass
class TransferMatrix:
    model: str
    level: int
    weights_remaining: float
    requested: float | None
    ticket: pd.DataFrame  # mean accuracy, rows = source config, columns = target config
    n: pd.DataFrame  # finished runs behind each ticket cell
    vs_own: pd.DataFrame
    vs_random: pd.DataFrame


def level_fractions(runs: pd.DataFrame) -> pd.Series:
    """Level -> mean fraction of weights remaining, over pruned (non-dense, < 1) runs."""
    pruned = runs[(runs.kind != stats.DENSE) & (runs.weights_remaining < 1.0)]
    return pruned.dropna(subset=["level"]).groupby("level").weights_remaining.mean().sort_index()


def choose_levels(
    fractions: pd.Series, requested: list[float] | None = None
) -> list[tuple[int, float | None]]:
    """(level, requested fraction) pairs: the level nearest (in log) each requested fraction.

    With nothing requested, the defaults count only where the sweep gets within a factor of two
    of them; if none does, the sparsest level present is used.
    """
    if fractions.empty:
        return []
    targets = list(requested) if requested else list(DEFAULT_SPARSITIES)
    chosen: dict[int, float | None] = {}
    for want in targets:
        dist = (fractions.apply(math.log) - math.log(want)).abs()
        level = int(dist.idxmin())
        if requested or dist.min() <= math.log(2.0):
            chosen.setdefault(level, want)
    if not chosen:
        chosen[int(fractions.index.max())] = None
    return sorted(chosen.items())


def compute(runs: pd.DataFrame, level: int, requested: float | None = None) -> TransferMatrix:
    """The matrices of one model's labelled runs at ``level`` (see the module docstring)."""
    pruned = runs[runs.kind != stats.DENSE]
    configs = sorted(set(pruned.target) | set(pruned[pruned.kind == stats.TRANSFERRED].source))
    targets = sorted(set(pruned.target))
    at = pruned[pruned.level == level].dropna(subset=[stats.VALUE])
    transferred = at[(at.kind == stats.TRANSFERRED) & (at.source != at.target)]
    own = at[at.kind == stats.SAME].assign(source=lambda d: d.target)
    import pandas as pd

    parts = [stats.mean_se(d, ["source", "target"]) for d in (transferred, own) if len(d)]
    empty = pd.DataFrame(columns=["source", "target", "n", "mean"])
    tickets = pd.concat(parts, ignore_index=True) if parts else empty
    ticket = tickets.pivot(index="source", columns="target", values="mean")
    ticket = ticket.reindex(index=configs, columns=targets).astype(float)
    n = tickets.pivot(index="source", columns="target", values="n")
    n = n.reindex(index=configs, columns=targets).fillna(0).astype(int)
    own_mean = own.groupby("target")[stats.VALUE].mean().reindex(targets)
    rand = at[at.kind == stats.RANDOM].groupby("target")[stats.VALUE].mean().reindex(targets)
    for frame in (ticket, n):
        frame.index.name, frame.columns.name = "source", "target"
    fractions = level_fractions(runs)
    wr = float(fractions.get(level, math.nan))
    model = str(runs.model.iloc[0]) if len(runs) else ""
    return TransferMatrix(
        model,
        level,
        wr,
        requested,
        ticket,
        n,
        ticket.sub(own_mean, axis=1),
        ticket.sub(rand, axis=1),
    )


def long_table(m: TransferMatrix, scale: float = 1.0) -> pd.DataFrame:
    """One row per (source, target) cell: for ``transfer_matrix.csv``; accuracies and
    differences in points (``scale``: 100 for a store of fractions), as its ``unit`` says."""
    out = m.ticket.stack(future_stack=True).rename("ticket_mean").reset_index()
    out["ticket_mean"] = out.ticket_mean * scale
    out["ticket_n"] = m.n.stack(future_stack=True).to_numpy()
    out["vs_own"] = m.vs_own.stack(future_stack=True).to_numpy() * scale
    out["vs_random"] = m.vs_random.stack(future_stack=True).to_numpy() * scale
    out["unit"] = "points" if scale == 100.0 else "as stored"
    out.insert(0, "weights_remaining", m.weights_remaining)
    out.insert(0, "level", m.level)
    out.insert(0, "model", m.model)
    return out


def _cell_text(value: float, scale: float) -> str:
    return f"{value:+.1f}" if scale == 100.0 else f"{value:+.3g}"


def _heatmap(ax: Axes, data: pd.DataFrame, vmax: float, scale: float, title: str) -> AxesImage:
    import matplotlib
    import numpy as np
    from matplotlib.patches import Rectangle

    arr = data.to_numpy(dtype=float) * scale
    rows, cols = arr.shape
    cmap = matplotlib.colormaps["RdBu"].with_extremes(bad=(0, 0, 0, 0))  # NaN: see the hatch
    ax.add_patch(
        Rectangle(
            (-0.5, -0.5), cols, rows, facecolor="white", edgecolor="0.75", hatch="///", zorder=0
        )
    )
    image = ax.imshow(np.ma.masked_invalid(arr), cmap=cmap, vmin=-vmax, vmax=vmax, zorder=1)
    ax.set_xticks(range(cols), labels=list(data.columns), rotation=30, ha="right")
    ax.set_yticks(range(rows), labels=list(data.index))
    for i in range(rows):
        for j in range(cols):
            if math.isfinite(arr[i, j]):
                dark = abs(arr[i, j]) > 0.6 * vmax
                ax.text(
                    j,
                    i,
                    _cell_text(arr[i, j], scale),
                    ha="center",
                    va="center",
                    fontsize=10,
                    color="white" if dark else "black",
                )
    ax.set_xlabel("target: trained on")
    ax.set_ylabel("ticket made on")
    ax.set_title(title, fontsize=11)
    return image


def figure(m: TransferMatrix, scale: float, n_runs: int) -> ReportFigure:
    """Both heatmaps of ``m`` side by side, values written in the cells."""
    import numpy as np

    rows, cols = m.ticket.shape
    both = np.concatenate([m.vs_own.to_numpy(float).ravel(), m.vs_random.to_numpy(float).ravel()])
    finite = np.abs(both[np.isfinite(both)]) * scale
    vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    fig = new_figure(2 * (0.95 * cols + 2.2) + 1.2, 0.55 * rows + 3.0)
    axes = fig.subplots(1, 2)
    unit = " (points)" if scale == 100.0 else ""
    image = _heatmap(axes[0], m.vs_own, vmax, scale, "vs the target's own ticket" + unit)
    _heatmap(axes[1], m.vs_random, vmax, scale, "vs a random ticket" + unit)
    fig.colorbar(image, ax=axes, shrink=0.85, label="accuracy difference" + unit)
    title = f"{m.model}: transfer at {stats.pct(m.weights_remaining)} weights remaining (level {m.level})"
    fig.suptitle(title, fontsize=13)
    fig.supxlabel(
        "Mean final test accuracy of the ticket minus the baseline; diagonal: the target's own "
        "ticket.\nHatched: no finished result (not run yet, failed, or not in the sweep). "
        f"Built from {n_runs} finished results at this level.",
        fontsize=9,
        color="0.25",
    )
    return ReportFigure(
        slug("matrix", m.model, f"level{m.level:02d}"), title, fig, n_runs, ["vs own", "vs random"]
    )
