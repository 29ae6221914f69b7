"""How the MLflow UI opens a sweep's experiment: for model training, on the trial runs.

MLflow 3's UI reads two things from the experiment's tags (checked against 3.17's JS bundle):

* ``mlflow.experimentKind``: ``custom_model_development`` opens the runs page, not the GenAI
  overview (traces, token usage) it shows an unmarked experiment.
* ``mlflow.sharedViewState.<key>``: a "shared view" (JSON), applied when the URL carries
  ``?viewStateShareKey=<key>``. It may hold the search facets (``searchFilter``, ``orderByKey``,
  ``orderByAsc``, …) and the table's UI state (``selectedColumns``, ``columnOrder``, ``groupBy``,
  …). Expanded/pinned/hidden rows are not restored from it, and the UI has no experiment-wide
  default columns: without the key in the URL it falls back to its own defaults.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ltsweep.tracking import schema as S

if TYPE_CHECKING:
    from ltsweep.storage.plan_keys import PlanKeys

KIND_TAG = "mlflow.experimentKind"
KIND_TRAINING = "custom_model_development"
VIEW_TAG_PREFIX = "mlflow.sharedViewState."
VIEW_KEY = "ltsweep-trials"
# The result runs (transfer trials and each IMP level), not the sweep's parent or IMP drivers;
# with a plan recorded in the store, only those of the plan (``mark_plan``).
TRIALS_FILTER = f"tags.`{S.TAG_ROLE}` LIKE '%{S.ROLE_RESULT}%'"
TAG_IN_PLAN = S.TAG_IN_PLAN
PLAN_FILTER = f"{TRIALS_FILTER} AND tags.`{TAG_IN_PLAN}` = '1'"
AXIS_COLUMNS = (
    S.TAG_KIND,
    S.TAG_SOURCE_DATASET,
    S.TAG_SOURCE_OPTIMIZER,
    S.TAG_TARGET_DATASET,
    S.TAG_TARGET_OPTIMIZER,
    S.TAG_LEVEL,
    S.TAG_WEIGHTS_REMAINING,
    S.TAG_SEED,
    S.TAG_MODEL,
)
METRIC_COLUMNS = (S.FINAL_ACCURACY, S.BEST_ACCURACY)


def column(kind: str, name: str) -> str:
    """A column as the UI names it: ``tags.`ltsweep.kind```, ``metrics.`final_test_accuracy```."""
    return f"{kind}.`{name}`"


def trials_view(planned: bool = False) -> dict:
    """The shared view: result runs (of the recorded plan when ``planned``), axis tags and final
    accuracy as columns, best first."""
    columns = [column("tags", t) for t in AXIS_COLUMNS]
    columns += [column("metrics", m) for m in METRIC_COLUMNS]
    return {
        "searchFilter": PLAN_FILTER if planned else TRIALS_FILTER,
        "orderByKey": column("metrics", S.FINAL_ACCURACY),
        "orderByAsc": False,
        "selectedColumns": columns,
    }


def experiment_tags(planned: bool = False) -> dict[str, str]:
    """Tags every sweep experiment carries so that the UI lands on the comparison."""
    return {
        KIND_TAG: KIND_TRAINING,
        VIEW_TAG_PREFIX + VIEW_KEY: json.dumps(trials_view(planned), separators=(",", ":")),
    }


def runs_url(base: str, experiment_id: str) -> str:
    """The page ``ltsweep ui`` prints: the experiment's runs table through the shared view."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?viewStateShareKey={VIEW_KEY}"


def ensure_tags(client, experiment_id: str, plan: PlanKeys | None = None) -> int:
    """Set the view tags where missing or stale (stores made before ltsweep set them); with
    ``plan``, mark each result run in it or not (``mark_plan``). Returns the finished results
    of keys the plan no longer holds (hidden from the view)."""
    hidden = mark_plan(client, experiment_id, plan) if plan is not None else 0
    have = client.get_experiment(experiment_id).tags
    for key, value in experiment_tags(plan is not None).items():
        if have.get(key) != value:
            client.set_experiment_tag(experiment_id, key, value)
    return hidden


def mark_plan(client, experiment_id: str, plan: PlanKeys) -> int:
    """Tag every result run ``in_plan`` 1 or 0 by the recorded plan (writing only the runs whose
    mark changes), so that the view shows exactly the plan's results; returns how many finished
    results it hides."""
    from ltsweep.tracking.axes import planned_results
    from ltsweep.tracking.search import search_pages

    keys, hidden = planned_results(plan), 0
    for page in search_pages(client, experiment_id, TRIALS_FILTER):
        for run in page:
            inside = run.data.tags.get(S.TAG_TRIAL_KEY, "") in keys
            hidden += not inside and run.info.status == "FINISHED"
            mark = "1" if inside else "0"
            if run.data.tags.get(TAG_IN_PLAN) != mark:
                client.set_tag(run.info.run_id, TAG_IN_PLAN, mark)
    return hidden
