"""Reading a YAML file a user wrote: every way it can fail is one line naming the file and the
problem. PyYAML alone would raise a traceback on a binary file and keep the last of two equal
keys without a word, so a second ``seeds:`` at the end of a file would silently win."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

from ltsweep.errors import UserError

MAX_BYTES = 16 * 2**20  # a sweep file is a few KB: anything this large was passed by mistake
MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyError(yaml.YAMLError):
    """A mapping key given twice; the message names its dotted path and both lines."""


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in any mapping, at any depth."""

    def construct_document(self, node: yaml.Node) -> Any:
        self._check_unique(node, "", set())
        return super().construct_document(node)

    def _check_unique(self, node: yaml.Node, path: str, seen: set[int]) -> None:
        if id(node) in seen:  # an alias points back at a node already checked
            return
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._check_unique(item, f"{path}[{i}]", seen)
        if not isinstance(node, yaml.MappingNode):
            return
        lines: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:  # ``<<: *base`` may be overridden by design
                continue
            key = self.construct_object(key_node, deep=True)
            name = f"{path}.{key}".lstrip(".")
            line = key_node.start_mark.line + 1
            try:
                first = lines.get(key)
            except TypeError:  # an unhashable key: the constructor reports it
                continue
            if first is not None:
                where = f"twice on line {line}" if first == line else f"lines {first} and {line}"
                raise DuplicateKeyError(f"key {name!r} is given twice ({where}): keep one")
            lines[key] = line
            self._check_unique(value_node, name, seen)


def read_text(path: Path, what: str) -> str:
    """The file's UTF-8 text, or a one-line UserError saying why it cannot be read."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise UserError(f"{what} {path} is a directory: give the path of a YAML file")
        if not stat.S_ISREG(info.st_mode):
            raise UserError(f"{what} {path} is not a regular file: give the path of a YAML file")
        if info.st_size > MAX_BYTES:
            raise UserError(
                f"{what} {path} is {info.st_size / 2**20:.0f} MiB: not a YAML file "
                "(passed by mistake?)"
            )
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"{what} {path} does not exist") from None
    except PermissionError:
        raise UserError(
            f"{what} {path} is not readable (permission denied): check its permissions"
        ) from None
    except OSError as exc:
        raise UserError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{what} {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}): is it a binary file?"
        ) from None


def load_yaml(path: Path, what: str) -> Any:
    """Parse ``path`` with unique keys; syntax errors name the line and column."""
    text = read_text(path, what)
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader subclass
    except DuplicateKeyError as exc:
        raise UserError(f"{path}: {exc}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise UserError(
            f"{what} {path} is not YAML text: control character U+{exc.character:04X} at line "
            f"{line} (is it a binary file?)"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(f"{path}: YAML syntax error{where}: {problem}") from None
