"""Result runs of the sweep's current plan, from its MLflow experiment, as one tidy DataFrame
(one row per result).

Only FINISHED runs count; the others (RUNNING, FAILED, KILLED) are returned apart so that each
figure can say how many results it leaves out. With the plan the store records
(``storage.plan_keys``), a run whose key the plan does not hold (an earlier version of the sweep
file planned it) is counted, never shown, and one result key never counts twice (its first
finished run does). Values are copied from the store unchanged: the summary CSV must match it
exactly. Each row's axes come from the tracking package's typed record (``tracking.axes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ltsweep.sweep.trial import Entry, TrialAxes
from ltsweep.tracking import axes as A
from ltsweep.tracking import schema
from ltsweep.tracking.search import search_pages

if TYPE_CHECKING:
    import pandas as pd

    from ltsweep.storage.plan_keys import PlanKeys

# Columns, in the order the summary shows them: each a function of the typed axes.
AXIS_COLUMNS = (
    "model",
    "target_dataset",
    "target_optimizer",
    "kind",
    "source_dataset",
    "source_optimizer",
    "level",
    "weights_remaining",
    "seed",
    "stage",
    # what the verdicts need beyond names: the registered dataset behind each entry (the
    # same-distribution control), the training-set sizes used, chance (1/classes) and the test
    # set's resolution (one image)
    "source_registered",
    "source_train_size",
    "target_registered",
    "target_train_size",
    "target_classes",
    "target_test_size",
)
INT_AXES = ("level", "seed", "source_train_size", "target_train_size", "target_classes")
INT_AXES += ("target_test_size",)
# Column -> metric key: the final-epoch and best-epoch accuracy, and the last value of the others.
METRIC_COLUMNS = {
    schema.FINAL_ACCURACY: schema.FINAL_ACCURACY,
    schema.BEST_ACCURACY: schema.BEST_ACCURACY,
    "final_test_loss": "test_loss",
    "final_train_loss": "train_loss",
    "final_train_accuracy": "train_accuracy",
}
ID_COLUMNS = ("trial_key", "run_id")
# the arithmetic a result came from (core/kernels.py): one seed agrees bit for bit only on equal
# kernels; empty for runs recorded before the tag existed
PROVENANCE_COLUMNS = ("kernels",)
COLUMNS = (*AXIS_COLUMNS, *METRIC_COLUMNS, *ID_COLUMNS, *PROVENANCE_COLUMNS)
SORT = (*AXIS_COLUMNS[: AXIS_COLUMNS.index("weights_remaining")], "seed")  # rows in axis order
FINISHED = "FINISHED"


def is_result(role: str | None) -> bool:
    """Whether a role tag (e.g. ``"result"`` or ``"trial,result"``) marks a result run."""
    return schema.ROLE_RESULT in {part.strip() for part in (role or "").split(",")}


def _search(client: Any, experiment_id: str, filter_string: str) -> list[Any]:
    return [run for page in search_pages(client, experiment_id, filter_string) for run in page]


def _side(prefix: str, entry: Entry | None) -> dict[str, Any]:
    if entry is None:
        return {f"{prefix}_dataset": schema.NO_SOURCE, f"{prefix}_optimizer": schema.NO_SOURCE}
    return {
        f"{prefix}_dataset": entry.name,
        f"{prefix}_optimizer": entry.optimizer,
        f"{prefix}_registered": entry.dataset,
        f"{prefix}_train_size": entry.train_size,
        f"{prefix}_classes": entry.classes,
        f"{prefix}_test_size": entry.test_size,
    }


def axis_row(axes: TrialAxes | None) -> dict[str, Any]:
    """The summary's axis columns of one result, from its typed record."""
    row: dict[str, Any] = dict.fromkeys(AXIS_COLUMNS)
    if axes is None:
        return row
    row.update(_side("target", axes.target))
    row.update(_side("source", axes.source))
    row.update(model=axes.model, kind=axes.kind, level=axes.level, seed=axes.seed, stage=axes.stage)
    return {col: row.get(col) for col in AXIS_COLUMNS}


def _row(run: Any) -> dict[str, Any]:
    tags, metrics = run.data.tags, run.data.metrics
    row = axis_row(A.from_tags(tags))
    row["weights_remaining"] = tags.get(schema.TAG_WEIGHTS_REMAINING)
    row.update({col: metrics.get(key) for col, key in METRIC_COLUMNS.items()})
    row["trial_key"] = tags.get(schema.TAG_TRIAL_KEY)
    row["run_id"] = run.info.run_id
    row["kernels"] = tags.get(schema.TAG_KERNELS)
    row["status"] = run.info.status
    return row


def _frame(rows: list[dict[str, Any]], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    import pandas as pd

    df = pd.DataFrame(rows, columns=[*COLUMNS, *extra])
    for col in INT_AXES:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    df["weights_remaining"] = pd.to_numeric(df["weights_remaining"], errors="coerce")
    for col in METRIC_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df.sort_values(list(SORT), kind="stable", na_position="last").reset_index(drop=True)


@dataclass
class Collected:
    """The plan's result runs, and what was left out of them."""

    finished: pd.DataFrame  # exactly COLUMNS, one row per result key
    not_finished: pd.DataFrame  # COLUMNS + status
    earlier: int = 0  # finished results of keys the plan does not hold (an earlier sweep file)
    repeated: int = 0  # further finished runs of a result key already counted
    planned: int | None = None  # results the plan makes; None without a recorded plan


class Selection:
    """Which result runs count: those of the plan's keys (all, without a recorded plan), the
    first finished run of each key (runs in start-time order), nothing twice."""

    def __init__(self, plan: PlanKeys | None) -> None:
        self.keys = A.planned_results(plan) if plan is not None else None
        self.seen: set[str] = set()
        self.earlier = self.repeated = 0

    def take(self, run: Any) -> bool:
        key = run.data.tags.get(schema.TAG_TRIAL_KEY) or run.info.run_id
        finished = run.info.status == FINISHED
        if self.keys is not None and key not in self.keys:
            self.earlier += finished
            return False
        if not finished:
            return True
        if key in self.seen:
            self.repeated += 1
            return False
        self.seen.add(key)
        return True


def _started(run: Any) -> tuple[int, str]:
    return (run.info.start_time or 0, run.info.run_id)


def collect(client: Any, experiment_id: str, plan: PlanKeys | None = None) -> Collected:
    """The plan's result runs (every result run of the experiment without a recorded plan)."""
    role = schema.TAG_ROLE
    runs = _search(client, experiment_id, f"tags.`{role}` LIKE '%{schema.ROLE_RESULT}%'")
    runs = sorted((r for r in runs if is_result(r.data.tags.get(role))), key=_started)
    select = Selection(plan)
    rows = [_row(r) for r in runs if select.take(r)]
    done = [r for r in rows if r["status"] == FINISHED]
    rest = [r for r in rows if r["status"] != FINISHED and r["trial_key"] not in select.seen]
    planned = len(select.keys) if select.keys is not None else None
    return Collected(
        _frame(done),
        _frame(rest, extra=("status",)),
        select.earlier,
        select.repeated,
        planned,
    )


def find_parent_run(client: Any, experiment_id: str, name: str) -> str | None:
    """The run id of the sweep's parent run (the newest if several), or None."""
    runs = _search(client, experiment_id, f"tags.`{schema.TAG_ROLE}` = '{schema.ROLE_SWEEP}'")
    mine = [r for r in runs if r.data.tags.get(schema.TAG_SWEEP) in (name, None)] or runs
    if not mine:
        return None
    return max(mine, key=lambda r: r.info.start_time or 0).info.run_id
