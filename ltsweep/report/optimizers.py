"""The optimizer-transfer view: tickets made with one optimizer, trained with another, same data.

For each (model, dataset): one panel per training optimizer that received a ticket made with
another optimizer on the same dataset (e.g. SGD-made tickets trained with Adam), against the
target's own ticket, with random and dense for context; and a table of the gaps per level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ltsweep.report import stats
from ltsweep.report.figures import ReportFigure, Style, draw_accuracy, new_figure, slug

if TYPE_CHECKING:
    import pandas as pd

TABLE_COLUMNS = (
    "model",
    "dataset",
    "made_with",
    "trained_with",
    "level",
    "weights_remaining",
    "own_mean",
    "own_se",
    "own_n",
    "ticket_mean",
    "ticket_se",
    "ticket_n",
    "ticket_minus_own",
)


def cross_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Transferred runs whose ticket was made on the same dataset with another optimizer."""
    return runs[
        (runs.kind == stats.TRANSFERRED)
        & (runs.source_dataset == runs.target_dataset)
        & (runs.source_optimizer != runs.target_optimizer)
    ]


def table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (model, dataset, made with, trained with, level): own and cross ticket, and the gap."""
    import pandas as pd

    cross = cross_runs(runs)
    keys = ["model", "target_dataset", "source_optimizer", "target_optimizer", "level"]
    ticket = stats.mean_se(cross, keys)
    own = stats.mean_se(runs[runs.kind == stats.SAME], keys[:2] + keys[3:])
    if ticket.empty:
        return pd.DataFrame(columns=list(TABLE_COLUMNS))
    merged = ticket.merge(own, how="left", on=keys[:2] + keys[3:], suffixes=("_t", "_o"))
    out = pd.DataFrame(
        {
            "model": merged.model,
            "dataset": merged.target_dataset,
            "made_with": merged.source_optimizer,
            "trained_with": merged.target_optimizer,
            "level": merged.level,
            "weights_remaining": merged.weights_remaining_t,
            "own_mean": merged.mean_o,
            "own_se": merged.se_o,
            "own_n": merged.n_o.fillna(0).astype(int),
            "ticket_mean": merged.mean_t,
            "ticket_se": merged.se_t,
            "ticket_n": merged.n_t.astype(int),
            "ticket_minus_own": merged.mean_t
            - merged.mean_o,  # NaN where the own ticket is missing
        }
    )
    return out.sort_values(list(TABLE_COLUMNS[:5])).reset_index(drop=True)


def in_points(table: pd.DataFrame, scale: float) -> pd.DataFrame:
    """``table`` for ``optimizer_transfer.csv``: accuracies and the gap in points (``unit``)."""
    out = table.copy()
    for col in ("own_mean", "own_se", "ticket_mean", "ticket_se", "ticket_minus_own"):
        if col in out.columns:
            out[col] = out[col] * scale
    out["unit"] = "points" if scale == 100.0 else "as stored"
    return out


def display(table: pd.DataFrame, scale: float) -> pd.DataFrame:
    """``table`` formatted for the page: mean ± SE (n) per ticket and the gap, in display units."""
    import pandas as pd

    def fmt(mean: float, se: float, n: int) -> str:
        if mean != mean:  # NaN: not finished yet
            return "—"
        spread = f" ± {se * scale:.2f}" if se == se else ""
        return f"{mean * scale:.2f}{spread} (n={n})"

    gap = table.ticket_minus_own * scale
    return pd.DataFrame(
        {
            "model": table.model,
            "dataset": table.dataset,
            "made with": table.made_with,
            "trained with": table.trained_with,
            "level": table.level,
            "weights remaining": [stats.pct(w) for w in table.weights_remaining],
            "own ticket": [fmt(*v) for v in zip(table.own_mean, table.own_se, table.own_n)],
            "cross-optimizer ticket": [
                fmt(*v) for v in zip(table.ticket_mean, table.ticket_se, table.ticket_n)
            ],
            "ticket − own": [f"{g:+.2f}" if g == g else "—" for g in gap],
        }
    )


def figures(runs: pd.DataFrame, style: dict[str, Style], scale: float) -> list[ReportFigure]:
    """One figure per (model, dataset) with a cross-optimizer ticket; one panel per direction."""
    cross = cross_runs(runs)
    out = []
    for (model, dataset), group in cross.groupby(["model", "target_dataset"], sort=True):
        trained_with = sorted(group.target_optimizer.unique())
        fig = new_figure(7.0 * len(trained_with) + 0.8, 5.0)
        axes = fig.subplots(1, len(trained_with), squeeze=False)[0]
        n_runs, lines = 0, []
        for ax, opt in zip(axes, trained_with):
            here = runs[
                (runs.model == model)
                & (runs.target_dataset == dataset)
                & (runs.target_optimizer == opt)
            ]
            keep = here.kind.isin(stats.CONTROLS) | here.index.isin(group.index)
            panel = here[keep]
            made = ", ".join(sorted(group[group.target_optimizer == opt].source_optimizer.unique()))
            lines += draw_accuracy(ax, panel, style, scale)
            ax.set_title(f"trained with {opt}: tickets made with {made} vs own", fontsize=11)
            ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
            n_runs += len(panel)
        axes[0].set_ylabel("final test accuracy" + (" (%)" if scale == 100.0 else ""))
        title = f"{model} on {dataset}: tickets moved between optimizers"
        fig.suptitle(title, fontsize=13)
        fig.supxlabel(
            f"Built from {n_runs} finished results; mean ± SE over seeds. "
            "Missing points are results not finished yet.",
            fontsize=9,
            color="0.25",
        )
        out.append(ReportFigure(slug("optimizer", model, dataset), title, fig, n_runs, lines))
    return out
