"""Trial-key hashing (``ltsweep.hashing``): a field added with ``HASHED_WHEN_SET`` leaves the
key of every configuration that does not set it unchanged, and changes it when set."""

from __future__ import annotations

from dataclasses import dataclass, field

from ltsweep.core.jobs import DataConfig
from ltsweep.hashing import HASHED_WHEN_SET, config_key, to_jsonable


@dataclass(frozen=True)
class Before:
    name: str
    size: int = 8


@dataclass(frozen=True)
class After:
    name: str
    size: int = 8
    extra: str | None = field(default=None, metadata=HASHED_WHEN_SET)


def test_an_unset_added_field_keeps_the_key() -> None:
    assert config_key(After("x")) == config_key(Before("x")), "adding a field changed old keys"
    assert config_key(After("x", extra="y")) != config_key(Before("x")), "setting it did not"
    memo: dict = {}
    assert config_key(After("x"), memo=memo) == config_key(After("x"), memo=memo)


def test_a_registered_dataset_has_no_folder_in_its_key() -> None:
    assert "folder" not in to_jsonable(DataConfig("digits")), "keys of existing sweeps move"
