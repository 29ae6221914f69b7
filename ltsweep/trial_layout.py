"""The one description of a trial's directory: which files it holds and what each one means.

The engine writes it (``core.imp``, ``core.transfer``, ``core.tickets``), the storage layer
mirrors and verifies it, the tracking layer logs its tickets; all of them name files through
this module, which imports neither torch nor the engine. A trial's directory is
``trials/<key>/`` of the sweep's output (``storage.paths``); a generation trial's holds::

    rewind.safetensors            weights at the late-reset step (level 0 captures them)
    level_LL/checkpoint.pt        last epoch-boundary checkpoint of a level in progress
    level_LL/final.safetensors    trained weights at the end of the level
    level_LL/result.json          the level's metrics; its presence means "level done"
    tickets/level_LL/             the level's ticket: ticket.json + weights.safetensors
    nodes/rank_RRR.json           which node ran each rank of a multi-worker trial
    done.json | failed.json       the trial's record (``storage.done``): done.json means done

A transfer trial's directory holds ``checkpoint.pt`` while it trains (deleted once its done
record is safe) and its record. A ticket's ``ticket.json`` says what made it and carries the sha256 of
``weights.safetensors``; marker files (``ticket.json``, ``result.json``) are written after the
files they vouch for, so a reader who sees one finds the files it describes.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePath
from typing import Any, TypeVar

from ltsweep.errors import CorruptArtifactError, UserError
from ltsweep.hashing import sha256_file

REWIND_FILE = "rewind.safetensors"
CHECKPOINT_FILE = "checkpoint.pt"
FINAL_FILE = "final.safetensors"
RESULT_FILE = "result.json"
TICKETS_DIR = "tickets"
TICKET_INFO_FILE = "ticket.json"
TICKET_TENSORS_FILE = "weights.safetensors"
MARKERS = (TICKET_INFO_FILE, RESULT_FILE)  # written after the files they vouch for
NODES_DIR = "nodes"
DONE_FILE, FAILED_FILE = "done.json", "failed.json"

P = TypeVar("P", bound=PurePath)


def level_name(level: int) -> str:
    """``level_LL``: a level's folder name, under the trial and under ``tickets/``."""
    return f"level_{level:02d}"


def level_dir(trial_dir: P, level: int) -> P:
    return trial_dir / level_name(level)


def ticket_dir(trial_dir: P, level: int) -> P:
    return trial_dir / TICKETS_DIR / level_name(level)


def node_file(rank: int) -> str:
    """Where a multi-worker trial's rank records its node, relative to the trial's folder."""
    return f"{NODES_DIR}/rank_{rank:03d}.json"


def read_ticket_json(directory: Path) -> dict[str, Any]:
    """The raw ``ticket.json`` of a ticket folder: one line naming a missing or corrupt file."""
    path = Path(directory) / TICKET_INFO_FILE
    if not path.exists():
        raise UserError(f"{directory} is not a ticket: {TICKET_INFO_FILE} is missing")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptArtifactError(
            f"ticket file {path} is corrupt ({exc}); regenerate it"
        ) from None
    if not isinstance(raw, dict):
        raise CorruptArtifactError(f"ticket file {path} is corrupt (not an object); regenerate it")
    return raw


def verify_ticket_files(directory: Path) -> dict[str, Any]:
    """Check ``weights.safetensors`` against the sha256 in ``ticket.json``; return the JSON."""
    raw = read_ticket_json(directory)
    tensors = Path(directory) / TICKET_TENSORS_FILE
    if not tensors.exists():
        raise CorruptArtifactError(f"ticket file {tensors} is missing; regenerate the ticket")
    expected, actual = str(raw.get("sha256", "")), sha256_file(tensors)
    if actual != expected:
        raise CorruptArtifactError(
            f"ticket file {tensors} does not match its sha256 in {TICKET_INFO_FILE} "
            f"(expected {expected[:12]}…, got {actual[:12]}…): the file is corrupt or was "
            "changed; regenerate the ticket"
        )
    return raw
