"""The paper's figure: test accuracy against the fraction of weights remaining, one per target.

One figure per (model, target dataset, target optimizer); one line per ticket source, plus the
target's own ticket (``same``), the ``random`` control and the ``dense`` network as a band. Lines
are mean ± standard error over seeds; a level with no finished run is a gap, never a zero.
Figures are plain ``matplotlib.figure.Figure`` objects on an Agg canvas: no pyplot, no GUI.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ltsweep.report import stats

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# tab10 without its grey (kept for the controls): nine colours that stay distinct.
PALETTE = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:red",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h")
NICE_TICKS = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001)
DENSE_COLOR = "0.35"
MAX_LEVEL_TICKS = 8  # up to this many levels, each gets its own tick label


@dataclass(frozen=True)
class Style:
    color: str
    marker: str
    linestyle: str = "-"


@dataclass
class ReportFigure:
    """A figure and what the report needs to file and caption it."""

    slug: str
    title: str
    figure: Figure
    n_runs: int
    lines: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # relative paths, filled in when saved


def slug(*parts: Any) -> str:
    """A file-name-safe name from its parts: ``accuracy__vgg19__cifar10__sgd``."""
    return "__".join(re.sub(r"[^A-Za-z0-9._-]+", "_", str(p)) for p in parts)


def styles(lines: list[str]) -> dict[str, Style]:
    """Line label -> style: fixed for the controls, one colour and marker per source, stable."""
    out = {stats.SAME: Style("black", "o"), stats.RANDOM: Style("tab:gray", "x", "--")}
    sources = sorted({line for line in lines if line not in stats.CONTROLS})
    for i, line in enumerate(sources):
        dash = "-" if i < len(PALETTE) else "-."
        out[line] = Style(PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)], dash)
    return out


def new_figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas (imported here, lazily, so ``import ltsweep`` stays cheap)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def line_order(lines: list[str]) -> list[str]:
    """``same`` first, then sources alphabetically, then ``random``."""
    sources = sorted(x for x in set(lines) if x not in stats.CONTROLS)
    return [x for x in (stats.SAME, *sources, stats.RANDOM) if x in set(lines)]


def draw_accuracy(ax: Axes, runs: pd.DataFrame, style: dict[str, Style], scale: float) -> list[str]:
    """Draw mean ± SE lines (and the dense band) of labelled ``runs`` on ``ax``; return the lines."""
    pruned = runs[runs.kind != stats.DENSE]
    levels = sorted(int(v) for v in pruned.level.dropna().unique())
    level_x = pruned.groupby("level").weights_remaining.mean()
    agg = stats.mean_se(pruned, ["line", "level"])
    drawn = []
    for line in line_order(list(agg.line.unique())):
        sub = agg[agg.line == line].set_index("level").reindex(levels)  # gaps stay NaN
        x = sub.weights_remaining.fillna(level_x.reindex(levels)).to_numpy(dtype=float)
        y = sub["mean"].to_numpy(dtype=float) * scale
        se = sub["se"].to_numpy(dtype=float) * scale
        st = style.get(line, Style("black", "."))
        ax.plot(
            x,
            y,
            label=line,
            color=st.color,
            marker=st.marker,
            linestyle=st.linestyle,
            linewidth=1.8,
            markersize=5,
        )
        ax.fill_between(x, y - se, y + se, color=st.color, alpha=0.18, linewidth=0)
        drawn.append(line)
    dense = stats.mean_se(runs[runs.kind == stats.DENSE], ["kind"])
    if not dense.empty:
        mean, se = float(dense["mean"].iloc[0]) * scale, float(dense["se"].iloc[0]) * scale
        ax.axhline(mean, color=DENSE_COLOR, linestyle=":", linewidth=1.6, label=stats.DENSE)
        if math.isfinite(se):
            ax.axhspan(mean - se, mean + se, color=DENSE_COLOR, alpha=0.15, linewidth=0)
        drawn.append(stats.DENSE)
    format_sparsity_axis(ax, pruned.weights_remaining.dropna().tolist())
    return drawn


def format_sparsity_axis(ax: Axes, xs: list[float]) -> None:
    """Log x axis, decreasing left to right, ticks labelled in percent of weights remaining."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    xs = [x for x in xs if x > 0] or [1.0]
    lo, hi = min(xs), max(xs)
    ax.set_xscale("log")
    ax.set_xlim(hi * 1.25, lo / 1.25)  # inverted: dense on the left, sparse on the right
    levels = sorted({float(f"{x:.3g}") for x in xs})
    ticks = [t for t in NICE_TICKS if lo / 1.25 <= t <= hi * 1.25]
    if len(levels) <= MAX_LEVEL_TICKS or len(ticks) < 3:  # few levels: label each one
        ticks = levels
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: stats.pct(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("fraction of weights remaining (log scale)")
    ax.grid(True, which="major", alpha=0.3)


def caption(runs: pd.DataFrame, not_finished: int) -> str:
    """The line under a figure: how many finished results it is built from, and what is left out."""
    counts = runs.kind.value_counts()
    parts = ", ".join(f"{k}: {counts[k]}" for k in sorted(counts.index))
    seeds = runs.seed.nunique()
    first = f"Built from {len(runs)} finished results ({parts}) over {seeds} seed(s); mean ± SE."
    second = "Missing points are results not finished yet"
    if not_finished:
        second += f"; {not_finished} unfinished or failed result(s) left out"
    return f"{first}\n{second}."


def accuracy_figures(
    runs: pd.DataFrame, not_finished: pd.DataFrame, style: dict[str, Style], scale: float
) -> list[ReportFigure]:
    """One figure per (model, target dataset, target optimizer) among labelled finished ``runs``."""
    out = []
    for key, group in runs.groupby(list(stats.TARGET), sort=True):
        model, dataset, optimizer = key
        left_out = not_finished[
            (not_finished.model == model)
            & (not_finished.target_dataset == dataset)
            & (not_finished.target_optimizer == optimizer)
        ]
        fig = new_figure(9.5, 5.2)
        ax = fig.add_subplot()
        title = f"{model}: trained on {dataset} with {optimizer}"
        lines = draw_accuracy(ax, group, style, scale)
        ax.set_title(title, fontsize=13)
        ax.set_ylabel("final test accuracy" + (" (%)" if scale == 100.0 else ""))
        ax.legend(title="ticket", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=10)
        fig.supxlabel(caption(group, len(left_out)), fontsize=9, color="0.25")
        out.append(
            ReportFigure(slug("accuracy", model, dataset, optimizer), title, fig, len(group), lines)
        )
    return out
