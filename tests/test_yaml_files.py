"""The strict YAML reader keeps what YAML allows: a merge key overridden on purpose and an
anchor reused are not "keys given twice" (the CLI table in test_bad_input.py covers refusals)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltsweep.errors import UserError
from ltsweep.yaml_files import load_yaml

SHARED = """\
base: &base {epochs: 2, gamma: 0.1}
a:
  <<: *base
  epochs: 4
b: *base
c: [*base, *base]
"""


def test_merge_override_and_reused_anchor_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SHARED)
    data = load_yaml(path, "sweep file")
    assert data["a"] == {"epochs": 4, "gamma": 0.1}, f"merge override lost: {data['a']}"
    assert data["b"] == data["c"][1] == {"epochs": 2, "gamma": 0.1}, f"alias misread: {data}"


def test_duplicate_inside_an_anchor_names_its_first_path(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("base: &b {x: 1, x: 2}\nother: *b\n")
    with pytest.raises(UserError, match=r"'base\.x' is given twice \(twice on line 1\)"):
        load_yaml(path, "sweep file")
