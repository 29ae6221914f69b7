"""Plugins: installed packages that add datasets and models through Python entry points.

* group ``ltsweep.datasets``: the entry point's name is the dataset's name, its object a
  ``ltsweep.core.data.DatasetSpec`` of that name (or a function of no arguments returning one);
* group ``ltsweep.models``: the entry point's name is the model's name, its object the factory,
  ``factory(num_classes, **options) -> nn.Module``, whose model names its output layer in
  ``output_layer_name``.

A group is loaded the first time its registry is read (``dataset_names``/``get_spec``,
``model_names``/``create_model``), so the CLI and every Ray worker that looks a name up see the
same plugins, and a command that needs no registry imports none of them. A plugin that fails to
load, or takes a name already taken, is a one-line error naming its entry point and package.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ltsweep.errors import UserError

GROUPS = ("datasets", "models")
_loaded: set[str] = set()


def _origin(ep: EntryPoint) -> str:
    dist = ep.dist
    package = f"package {dist.name} {dist.version}" if dist is not None else "an unknown package"
    return f"plugin {ep.name} = {ep.value} (entry point group {ep.group}, {package})"


def _load(ep: EntryPoint) -> Any:
    try:
        return ep.load()
    except Exception as exc:
        raise UserError(
            f"{_origin(ep)} failed to load: {type(exc).__name__}: {exc}; fix or uninstall it"
        ) from None


def _register_dataset(ep: EntryPoint) -> None:
    from ltsweep.core.data.spec import DATASETS, DatasetSpec

    obj = _load(ep)
    spec = obj if isinstance(obj, DatasetSpec) else obj() if callable(obj) else obj
    if not isinstance(spec, DatasetSpec):
        raise UserError(f"{_origin(ep)} gives a {type(spec).__name__}, not a DatasetSpec")
    if spec.name != ep.name:
        raise UserError(f"{_origin(ep)} gives a DatasetSpec named {spec.name!r}; name both alike")
    if ep.name in DATASETS:
        raise UserError(f"{_origin(ep)}: dataset {ep.name!r} already exists; rename the plugin's")
    DATASETS.register(ep.name, spec)


def _register_model(ep: EntryPoint) -> None:
    from ltsweep.core.models.external import SEPARATOR
    from ltsweep.core.models.registry import MODELS

    factory = _load(ep)
    if not callable(factory):
        raise UserError(f"{_origin(ep)} gives a {type(factory).__name__}, not a model factory")
    if SEPARATOR in ep.name:
        raise UserError(f"{_origin(ep)}: a model name cannot contain {SEPARATOR!r}")
    if ep.name in MODELS:
        raise UserError(f"{_origin(ep)}: model {ep.name!r} already exists; rename the plugin's")
    MODELS.register(ep.name, factory)


REGISTER = {"datasets": _register_dataset, "models": _register_model}


def plugin_entry_points(group: str) -> list[EntryPoint]:
    """The installed entry points of ``ltsweep.<group>``, sorted by name."""
    return sorted(entry_points(group=f"ltsweep.{group}"), key=lambda ep: ep.name)


def load_plugins(*groups: str) -> None:
    """Register every installed plugin of ``groups`` (default: all); once per process."""
    for group in groups or GROUPS:
        if group in _loaded:
            continue
        _loaded.add(group)  # first: a plugin module that reads the registry must not recurse
        for ep in plugin_entry_points(group):
            REGISTER[group](ep)
