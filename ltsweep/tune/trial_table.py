"""The plan's trials as Ray Tune carries them: a small config per trial, and one shared table of
``Trial`` objects that each worker process fetches once.

Why not simply close over the trials: Tune pickles a trainable's resource function with the
trainable and unpickles it twice per trial on the driver (``registry.get_trainable_cls``), so a
resource function that looked trials up in a dict would make every trial pay for the whole
plan, a cost that grows with the grid. The config carries the resources instead. Likewise
``tune.with_parameters`` gives every trial call a fresh deserialized copy of what it was given;
``TrialTable`` is a handle that deserializes the table once per worker process, however many
trials the (reused) actor runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ltsweep.sweep.trial import Resources, Trial

# Per worker process: the table last fetched, by its object-store id (one sweep pass at a time).
_FETCHED: dict[str, dict[str, Trial]] = {}


def trial_config(trial: Trial) -> dict[str, Any]:
    """What Tune's config holds for a trial: its key and its resources (plain values)."""
    r = trial.resources
    return {"key": trial.key, "cpu": r.cpu, "gpu": r.gpu, "workers": r.workers}


def resources_of(config: dict[str, Any]) -> Resources:
    return Resources(cpu=config["cpu"], gpu=config["gpu"], workers=config["workers"])


def placement(config: dict[str, Any]):
    """Tune's placement for one trial, from its config alone (see the module docstring)."""
    from ray.tune import PlacementGroupFactory

    r = resources_of(config)
    if r.workers > 1:  # a Ray Train driver: its workers reserve their own resources
        return PlacementGroupFactory([{"CPU": 0.1}])
    bundle = {"CPU": r.cpu}
    if r.gpu:
        bundle["GPU"] = r.gpu
    return PlacementGroupFactory([bundle])


class TrialTable(Mapping):
    """Trials by key, stored once in Ray's object store; pickles as the object's id only."""

    def __init__(self, ref) -> None:
        self._ref = ref

    @classmethod
    def put(cls, trials: dict[str, Trial]) -> TrialTable:
        import ray

        return cls(ray.put(dict(trials)))

    def _table(self) -> dict[str, Trial]:
        ident = self._ref.hex()
        table = _FETCHED.get(ident)
        if table is None:
            import ray

            table = ray.get(self._ref)
            _FETCHED.clear()  # a new pass's table replaces the last one
            _FETCHED[ident] = table
        return table

    def __getitem__(self, key: str) -> Trial:
        return self._table()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())
