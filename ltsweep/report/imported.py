"""Imported ticket sources in a report: which published bundles a sweep's transfers trained.

Read from the result runs' tags (``ltsweep.source_bundle``, ``ltsweep.source_origin``), so a
copied store without the sweep file still says where its imported tickets came from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ltsweep.tracking import schema
from ltsweep.tracking.search import search_pages

if TYPE_CHECKING:
    import pandas as pd

    from ltsweep.storage.plan_keys import PlanKeys


def imported_sources(client: Any, experiment_id: str, plan: PlanKeys | None = None) -> pd.DataFrame:
    """One row per imported source: its label in the report, origin, bundle ids, results (of the
    recorded plan's trials, when the store records one)."""
    import pandas as pd

    query = f"tags.`{schema.TAG_SOURCE_BUNDLE}` LIKE 'b-%'"
    planned = None if plan is None else set(plan.transfer)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for page in search_pages(client, experiment_id, query):
        for run in page:
            tags = run.data.tags
            if planned is not None and tags.get(schema.TAG_TRIAL_KEY) not in planned:
                continue
            label = f"{tags.get(schema.TAG_SOURCE_DATASET)}/{tags.get(schema.TAG_SOURCE_OPTIMIZER)}"
            row = rows.setdefault(
                (label, tags.get(schema.TAG_SOURCE_ORIGIN, "")),
                {"bundles": set(), "results": 0},
            )
            row["bundles"].add(tags[schema.TAG_SOURCE_BUNDLE])
            row["results"] += 1
    return pd.DataFrame(
        [
            {
                "source": label,
                "origin": origin,
                "bundles": ", ".join(sorted(r["bundles"])),
                "results": r["results"],
            }
            for (label, origin), r in sorted(rows.items())
        ],
        columns=["source", "origin", "bundles", "results"],
    )
