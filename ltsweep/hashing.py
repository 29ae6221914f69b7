"""Identity hashes: canonical JSON of the fully resolved configuration, SHA-256, schema-versioned."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

KEY_SCHEMA_VERSION = 1


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, tuples and paths to plain JSON values, keys sorted by json.dumps later."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def canonical_json(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_key(obj: Any, length: int = 16) -> str:
    """Stable key of a resolved configuration; defaults are included, so changing one changes it."""
    payload = canonical_json({"schema": KEY_SCHEMA_VERSION, "config": obj})
    return hashlib.sha256(payload.encode()).hexdigest()[:length]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
