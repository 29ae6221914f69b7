"""``Registry.declare``: a name declared with the module that registers it is known before that
module is imported, and ``get`` imports it on first use; the built-in model names declared in
``ltsweep.core.models.registry`` are exactly those ``vgg`` and ``resnet`` register."""

from __future__ import annotations

import types

import pytest

from ltsweep.errors import UserError
from ltsweep.registry import Registry


def test_a_declared_name_is_known_and_get_imports_its_module(monkeypatch) -> None:
    registry: Registry[int] = Registry("widget")
    module = types.ModuleType("fake_widgets")
    imported = []

    def import_module(name: str) -> types.ModuleType:
        imported.append(name)
        registry.register("gear", 7)
        return module

    registry.declare("fake_widgets", "gear")
    assert "gear" in registry and registry.names() == ["gear"], "a declared name is unknown"
    assert not imported, "declaring a name imported its module"
    monkeypatch.setattr("ltsweep.registry.importlib.import_module", import_module)
    assert registry.get("gear") == 7 and imported == ["fake_widgets"]
    assert registry.get("gear") == 7 and imported == ["fake_widgets"], "imported twice"
    with pytest.raises(UserError, match="did you mean 'gear'"):
        registry.get("gaer")
    with pytest.raises(ValueError, match="twice"):
        registry.declare("other", "gear")


def test_a_declared_name_its_module_does_not_register_is_an_error() -> None:
    registry: Registry[int] = Registry("widget")
    registry.declare("json", "sprocket")  # importing json registers nothing here
    with pytest.raises(ValueError, match="json does not register widget 'sprocket'"):
        registry.get("sprocket")


def test_declared_model_names_match_what_the_model_modules_register() -> None:
    """No declared name left unregistered, no registered built-in left undeclared (tests/
    test_cli_speed.py checks that the declared names answer without torch)."""
    from ltsweep.core.models import resnet, vgg
    from ltsweep.core.models.registry import MODELS

    declared = {n: m for n, m in MODELS._declared.items() if m.startswith("ltsweep.")}
    built_in = {
        name: module.__name__
        for module in (vgg, resnet)
        for name, factory in MODELS._entries.items()
        if factory.__module__ == module.__name__
    }
    assert declared == built_in, f"declared {declared} but the modules register {built_in}"
