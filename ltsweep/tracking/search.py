"""Reading a sweep's runs back from MLflow, a page at a time: the one route the report, the
export and the tracker use (MLflow caps a page of ``search_runs``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow import MlflowClient


def search_pages(
    client: MlflowClient,
    experiment_id: str,
    filter_string: str,
    page_size: int = 5000,
    order_by: list[str] | None = None,
) -> Iterator[list[Any]]:
    """Active runs matching ``filter_string``, one page at a time (MLflow caps a page)."""
    from mlflow.entities import ViewType

    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=filter_string,
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=page_size,
            page_token=token,
            order_by=order_by,
        )
        yield list(page)
        token = page.token
        if not token:
            return


def metric_history(client: MlflowClient, run_id: str, keys: tuple[str, ...]) -> dict[int, dict]:
    """A run's per-step values of ``keys``: ``{step: {key: value}}``."""
    by_step: dict[int, dict[str, Any]] = {}
    for key in keys:
        for m in client.get_metric_history(run_id, key):
            by_step.setdefault(int(m.step), {})[key] = m.value
    return by_step
