"""Identity hashes: canonical JSON of the fully resolved configuration, SHA-256, schema-versioned."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

KEY_SCHEMA_VERSION = 1


_SCALARS = frozenset({str, int, float, bool, type(None)})
_FIELDS: dict[type, tuple[str, ...]] = {}  # field names per dataclass type (plan hashes ~10^4 jobs)
_OPTIONAL: dict[type, dict[str, Any]] = {}  # per type: fields left out while at their default
OMIT_DEFAULT = "ltsweep.hashing.omit_default"
# Field metadata for a field added after trial keys existed: it enters the JSON (and so the key)
# only when it differs from its default, so the keys of every configuration without it stay put.
HASHED_WHEN_SET = {OMIT_DEFAULT: True}


def _field_names(cls: type, obj: Any) -> tuple[str, ...]:
    fields = dataclasses.fields(obj)
    _OPTIONAL[cls] = {f.name: f.default for f in fields if f.metadata.get(OMIT_DEFAULT)}
    names = _FIELDS[cls] = tuple(f.name for f in fields)
    return names


def _as_dict(obj: Any, names: tuple[str, ...], memo: Memo | None) -> dict[str, Any]:
    optional = _OPTIONAL[type(obj)]
    if not optional:
        return {n: to_jsonable(getattr(obj, n), memo) for n in names}
    return {
        n: to_jsonable(getattr(obj, n), memo)
        for n in names
        if n not in optional or getattr(obj, n) != optional[n]
    }


Memo = dict[int, tuple[Any, Any]]  # id(frozen dataclass) -> (the object, kept alive; its JSON)


def to_jsonable(obj: Any, memo: Memo | None = None) -> Any:
    """Dataclasses, tuples and paths to plain JSON values, keys sorted by json.dumps later.

    ``memo`` reuses the result for frozen dataclass instances seen before (a plan's trials share
    their model, data and training configurations); the caller must not mutate what it returns.
    """
    cls = type(obj)
    if cls in _SCALARS:
        return obj
    names = _FIELDS.get(cls)
    if names is None and dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        names = _field_names(cls, obj)
    if names is not None:
        if memo is None or not cls.__dataclass_params__.frozen:
            return _as_dict(obj, names, memo)
        hit = memo.get(id(obj))
        if hit is None or hit[0] is not obj:
            hit = memo[id(obj)] = (obj, _as_dict(obj, names, memo))
        return hit[1]
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, memo) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v, memo) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def canonical_json(obj: Any, memo: Memo | None = None) -> str:
    return json.dumps(
        to_jsonable(obj, memo), sort_keys=True, separators=(",", ":"), allow_nan=False
    )


def config_key(obj: Any, length: int = 16, memo: Memo | None = None) -> str:
    """Stable key of a resolved configuration; defaults are included, so changing one changes it."""
    payload = canonical_json({"schema": KEY_SCHEMA_VERSION, "config": obj}, memo)
    return hashlib.sha256(payload.encode()).hexdigest()[:length]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
