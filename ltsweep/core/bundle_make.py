"""Making a ticket bundle from a finished IMP run, and turning a bundle's level back into a ticket.

The level files are the run's ticket tensor files, copied byte for byte after their own sha256
(``ticket.json``) checked out, so a bundle's hashes are the tickets' hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import ltsweep
from ltsweep.core.jobs import DataConfig, GenerationJob
from ltsweep.core.tickets import TicketInfo, verify_ticket
from ltsweep.errors import CorruptArtifactError, UserError
from ltsweep.fsio import atomic_dir
from ltsweep.hashing import canonical_json
from ltsweep.ticket_bundle import (
    BUNDLE_FILE,
    Bundle,
    BundleLevel,
    level_file,
    make_bundle,
    safetensors_header,
    verify_level_file,
)
from ltsweep.trial_layout import TICKET_INFO_FILE as INFO_FILE
from ltsweep.trial_layout import TICKET_TENSORS_FILE as TENSORS_FILE
from ltsweep.trial_layout import verify_ticket_files


def source_identity(data: DataConfig, entry: str) -> dict[str, Any]:
    """The source dataset as an importer must know it: registered name (or the image folder's
    entry), class count, a fingerprint of its files, the cut and the training images used.

    An image folder's fingerprint hashes its file list (names, splits, sizes); a registered
    dataset's hashes what its registry entry says of it (name, classes, split size, channel
    statistics): ltsweep reads those from files it does not list itself."""
    from ltsweep.core.data.subsets import Cut, cut_size

    spec = data.spec()
    if data.folder is not None:
        kind, fingerprint, size = "files", data.folder.files_sha256, data.folder.train_size
    else:
        kind, size = "registry", spec.train_size
        facts = [spec.name, spec.num_classes, spec.train_size, list(spec.mean), list(spec.std)]
        fingerprint = hashlib.sha256(canonical_json(facts).encode()).hexdigest()
    cut = Cut(data.half, data.train_subset)
    return {
        "dataset": data.name,
        "entry": entry,
        "num_classes": spec.num_classes,
        "image_size": data.image_size or spec.image_size,
        "fingerprint_kind": kind,
        "files_fingerprint": fingerprint,
        "half": data.half,
        "train_subset": data.train_subset,
        "train_size": None if size is None else cut_size(size, cut),
    }


def series_identity(job: GenerationJob, entry: str, rewind_step: int, tensors: dict) -> dict:
    opt, train, imp = job.train.optimizer, job.train, job.imp
    return {
        "model": {"name": job.model.name, "options": job.model.kwargs},
        "source": source_identity(job.data, entry),
        "optimizer": asdict(opt),
        "schedule": {
            "epochs": train.epochs,
            "batch_size": train.batch_size,
            "milestones": list(train.milestones),
            "gamma": train.gamma,
            "warmup_epochs": train.warmup_epochs,
        },
        "seed": job.seed,
        "imp": {
            "levels": imp.levels,
            "rate": imp.prune.rate,
            "strategy": imp.prune.strategy,
            "prune_output": imp.prune.prune_output,
            "rewind_epochs": imp.rewind_epochs,
            "rewind_step": rewind_step,
        },
        "tensors": tensors,
    }


def bundle_from_tickets(
    job: GenerationJob,
    entry: str,
    ticket_dirs: dict[int, Path],
    level_results: list[dict[str, Any]],
    dest: Path,
) -> Bundle:
    """Write the bundle of one finished IMP run into the local folder ``dest`` (atomically);
    each ticket is verified first, and every level must hold the same tensors."""
    accuracy = {int(r["level"]): [h["test_accuracy"] for h in r["history"]] for r in level_results}
    with atomic_dir(dest) as tmp:
        levels, tensors, rewind = [], None, None
        for level in range(job.imp.levels + 1):
            info = verify_ticket(ticket_dirs[level])
            src = ticket_dirs[level] / TENSORS_FILE
            header = safetensors_header(src)
            if tensors is not None and header != tensors:
                raise CorruptArtifactError(f"ticket {ticket_dirs[level]} holds other tensors")
            tensors, rewind = header, info.rewind_step
            shutil.copyfile(src, tmp / level_file(level))
            accs = accuracy.get(level)
            levels.append(
                BundleLevel(
                    level,
                    level_file(level),
                    info.sha256,
                    (tmp / level_file(level)).stat().st_size,
                    info.weights_remaining,
                    info.layer_density,
                    accs[-1] if accs else None,
                    max(accs) if accs else None,
                )
            )
        provenance = {"ltsweep_version": ltsweep.__version__, "source_key": job.key}
        bundle = make_bundle(series_identity(job, entry, rewind, tensors or {}), levels, provenance)
        (tmp / BUNDLE_FILE).write_text(
            json.dumps(bundle.to_json(), indent=2, sort_keys=True) + "\n"
        )
    return bundle


def ticket_from_level(bundle: Bundle, level: int, level_path: Path, dest: Path) -> Path:
    """A ticket directory (``ticket.json`` + the level file) for the engine's transfer code,
    made from a verified level file; returns ``dest``."""
    verify_level_file(bundle, level, level_path, str(level_path))
    lv, imp = bundle.level(level), bundle.identity["imp"]
    info = TicketInfo(
        model=bundle.model,
        source_dataset=bundle.source["dataset"],
        source_optimizer=bundle.optimizer,
        level=level,
        seed=bundle.seed,
        num_classes=int(bundle.source["num_classes"]),
        rewind_step=int(imp["rewind_step"]),
        weights_remaining=lv.weights_remaining,
        layer_density=lv.layer_density,
        model_options=bundle.model_options,
        prune={k: imp[k] for k in ("strategy", "rate", "prune_output")},
        source_key=bundle.id,
        code_version=str(bundle.provenance.get("ltsweep_version", "")),
        sha256=lv.sha256,
    )
    if (dest / INFO_FILE).exists():
        try:
            verify_ticket_files(dest)
            return dest
        except UserError:  # damaged since: make it again
            shutil.rmtree(dest, ignore_errors=True)
    # Trials on one machine may make it at once: each builds its own, the first rename wins.
    tmp = dest.parent / f".{dest.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        os.link(level_path, tmp / TENSORS_FILE)  # the cache's verified file, not a second copy
    except OSError:
        shutil.copyfile(level_path, tmp / TENSORS_FILE)
    (tmp / INFO_FILE).write_text(json.dumps(asdict(info), indent=2, sort_keys=True) + "\n")
    try:
        os.rename(tmp, dest)
    except OSError:  # another trial made it first: use theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
