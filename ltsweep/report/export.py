"""``ltsweep export``: a sweep's finished results as two tidy tables, written with pyarrow.

A *trial* is one unit of work the sweep schedules (``ltsweep status`` counts them); a *result* is
one trained network's record: a transfer trial makes one, a generation trial one per IMP level
(level 0 is the dense network). Both tables count results:

* **epochs**: one row per (result, epoch) with every axis, the trial key and the per-epoch
  metrics (step = epoch, as ``recording`` logs them).
* **results**: one row per result, exactly the columns of the report's ``summary.csv``.

It streams: runs are read from the store one page at a time and each page is written as one
batch (a Parquet row group, or CSV rows), so memory is bounded by the page size, not the sweep.
Both files are written under temporary names and renamed into place together at the end.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ltsweep import fsio
from ltsweep.errors import UserError
from ltsweep.report import collect
from ltsweep.tracking import schema
from ltsweep.tracking.search import metric_history, search_pages

if TYPE_CHECKING:
    import pyarrow as pa

    from ltsweep.storage.plan_keys import PlanKeys

FORMATS = {"parquet": ".parquet", "csv": ".csv"}
PAGE_SIZE = 500  # runs per page: the memory bound (a few MB of rows per page)
INT_COLUMNS = {*collect.INT_AXES, "epoch", schema.TRAIN_RESOLUTION}
FLOAT_COLUMNS = {"weights_remaining", *collect.METRIC_COLUMNS, *schema.EPOCH_METRICS}
EPOCH_COLUMNS = (*collect.AXIS_COLUMNS, "trial_key", "run_id", "epoch", *schema.EPOCH_METRICS)
EPOCH_COLUMNS += (schema.TRAIN_RESOLUTION,)  # empty unless the trial had a resolution schedule


@dataclass(frozen=True)
class Exported:
    """What ``export`` wrote: the two files and their row counts."""

    epochs: Path
    results: Path
    epoch_rows: int
    result_rows: int
    earlier: int = 0  # finished results of keys the recorded plan no longer holds: left out


def results_path(epochs: Path) -> Path:
    """The per-result table next to the per-epoch one: ``F.parquet`` -> ``F.results.parquet``."""
    return epochs.with_name(f"{epochs.stem}.results{epochs.suffix}")


def _schema(columns: tuple[str, ...]) -> pa.Schema:
    import pyarrow as pa

    def kind(col: str) -> pa.DataType:
        if col in INT_COLUMNS:
            return pa.int64()
        return pa.float64() if col in FLOAT_COLUMNS else pa.string()

    return pa.schema([(c, kind(c)) for c in columns])


def _typed(row: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for col in columns:
        value = row.get(col)
        if value is not None and value != "":
            if col in INT_COLUMNS:
                value = int(value)
            elif col in FLOAT_COLUMNS:
                value = float(value)
        out[col] = None if value == "" else value
    return out


def finished_results(
    client: Any,
    experiment_id: str,
    page_size: int = PAGE_SIZE,
    select: collect.Selection | None = None,
) -> Iterator[list[Any]]:
    """FINISHED result runs of the plan (``select``: the report's rule, first run of each key),
    one page at a time, in start-time order."""
    role = schema.TAG_ROLE
    select = select or collect.Selection(None)
    query = f"tags.`{role}` LIKE '%{schema.ROLE_RESULT}%' and attributes.status = 'FINISHED'"
    order = ["attributes.start_time ASC", "attributes.run_id ASC"]
    for page in search_pages(client, experiment_id, query, page_size, order):
        yield [r for r in page if collect.is_result(r.data.tags.get(role)) and select.take(r)]


def epoch_rows(client: Any, run: Any) -> list[dict[str, Any]]:
    """One row per epoch of one result run: its axes, ids and per-epoch metrics."""
    base = collect._row(run)
    keys = schema.EPOCH_METRICS
    if schema.TRAIN_RESOLUTION in run.data.metrics:  # asked only of runs that logged it
        keys += (schema.TRAIN_RESOLUTION,)
    by_step = metric_history(client, run.info.run_id, keys)
    return [{**base, "epoch": step, **by_step[step]} for step in sorted(by_step)]


class _Writer:
    """Batches to a Parquet or CSV file, opened on the first batch with a fixed schema."""

    def __init__(self, path: Path, fmt: str, columns: tuple[str, ...]) -> None:
        self.path, self.fmt, self.columns = path, fmt, columns
        self.schema = _schema(columns)
        self.rows = 0
        if fmt == "parquet":
            import pyarrow.parquet as pq

            self._w = pq.ParquetWriter(str(path), self.schema)
        else:
            import pyarrow.csv as pcsv

            self._w = pcsv.CSVWriter(str(path), self.schema)

    def write(self, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa

        if not rows:
            return
        typed = [_typed(r, self.columns) for r in rows]
        self._w.write_table(pa.Table.from_pylist(typed, schema=self.schema))
        self.rows += len(rows)

    def close(self) -> None:
        self._w.close()


def export(
    client: Any,
    experiment_id: str,
    epochs_file: Path,
    fmt: str = "parquet",
    page_size: int = PAGE_SIZE,
    plan: PlanKeys | None = None,
) -> Exported:
    """Write the epochs table to ``epochs_file`` and the results table next to it: the results
    of ``plan`` (the store's recorded plan; every result without one)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    targets = (Path(epochs_file), results_path(Path(epochs_file)))
    with contextlib.ExitStack() as stack:
        tmp_epochs, tmp_results = (stack.enter_context(fsio.atomic_path(p)) for p in targets)
        epochs = _Writer(tmp_epochs, fmt, EPOCH_COLUMNS)
        results = _Writer(tmp_results, fmt, collect.COLUMNS)
        select = collect.Selection(plan)
        for page in finished_results(client, experiment_id, page_size, select):
            results.write([collect._row(r) for r in page])
            epochs.write([row for r in page for row in epoch_rows(client, r)])
        epochs.close()
        results.close()
        if results.rows == 0:
            raise UserError(
                "no finished results in this sweep's store yet: let `ltsweep run` finish some, "
                "then export again"
            )
    return Exported(targets[0], targets[1], epochs.rows, results.rows, select.earlier)
