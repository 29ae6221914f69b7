"""What every benchmark shares: interleaved timing (A B A B, warm-up dropped, so that drift in
the machine's load hits both sides), rows with per-pair ratios, machine info, the tables.
"""

from __future__ import annotations

import json
import operator
import os
import platform
import re
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROW_KEYS = (
    *("name", "metric", "unit", "baseline_label", "baseline", "candidate_label", "candidate"),
    *("ratio_median", "ratio_min", "ratio_max", "target", "notes"),
)
REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"


def interleave(
    baseline: Callable[[], float],
    candidate: Callable[[], float],
    repeats: int,
    warmup: int = 1,
    log: Callable[[str], None] | None = None,
) -> tuple[list[float], list[float]]:
    """Call ``baseline`` and ``candidate`` alternately, ``repeats`` pairs after ``warmup`` pairs.

    Each callable returns its own measured figure (images/s, seconds, ...). Warm-up pairs are
    run first and discarded: they pay for first-call costs (allocator, page cache, imports).
    """
    for _ in range(warmup):
        baseline()
        candidate()
    base, cand = [], []
    for i in range(repeats):
        base.append(baseline())
        cand.append(candidate())
        if log is not None:
            log(f"  pair {i + 1}/{repeats}: baseline {fmt(base[-1])}, candidate {fmt(cand[-1])}")
    return base, cand


def make_row(
    name: str,
    metric: str,
    unit: str,
    baseline_label: str,
    baseline: Sequence[float],
    candidate_label: str,
    candidate: Sequence[float],
    target: str,
    notes: str = "",
    ratios: Sequence[float] | None = None,
) -> dict[str, Any]:
    """A result row from per-repeat figures; ratios are candidate/baseline per interleaved pair
    unless given."""
    if ratios is None:
        ratios = [c / b for b, c in zip(baseline, candidate)]
    med = statistics.median
    values = (name, metric, unit, baseline_label, med(baseline), candidate_label, med(candidate))
    row = dict(zip(ROW_KEYS, (*values, med(ratios), min(ratios), max(ratios), target, notes)))
    row.update(repeats=len(ratios), baseline_values=list(baseline))
    return {**row, "candidate_values": list(candidate)}


def not_run_row(
    name: str, metric: str, unit: str, base: str, cand: str, target: str, reason: str
) -> dict[str, Any]:
    """A row that says plainly why it has no figures (e.g. "no GPU")."""
    row = {**dict.fromkeys(ROW_KEYS), "name": name, "metric": metric, "unit": unit}
    row.update(baseline_label=base, candidate_label=cand, target=target)
    return {**row, "notes": f"not run: {reason}"}


def error_row(module: str, exc: BaseException) -> dict[str, Any]:
    """The row a benchmark module that raised is reported as."""
    message = (str(exc).strip().splitlines() or [""])[0][:300]
    row = not_run_row(module, "-", "-", "-", "-", "-", "")
    return {**row, "notes": f"error: {type(exc).__name__}: {message}", "error": True}


_TARGET = re.compile(r"^\s*(candidate\s+)?(<=|>=|<|>|==)\s*([0-9.eE+-]+)")
_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq}


def target_met(row: dict[str, Any]) -> str:
    """Whether the row meets its target: "yes", "no", or "-" (no figures, or a free-form target).
    A target like ">= 0.95" applies to the median ratio, "candidate < 15" to the figure itself."""
    match = _TARGET.match(str(row.get("target") or ""))
    value = None if not match else row.get("candidate" if match.group(1) else "ratio_median")
    if value is None:
        return "-"
    return "yes" if _OPS[match.group(2)](value, float(match.group(3))) else "no"


def check_row(row: Any) -> dict[str, Any]:
    """A module's row, refused if it lacks one of ``ROW_KEYS``."""
    if not isinstance(row, dict):
        raise TypeError(f"a benchmark row must be a dict, got {type(row).__name__}")
    if missing := [k for k in ROW_KEYS if k not in row]:
        raise ValueError(f"row {row.get('name', '?')!r} lacks {', '.join(missing)}")
    return row


# -- the machine --------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    models = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")]
    return next(iter(models), None) or platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """Where the figures came from: CPU model, cores, torch version, GPU name or "none"."""
    import torch

    cuda = torch.cuda.is_available()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if cuda else "none",
        "gpus": torch.cuda.device_count() if cuda else 0,
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def machine_line(machine: dict[str, Any]) -> str:
    cpu, cores, torch, gpu = (machine[k] for k in ("cpu", "cores", "torch", "gpu"))
    return f"{cpu}, {cores} cores, torch {torch}, GPU {gpu}"


# -- writing ------------------------------------------------------------------------------------
def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0 or 0.01 <= abs(value) < 1e5:
            return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)


def format_table(rows: Sequence[dict[str, Any]], machine: dict[str, Any]) -> str:
    """The Markdown table: one line per row, the machine on every line."""
    head = "benchmark | metric | candidate | baseline | ratio median (min–max) | target | met"
    lines = [f"| {head} | machine | notes |", "|" + "---|" * 9]
    for r in rows:
        ratio = "-"
        if r.get("ratio_median") is not None:
            ratio = f"{fmt(r['ratio_median'])} ({fmt(r['ratio_min'])}–{fmt(r['ratio_max'])})"
        unit = f" {r['unit']}" if r.get("unit") not in (None, "", "-") else ""
        cand = f"{fmt(r['candidate'])}{unit} ({r['candidate_label']})"
        base = f"{fmt(r['baseline'])}{unit} ({r['baseline_label']})"
        if r.get("candidate") is None:
            cand, base = f"- ({r['candidate_label']})", f"- ({r['baseline_label']})"
        cells = [r["name"], r["metric"], cand, base, ratio, r["target"], target_met(r)]
        cells += [machine_line(machine), r.get("notes", "")]
        lines.append(
            "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
        )
    return "\n".join(lines)


def write_results(report: dict[str, Any], out_dir: Path = RESULTS_DIR) -> tuple[Path, Path]:
    """``latest.md`` and ``latest.json`` in ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    machine, quick = report["machine"], " · quick mode" if report.get("quick") else ""
    md = [
        "# ltsweep benchmarks",
        "",
        f"- command: `{report['command']}`",
        f"- started: {report['started']} · took {report['seconds']:.0f} s{quick}",
        f"- machine: {machine_line(machine)} · load average at start "
        f"{machine.get('load_average_at_start')}",
        "- ratio = candidate / baseline per interleaved pair; median (min–max) over the pairs",
        "",
        format_table(report["rows"], machine),
        "",
    ]
    md_path, json_path = out_dir / "latest.md", out_dir / "latest.json"
    md_path.write_text("\n".join(md))
    json_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return md_path, json_path
