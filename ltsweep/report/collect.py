"""Result runs from a sweep's MLflow experiment, as one tidy DataFrame (one row per run).

Only FINISHED runs count; the others (RUNNING, FAILED, KILLED) are returned apart so that each
figure can say how many results it leaves out. Values are copied from the store unchanged: the
summary CSV must match it exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ltsweep.tracking import schema
from ltsweep.tracking.search import search_pages

if TYPE_CHECKING:
    import pandas as pd

# Column -> tag, in the order the summary shows them.
AXIS_COLUMNS = {
    "model": schema.TAG_MODEL,
    "target_dataset": schema.TAG_TARGET_DATASET,
    "target_optimizer": schema.TAG_TARGET_OPTIMIZER,
    "kind": schema.TAG_KIND,
    "source_dataset": schema.TAG_SOURCE_DATASET,
    "source_optimizer": schema.TAG_SOURCE_OPTIMIZER,
    "level": schema.TAG_LEVEL,
    "weights_remaining": schema.TAG_WEIGHTS_REMAINING,
    "seed": schema.TAG_SEED,
    "stage": schema.TAG_STAGE,
}
# Column -> metric key: the final-epoch and best-epoch accuracy, and the last value of the others.
METRIC_COLUMNS = {
    schema.FINAL_ACCURACY: schema.FINAL_ACCURACY,
    schema.BEST_ACCURACY: schema.BEST_ACCURACY,
    "final_test_loss": "test_loss",
    "final_train_loss": "train_loss",
    "final_train_accuracy": "train_accuracy",
}
ID_COLUMNS = ("trial_key", "run_id")
COLUMNS = (*AXIS_COLUMNS, *METRIC_COLUMNS, *ID_COLUMNS)
SOURCE_COLUMNS = ("source_dataset", "source_optimizer")
SORT = (
    "model",
    "target_dataset",
    "target_optimizer",
    "kind",
    "source_dataset",
    "source_optimizer",
    "level",
    "seed",
)
FINISHED = "FINISHED"


def is_result(role: str | None) -> bool:
    """Whether a role tag (e.g. ``"result"`` or ``"trial,result"``) marks a result run."""
    return schema.ROLE_RESULT in {part.strip() for part in (role or "").split(",")}


def _search(client: Any, experiment_id: str, filter_string: str) -> list[Any]:
    return [run for page in search_pages(client, experiment_id, filter_string) for run in page]


def _row(run: Any) -> dict[str, Any]:
    tags, metrics = run.data.tags, run.data.metrics
    row: dict[str, Any] = {col: tags.get(tag) for col, tag in AXIS_COLUMNS.items()}
    for col in SOURCE_COLUMNS:  # dense runs: "" or no tag -> "none"
        row[col] = row[col] or schema.NO_SOURCE
    row.update({col: metrics.get(key) for col, key in METRIC_COLUMNS.items()})
    row["trial_key"] = tags.get(schema.TAG_TRIAL_KEY)
    row["run_id"] = run.info.run_id
    row["status"] = run.info.status
    return row


def _frame(rows: list[dict[str, Any]], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    import pandas as pd

    df = pd.DataFrame(rows, columns=[*COLUMNS, *extra])
    for col in ("level", "seed"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    df["weights_remaining"] = pd.to_numeric(df["weights_remaining"], errors="coerce")
    for col in METRIC_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df.sort_values(list(SORT), kind="stable", na_position="last").reset_index(drop=True)


def collect(client: Any, experiment_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(finished, not_finished): result runs of the experiment, one row each.

    ``finished`` has exactly ``COLUMNS``; ``not_finished`` adds a ``status`` column.
    """
    role = schema.TAG_ROLE
    runs = _search(client, experiment_id, f"tags.`{role}` LIKE '%{schema.ROLE_RESULT}%'")
    rows = [_row(r) for r in runs if is_result(r.data.tags.get(role))]
    done = [r for r in rows if r["status"] == FINISHED]
    rest = [r for r in rows if r["status"] != FINISHED]
    return _frame(done), _frame(rest, extra=("status",))


def find_parent_run(client: Any, experiment_id: str, name: str) -> str | None:
    """The run id of the sweep's parent run (the newest if several), or None."""
    runs = _search(client, experiment_id, f"tags.`{schema.TAG_ROLE}` = '{schema.ROLE_SWEEP}'")
    mine = [r for r in runs if r.data.tags.get(schema.TAG_SWEEP) in (name, None)] or runs
    if not mine:
        return None
    return max(mine, key=lambda r: r.info.start_time or 0).info.run_id
