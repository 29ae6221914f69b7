"""``build_report``: read a sweep's store, draw everything, write the report directory whole.

The directory is built under a temporary name and renamed into place (``fsio.atomic_dir``), so
a reader never sees half a report; then its files are logged to the sweep's parent run under
``report/``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ltsweep import fsio
from ltsweep.errors import UserError
from ltsweep.report import claims, collect, figures, html, matrix, optimizers, stats
from ltsweep.report import differences as D
from ltsweep.report.imported import imported_sources
from ltsweep.tracking import schema, sweep_store

if TYPE_CHECKING:
    import pandas as pd

    from ltsweep.storage.plan_keys import PlanKeys
    from ltsweep.sweep.config import ReportSettings

MARKER = ".ltsweep-report"  # marks a directory this command may replace
FIGURE_DIR = "figures"
KIND_ORDER = {stats.SAME: 0, stats.TRANSFERRED: 1, stats.RANDOM: 2, stats.DENSE: 3}


@dataclass
class Report:
    """Everything a report is made of; ``build_report`` returns it for tests and notebooks."""

    sweep: str
    tracking_uri: str
    out_dir: Path
    summary: pd.DataFrame  # one row per FINISHED result of the plan, exactly as in summary.csv
    not_finished: pd.DataFrame
    scale: float
    earlier: int = 0  # finished results of keys the recorded plan no longer holds: not shown
    repeated: int = 0  # further finished runs of a result already counted: not shown
    planned: int | None = None  # results the recorded plan makes (None: no plan recorded)
    margin_points: float = 1.0  # non-inferiority margin of the claims (report.margin_points)
    sparsity: float = (
        0.05  # weights remaining the claims are tested at (report.sparsity/--sparsity)
    )
    accuracy_figures: list[figures.ReportFigure] = field(default_factory=list)
    matrices: list[matrix.TransferMatrix] = field(default_factory=list)
    matrix_figures: list[figures.ReportFigure] = field(default_factory=list)
    optimizer_table: pd.DataFrame | None = None
    optimizer_figures: list[figures.ReportFigure] = field(default_factory=list)
    differences: pd.DataFrame | None = None  # paired differences with 95% CIs (differences.py)
    claims: list[str] = field(default_factory=list)  # one line per claim of the paper
    claims_table: pd.DataFrame | None = None  # the claims' evidence, as in claims.csv
    files: list[str] = field(default_factory=list)
    parent_run_id: str | None = None
    imported: pd.DataFrame | None = None  # imported ticket sources (report/imported.py)

    @property
    def all_figures(self) -> list[figures.ReportFigure]:
        return [*self.accuracy_figures, *self.matrix_figures, *self.optimizer_figures]


def _check_out_dir(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise UserError(
            f"{out} exists and is not an ltsweep report (a report replaces its directory whole): "
            "pass --report-dir with a new or empty directory"
        )


def assemble(report: Report, sparsities: list[float] | None) -> None:
    """Compute every figure and table of ``report`` from its summary. ``sparsities`` (``--sparsity``)
    override ``report.sparsity``: the claims are tested at the first, the matrix drawn at each."""
    chosen = list(sparsities) if sparsities else [report.sparsity]
    report.sparsity = chosen[0]
    runs = stats.add_labels(report.summary)
    left_out = stats.add_labels(report.not_finished)
    style = figures.styles(list(runs.line.unique()))
    report.accuracy_figures = figures.accuracy_figures(runs, left_out, style, report.scale)
    for _model, group in runs.groupby("model", sort=True):
        for level, requested in matrix.choose_levels(matrix.level_fractions(group), chosen):
            m = matrix.compute(group, level, requested)
            n = int(((group.level == level) & (group.kind != stats.DENSE)).sum())
            report.matrices.append(m)
            report.matrix_figures.append(matrix.figure(m, report.scale, n))
    report.optimizer_table = optimizers.table(runs)
    report.optimizer_figures = optimizers.figures(runs, style, report.scale)
    report.differences = D.paired_differences(runs, report.scale)
    report.claims, report.claims_table = claims.claim_lines(
        report.differences, report.margin_points, report.sparsity
    )


def _acc(mean: float, se: float, scale: float) -> str:
    if mean != mean:  # NaN
        return "—"
    text = f"{mean * scale:.2f}"
    return text + (f" ± {se * scale:.2f}" if se == se else "")


def summary_table(report: Report) -> pd.DataFrame:
    """Mean ± SE per (model, target, kind, source, level), formatted for the page."""
    import pandas as pd

    runs = stats.add_labels(report.summary)
    keys = ["model", "target", "kind", "source", "level"]
    final = stats.mean_se(runs, keys)
    best = stats.mean_se(runs, keys, value=schema.BEST_ACCURACY)
    table = final.merge(best[[*keys, "mean", "se"]], on=keys, how="left", suffixes=("", "_best"))
    table = table.sort_values(
        ["model", "target", "kind", "source", "level"],
        key=lambda col: col.map(KIND_ORDER).fillna(9) if col.name == "kind" else col,
    )
    s = report.scale
    return pd.DataFrame(
        {
            "model": table.model,
            "target": table.target,
            "kind": table.kind,
            "source": table.source,
            "level": table.level,
            "weights remaining": [stats.pct(w) for w in table.weights_remaining],
            "runs": table.n,
            "final test accuracy": [_acc(m, e, s) for m, e in zip(table["mean"], table["se"])],
            "best test accuracy": [_acc(m, e, s) for m, e in zip(table.mean_best, table.se_best)],
        }
    )


def differences_view(report: Report) -> pd.DataFrame:
    """The paired differences formatted for the page (points, CI, verdict)."""
    import pandas as pd

    d = report.differences
    if d is None or d.empty:
        return pd.DataFrame()

    def ci(n: int, low: float, high: float) -> str:
        # below MIN_SEEDS the interval is wider than it is useful (differences.csv keeps it)
        if low != low or n < stats.MIN_SEEDS:
            return "—"
        return f"{low:+.2f} to {high:+.2f}"

    return pd.DataFrame(
        {
            "model": d.model,
            "target": d.target,
            "level": d.level,
            "weights remaining": [stats.pct(w) for w in d.weights_remaining],
            "a − b": [f"{a} − {b}" for a, b in zip(d.a, d.b)],
            "seeds": d.n_seeds,
            "mean difference": [f"{m:+.2f}" for m in d["mean"]],
            "95% CI": [ci(int(n), lo, hi) for n, lo, hi in zip(d.n_seeds, d.ci_low, d.ci_high)],
            "verdict": d.verdict,
        }
    )


def _save(fig: figures.ReportFigure, root: Path) -> None:
    (root / FIGURE_DIR).mkdir(exist_ok=True)
    for ext in ("png", "svg"):
        rel = f"{FIGURE_DIR}/{fig.slug}.{ext}"
        meta = {"Date": None} if ext == "svg" else {"Software": None}
        fig.figure.savefig(root / rel, dpi=150, metadata=meta)
        fig.files.append(rel)


def page_notes(report: Report, generated: str) -> list[str]:
    """The lines above the page's sections: where from, what it holds, how to read it."""
    counts = report.not_finished.status.value_counts() if len(report.not_finished) else {}
    left = ", ".join(f"{k}: {v}" for k, v in sorted(dict(counts).items())) or "none"
    unit = "percent" if report.scale == 100.0 else "as stored"
    meta = [
        f"Store: {report.tracking_uri} · experiment {schema.experiment_name(report.sweep)}",
        f"Generated {generated}. {coverage(report)}; left out (not finished): {left}.",
        *([earlier_line(report)] if report.earlier or report.repeated else []),
        *([kernels] if (kernels := kernels_line(report)) else []),
        f"Accuracies are the final-epoch test accuracy ({unit}), mean ± standard error over seeds.",
        "Claims: “beats” holds when the paired 95% interval lies above 0; “does as well as” "
        f"when it lies above −{report.margin_points:g} points (the margin, report.margin_points "
        "in the sweep file); contradicted when it lies wholly below that bound; with fewer than "
        f"{stats.MIN_SEEDS} seeds a comparison is inconclusive. Each claim is tested at the "
        f"level nearest {stats.pct(report.sparsity)} weights remaining (report.sparsity, or "
        f"--sparsity); its decisions, holds and contradicted alike, are {stats.CORRECTION}-"
        "adjusted over its family (its comparisons; the count is in its line). Two sides both "
        f"within {stats.CHANCE_POINTS:g} points of chance (100 / classes), or both within one "
        "test image of 100%, are uninformative and not tested; the seeds' spread counts as at "
        "least one test image. Differences in points of accuracy (docs/verdicts.md).",
    ]
    return meta


def _page(report: Report, generated: str) -> str:
    import pandas as pd

    opt = report.optimizer_table
    has_opt = opt is not None and len(opt) > 0
    opt_view = optimizers.display(opt, report.scale) if has_opt else pd.DataFrame()
    sections = [
        html.Section(
            "accuracy",
            "Accuracy against weights remaining",
            "One figure per model and target; one line per ticket source, the target's "
            "own ticket (same), a random ticket and the dense network.",
            report.accuracy_figures,
        ),
        html.Section(
            "matrix",
            "Transfer matrix",
            "Ticket made on the row's configuration, trained on the column's, minus the "
            "column's own ticket (left) and a random ticket (right).",
            report.matrix_figures,
            links=[("transfer_matrix.csv", "transfer_matrix.csv")],
        ),
        html.Section(
            "optimizers",
            "Optimizer transfer",
            "Tickets made with one optimizer and trained with another on the same data.",
            report.optimizer_figures,
            [("Cross-optimizer tickets against the target's own", opt_view)],
            links=[("optimizer_transfer.csv", "optimizer_transfer.csv")],
        ),
        html.Section(
            "differences",
            "Paired differences",
            "Accuracy of line a minus line b on the same target, level and seed, averaged over "
            f"seeds, with a 95% t-interval over seeds (shown from {stats.MIN_SEEDS} seeds; differences.csv "
            "keeps every interval).",
            tables=[("Paired differences (points)", differences_view(report))],
            links=[("differences.csv", "differences.csv"), ("claims.csv", "claims.csv")],
        ),
        html.Section(
            "summary",
            "Summary",
            "Mean ± SE per group; one row per run in summary.csv.",
            tables=[("Finished results by group", summary_table(report))],
            links=[("summary.csv", "summary.csv")],
        ),
    ]
    if report.imported is not None and len(report.imported):
        sections.insert(
            0,
            html.Section(
                "imported",
                "Imported ticket sources",
                "Sources whose tickets this sweep did not make: published ticket bundles, by "
                "origin and bundle id (a bundle id hashes its tensors and what made them).",
                tables=[("Imported sources", report.imported)],
            ),
        )
    notes = page_notes(report, generated)
    return html.render(f"ltsweep report: {report.sweep}", notes, sections, report.claims)


def write(report: Report, root: Path) -> None:
    """Write every file of the report under ``root`` (a fresh directory)."""
    import pandas as pd

    for fig in report.all_figures:
        _save(fig, root)
    report.summary.to_csv(root / "summary.csv", index=False)
    tables = [matrix.long_table(m, report.scale) for m in report.matrices]
    cells = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    cells.to_csv(root / "transfer_matrix.csv", index=False)
    opt = report.optimizer_table if report.optimizer_table is not None else pd.DataFrame()
    optimizers.in_points(opt, report.scale).to_csv(root / "optimizer_transfer.csv", index=False)
    for name, table in (("differences", report.differences), ("claims", report.claims_table)):
        (table if table is not None else pd.DataFrame()).to_csv(root / f"{name}.csv", index=False)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    (root / "index.html").write_text(_page(report, generated), encoding="utf-8")
    (root / MARKER).write_text(f"ltsweep report of sweep {report.sweep}\n")
    report.files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _log(report: Report, client: object, experiment_id: str) -> None:
    parent = collect.find_parent_run(client, experiment_id, report.sweep)  # type: ignore[arg-type]
    report.parent_run_id = parent
    if parent is None:
        sys.stderr.write(
            f"ltsweep: warning: no parent run for sweep {report.sweep!r} in the "
            "store; the report is not logged to MLflow\n"
        )
        return
    try:
        client.log_artifacts(parent, str(report.out_dir), artifact_path="report")  # type: ignore[attr-defined]
    except Exception as exc:  # an unwritable artifact store must not lose the files on disk
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        sys.stderr.write(f"ltsweep: warning: report not logged to MLflow run {parent}: {first}\n")


def coverage(report: Report) -> str:
    """How many of the plan's results the report holds."""
    n = len(report.summary)
    if report.planned is None:
        return f"{n} finished results (no plan recorded in the store: every result run counts)"
    return f"{n} finished results of the {report.planned} the sweep's plan makes"


def earlier_line(report: Report) -> str:
    """The one line about results the report leaves out because the plan no longer holds them."""
    parts = []
    if report.earlier:
        n = report.earlier
        parts.append(
            f"{n} result{'s' if n != 1 else ''} of an earlier version of this sweep "
            f"{'are' if n != 1 else 'is'} not shown"
        )
    if report.repeated:
        parts.append(f"{report.repeated} repeated runs of a result already counted are not shown")
    return "; ".join(parts) + "."


def kernel_counts(report: Report) -> list[tuple[str, int]]:
    """(kernel family, results) for the results that say which kernels they ran on."""
    from collections import Counter

    said = report.summary["kernels"].dropna() if "kernels" in report.summary else []
    return sorted(Counter(str(k) for k in said).items())


def kernels_line(report: Report) -> str:
    """Which kernel families the results came from ("" when none says): a seed's runs agree bit
    for bit only on equal kernels, so a store that mixes them says so."""
    counts = kernel_counts(report)
    if not counts:
        return ""
    unsaid = len(report.summary) - sum(n for _, n in counts)
    tail = f"; {unsaid} recorded before results said" if unsaid else ""
    if len(counts) == 1:
        return f"Kernels: {counts[0][0]} for every result that says{tail}."
    each = ", ".join(f"{k} ({n})" for k, n in counts)
    return (
        f"Kernels: {len(counts)} families ({each}{tail}); a seed's runs agree bit for bit only "
        "within one, and differ across them as after a small perturbation (docs/compile.md)."
    )


def report_settings(where: sweep_store.Located, plan: PlanKeys | None) -> ReportSettings:
    """The sweep file's ``report`` settings (already loaded by ``locate``); without the file
    (a copied store), those ``run`` recorded with the plan; else the defaults."""
    from ltsweep.strict import Loader
    from ltsweep.sweep.config import ReportSettings

    if where.config is not None:
        return where.config.report
    if plan is not None and plan.report:
        return Loader(Path(where.name)).build(ReportSettings, plan.report, "report")
    return ReportSettings()


def build_report(
    sweep: str,
    out_dir: Path | str | None = None,
    tracking_uri: str | None = None,
    sparsities: list[float] | None = None,
    log_to_mlflow: bool = True,
    sweep_out: Path | str | None = None,
) -> Report:
    """Write the report of ``sweep`` (a name or a YAML path) from its FINISHED result runs.

    Args:
        sweep: sweep name, or path to its YAML.
        out_dir: report directory; ``<sweep output>/report`` when None.
        tracking_uri: the store; else as ``ltsweep run`` finds it (``sweep_store.locate``).
        sparsities: fractions of weights remaining (nearest levels): the claims are tested at
            the first, the transfer matrix drawn at each; default the sweep's report.sparsity.
        log_to_mlflow: also log the files to the sweep's parent run under ``report/``.
        sweep_out: the sweep's output directory if ``ltsweep run`` was given ``--out``.
    """
    from ltsweep.storage.paths import SweepPaths

    where = sweep_store.locate(sweep, sweep_out, tracking_uri)
    name, uri = where.name, where.tracking_uri
    client, experiment_id = sweep_store.open_experiment(uri, name, where)
    plan = where.recorded_plan()
    with sweep_store.reading(uri):
        got = collect.collect(client, experiment_id, plan)
        imported = imported_sources(client, experiment_id, plan)
    finished = got.finished
    if finished.empty:
        raise UserError(
            f"no finished results in experiment {schema.experiment_name(name)!r} at {uri} "
            f"yet: let `{where.run_command}` finish some, then report again"
        )
    out = Path(out_dir) if out_dir is not None else SweepPaths(where.out).report
    _check_out_dir(out)
    scale = stats.percent_scale(finished[stats.VALUE])
    settings = report_settings(where, plan)
    report = Report(
        name,
        uri,
        out.resolve(),
        finished,
        got.not_finished,
        scale,
        got.earlier,
        got.repeated,
        got.planned,
        settings.margin_points,
        settings.sparsity,
    )
    report.imported = imported
    assemble(report, sparsities)
    with fsio.atomic_dir(out) as tmp:
        write(report, tmp)
    if log_to_mlflow:
        _log(report, client, experiment_id)
    return report
