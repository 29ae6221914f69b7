"""Where a sweep's file, outputs and stores are: one function each, no hidden defaults elsewhere."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from ltsweep.errors import UserError
from ltsweep.storage.paths import SweepPaths
from ltsweep.storage.store import is_uri
from ltsweep.sweep.config import SweepConfig, load_sweep
from ltsweep.yaml_files import read_text

SEARCH_SPACES = "search_spaces"


def search_space_dirs() -> list[Path]:
    """``./search_spaces`` first (a user's own sweeps), then the ones shipped with ltsweep."""
    shipped = Path(__file__).resolve().parents[2] / SEARCH_SPACES
    dirs = [Path.cwd() / SEARCH_SPACES, shipped]
    return [d for i, d in enumerate(dirs) if d.is_dir() and d not in dirs[:i]]


def available_sweeps() -> list[str]:
    return sorted({p.stem for d in search_space_dirs() for p in d.glob("*.yaml")})


def resolve_sweep_file(name_or_path: str) -> Path:
    """A sweep name resolves to ``search_spaces/<name>.yaml``; a path to a file works too."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or os.sep in name_or_path:
        read_text(candidate, "sweep file")  # missing, a directory, unreadable: say which
        return candidate
    for directory in search_space_dirs():
        path = directory / f"{name_or_path}.yaml"
        if path.is_file():
            return path
    raise UserError(unknown_sweep(name_or_path))


def unknown_sweep(name: str) -> str:
    """ "No such sweep": where it was looked for, the closest name, and every name there is."""
    known = available_sweeps()
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    looked = " and ".join(str(d) for d in search_space_dirs()) or f"./{SEARCH_SPACES}"
    return (
        f"no sweep named {name!r}{hint} in {looked}; available: {', '.join(known) or 'none'} "
        "(or give a path to a .yaml)"
    )


def default_out(sweep_name: str, out: str | Path | None) -> Path:
    return Path(out) if out else Path.cwd() / "runs" / sweep_name


def sweep_paths(sweep_name: str, out: str | Path | None) -> SweepPaths:
    """``--out`` as a layout: a directory (default ``runs/<sweep>``), or an object-store URI,
    checked here (scheme, bucket, query, credentials) so that bad input stops every command."""
    if out and is_uri(out):
        paths = SweepPaths.for_uri(str(out))
        _ = paths.store  # opens (and validates) the URI now
        return paths
    return SweepPaths(default_out(sweep_name, out))


def has_output(paths: SweepPaths) -> bool:
    """Whether anything of the sweep was ever written there (its output directory, or any object
    under a bucket prefix); ``status`` tells "nothing here" from "nothing done"."""
    if not paths.remote:
        return paths.out.is_dir()
    from pyarrow.fs import FileType

    store = paths.store
    try:
        return store.fs.get_file_info(store.path("")).type != FileType.NotFound
    except OSError:  # unreachable or denied: the records' own reads say so, in one line
        return True


def require_output(paths: SweepPaths, sweep_name: str, run_command: str) -> None:
    """No output at all is not "0 done": most often the --out given to `run` was left out."""
    if has_output(paths):
        return
    parent = paths.out.parent
    beside = sorted(d.name for d in parent.iterdir() if d.is_dir()) if parent.is_dir() else []
    there = f" ({parent} holds: {', '.join(beside)})" if beside and not paths.remote else ""
    raise UserError(
        f"sweep {sweep_name} has no output at {paths.where}{there}: pass the --out "
        f"that `ltsweep run` was given, or start it with `{run_command}`"
    )


def tracking_uri(
    paths: SweepPaths, configured: str | None = None, explicit: str | None = None
) -> str:
    """``--tracking-uri`` (``explicit``) wins, then ``MLFLOW_TRACKING_URI``, then the sweep file's
    ``tracking_uri``, else SQLite in out (for an object-store sweep: in this machine's working
    copy, see ``storage.cache_dir``). Every command finds a sweep's store by this one rule."""
    return (
        explicit
        or os.environ.get("MLFLOW_TRACKING_URI")
        or configured
        or f"sqlite:///{paths.mlflow_db.resolve()}"
    )


@dataclass(frozen=True)
class SweepLocation:
    """A sweep as every command finds it: its name, file and configuration (when the file
    resolves: a store copied from a cluster may come without it), output layout and MLflow store."""

    name: str
    file: Path | None
    config: SweepConfig | None
    paths: SweepPaths
    tracking_uri: str
    unresolved: str = ""  # why no sweep file resolved (a typo'd name?), for messages

    def require_config(self) -> SweepConfig:
        """The sweep's configuration; the reason it has none as one line otherwise."""
        if self.config is None:
            raise UserError(self.unresolved)
        return self.config


def find_sweep(
    sweep: str, out: str | Path | None = None, explicit_tracking_uri: str | None = None
) -> SweepLocation:
    """The one way to find a sweep from what a user typed (a name from ``search_spaces/`` or a
    path to a .yaml), ``--out`` and ``--tracking-uri``.

    The sweep file, when it resolves, gives the name (its ``name`` key, else its stem) and its
    ``tracking_uri``; without one the argument is the name, or the stem of a path. The store is
    found by ``tracking_uri`` below; the output layout by ``sweep_paths``."""
    text = sweep.strip()
    if not text:
        raise UserError("empty sweep name: give a name from search_spaces/ or a path to a .yaml")
    file: Path | None = None
    config: SweepConfig | None = None
    unresolved = ""
    try:
        file = resolve_sweep_file(text)
    except UserError as exc:
        unresolved = str(exc)
    if file is not None:
        config = load_sweep(file)
        name = config.name
    elif text.endswith((".yaml", ".yml")) or "/" in text or os.sep in text:
        name = Path(text).stem
    else:
        name = text
    paths = sweep_paths(name, out)
    configured = config.tracking_uri if config is not None else None
    uri = tracking_uri(paths, configured, explicit_tracking_uri)
    return SweepLocation(name, file, config, paths, uri, unresolved)


__all__ = [
    "SweepLocation",
    "available_sweeps",
    "default_out",
    "find_sweep",
    "has_output",
    "require_output",
    "resolve_sweep_file",
    "sweep_paths",
    "tracking_uri",
    "unknown_sweep",
]
