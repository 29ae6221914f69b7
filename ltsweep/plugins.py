"""Plugins: installed packages that add datasets and models through Python entry points.

* group ``ltsweep.datasets``: the entry point's name is the dataset's name, its object a
  ``ltsweep.core.data.DatasetSpec`` of that name (or a function of no arguments returning one);
* group ``ltsweep.models``: the entry point's name is the model's name, its object the factory,
  ``factory(num_classes, **options) -> nn.Module``, whose model names its output layer in
  ``output_layer_name``.

A group is loaded the first time its registry is read (``dataset_names``/``get_spec``,
``model_names``/``create_model``), so the CLI and every Ray worker that looks a name up see the
same plugins, and a command that needs no registry imports none of them. This module only finds
and loads entry points; each registry checks and registers what they give (``register``), so
nothing here imports the engine. A plugin that fails to load, or that its registry refuses, is a
one-line error naming its entry point and package.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ltsweep.errors import UserError

Register = Callable[[str, Any], None]  # (entry point name, loaded object); UserError to refuse
_loaded: set[str] = set()


def describe(ep: EntryPoint) -> str:
    dist = ep.dist
    package = f"package {dist.name} {dist.version}" if dist is not None else "an unknown package"
    return f"plugin {ep.name} = {ep.value} (entry point group {ep.group}, {package})"


def register_entry_point(ep: EntryPoint, register: Register) -> None:
    """Load ``ep`` and hand its object to ``register``; every failure is one line naming it."""
    try:
        obj = ep.load()
    except Exception as exc:
        raise UserError(
            f"{describe(ep)} failed to load: {type(exc).__name__}: {exc}; fix or uninstall it"
        ) from None
    try:
        register(ep.name, obj)
    except UserError as exc:
        raise UserError(f"{describe(ep)}: {exc}") from None


def plugin_entry_points(group: str) -> list[EntryPoint]:
    """The installed entry points of ``ltsweep.<group>``, sorted by name."""
    return sorted(entry_points(group=f"ltsweep.{group}"), key=lambda ep: ep.name)


def load_group(group: str, register: Register) -> None:
    """Register every installed plugin of ``ltsweep.<group>``, once per process."""
    if group in _loaded:
        return
    _loaded.add(group)  # first: a plugin module that reads the registry must not recurse
    for ep in plugin_entry_points(group):
        register_entry_point(ep, register)
