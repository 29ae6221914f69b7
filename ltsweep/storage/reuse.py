"""Reusing finished generation trials from other sweeps' outputs (the sweep key ``reuse``).

A generation trial's key is a hash of everything that defines it, so a trial done in another
store with the same key made the very tickets this sweep would make. Its directory is copied
(tickets, level results, the late-reset weights, then its done record, last), every ticket's
tensors checked against the sha256 in its ``ticket.json`` on the way, so this store holds what a
run here would have written; the driver then records its MLflow results from that done record as
for any trial done before it started. Nothing in-progress is copied: only done trials.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ltsweep.errors import CorruptArtifactError, UserError
from ltsweep.storage.done import has_done
from ltsweep.storage.paths import SweepPaths
from ltsweep.storage.store import is_uri
from ltsweep.trial_layout import (
    CHECKPOINT_FILE,
    DONE_FILE,
    FAILED_FILE,
    MARKERS,
    TICKET_INFO_FILE,
    TICKETS_DIR,
    verify_ticket_files,
)

SKIPPED = {CHECKPOINT_FILE, FAILED_FILE}  # an unfinished level's state, another store's failures


def reuse_paths(uri: str) -> SweepPaths:
    """Another sweep's output, read through the same storage layer as ``--out``."""
    if is_uri(uri):
        return SweepPaths.for_uri(uri)
    path = Path(uri).expanduser()
    if not path.is_dir():
        raise UserError(f"reuse: {uri} is not a folder; give another sweep's --out")
    return SweepPaths(path.resolve())


def done_elsewhere(keys: list[str], uris: tuple[str, ...]) -> dict[str, str]:
    """key -> the first ``reuse`` URI where that trial is done."""
    found: dict[str, str] = {}
    for uri in uris:
        other = reuse_paths(uri)
        for key in keys:
            if key not in found:
                try:
                    if has_done(other, key):
                        found[key] = uri
                except OSError as exc:
                    raise UserError(f"reuse: cannot read {uri} ({exc}); check the URI") from None
    return found


def copy_trial(source: SweepPaths, dest: SweepPaths, key: str) -> int:
    """Copy one done trial's directory from ``source`` to ``dest``, verified; returns files."""
    rel = source.trial_rel(key)
    names = [n for n in source.store.files(rel) if Path(n).name not in SKIPPED]
    if DONE_FILE not in names:
        raise UserError(f"reuse: {source.where} has no done record for {key}")
    work = Path(tempfile.mkdtemp(prefix="ltsweep-reuse-"))
    try:
        for name in names:
            source.store.get_file(f"{rel}/{name}", work / name)
        _verify_tickets(work, source.store.where(rel))
        order = sorted(names, key=lambda n: (n == DONE_FILE, Path(n).name in MARKERS, n))
        for name in order:
            dest.store.put_file(work / name, f"{rel}/{name}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return len(names)


def _verify_tickets(trial_dir: Path, where: str) -> None:
    """Every ``tickets/level_LL/`` of a copied trial: tensors file against ``ticket.json``."""
    for info in sorted(trial_dir.glob(f"{TICKETS_DIR}/*/{TICKET_INFO_FILE}")):
        try:
            verify_ticket_files(info.parent)
        except UserError:
            raise CorruptArtifactError(
                f"reuse: ticket {where}/{info.parent.relative_to(trial_dir)} does not match its "
                "sha256: that store is damaged; remove it from reuse or regenerate the trial there"
            ) from None
