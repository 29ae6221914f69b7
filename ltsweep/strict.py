"""Strict YAML -> frozen dataclass loading: unknown keys, wrong types and bad values are errors
that name the file, the dotted key, and the fix (closest valid key, allowed values)."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ltsweep.errors import UserError

T = TypeVar("T")
Check = Callable[[Any], str | None]  # returns a problem description, or None when fine


def check(fn: Check, default: Any = dataclasses.MISSING, **kwargs: Any) -> Any:
    """A dataclass field whose value ``fn`` validates at load time."""
    if default is not dataclasses.MISSING:
        kwargs["default"] = default
    return dataclasses.field(metadata={"check": fn}, **kwargs)


def positive(v: Any) -> str | None:
    return None if v > 0 else "must be > 0"


def non_negative(v: Any) -> str | None:
    return None if v >= 0 else "must be >= 0"


def open_unit(v: Any) -> str | None:
    return None if 0 < v < 1 else "must be in (0, 1)"


def one_of(*allowed: str) -> Check:
    return lambda v: None if v in allowed else f"must be one of {', '.join(allowed)}"


class Loader:
    """Builds dataclasses from parsed YAML, remembering the file for error messages."""

    def __init__(self, source: Path | str) -> None:
        self.source = str(source)

    def fail(self, path: str, problem: str) -> UserError:
        return UserError(f"{self.source}: {path}: {problem}")

    def build(self, cls: type[T], data: Any, path: str) -> T:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise self.fail(path, f"expected a mapping, got {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        for key in data:
            if key not in fields:
                close = difflib.get_close_matches(str(key), fields, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise self.fail(
                    f"{path}.{key}".lstrip("."), f"unknown key{hint} (valid: {', '.join(fields)})"
                )
        values = {}
        for name, f in fields.items():
            sub = f"{path}.{name}".lstrip(".")
            if name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise self.fail(sub, "required key is missing")
                continue
            value = self.convert(hints[name], data[name], sub)
            problem = f.metadata.get("check", lambda v: None)(value)
            if problem:
                raise self.fail(sub, f"{problem} (got {data[name]!r})")
            values[name] = value
        return cls(**values)

    def convert(self, tp: Any, value: Any, path: str) -> Any:
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (types.UnionType, typing.Union):
            if value is None and type(None) in args:
                return None
            inner = [a for a in args if a is not type(None)]
            return self.convert(inner[0], value, path)
        if dataclasses.is_dataclass(tp):
            return self.build(tp, value, path)
        if origin is tuple:
            if not isinstance(value, list | tuple):
                raise self.fail(path, f"expected a list, got {value!r}")
            item = args[0]
            return tuple(self.convert(item, v, f"{path}[{i}]") for i, v in enumerate(value))
        if origin is dict:
            if not isinstance(value, dict):
                raise self.fail(path, f"expected a mapping, got {value!r}")
            return {str(k): self.convert(args[1], v, f"{path}.{k}") for k, v in value.items()}
        if tp is Any:
            return value
        return self.scalar(tp, value, path)

    def scalar(self, tp: Any, value: Any, path: str) -> Any:
        if tp is bool:
            if not isinstance(value, bool):
                raise self.fail(path, f"expected true or false, got {value!r}")
            return value
        if tp is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(path, f"expected an integer, got {value!r}")
            return value
        if tp is float:
            if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
                try:
                    return float(value)
                except ValueError:
                    pass
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(path, f"expected a number, got {value!r}")
            return float(value)
        if tp is str:
            if not isinstance(value, str):
                raise self.fail(path, f"expected a string, got {value!r}")
            return value
        raise TypeError(f"unsupported type {tp} at {path}")
