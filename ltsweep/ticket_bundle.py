"""Ticket bundles: one generation trial's ticket series as a self-describing, verified artifact.

A bundle is a folder (or an object-store prefix, or a registered MLflow model's artifacts)::

    bundle.json             what the series is (below) and the sha256 of every level file
    level_00.safetensors    level 0's mask and rewind weights (``masks.<name>``, ``weights.<name>``)
    level_01.safetensors    ... one file per level, so an importer fetches only what it trains

A level file is the ticket's own ``weights.safetensors`` byte for byte. ``bundle.json`` holds the
series' *identity* (model and options, the source dataset's identity, optimizer and schedule,
seed, IMP protocol, every tensor's name, dtype and shape) and per level the file's sha256 and
size, the per-layer sparsity and the accuracy. The bundle id hashes the identity and the level
files' sha256 only: republishing the same tensors with another ltsweep version, or after the
accuracies were re-read, keeps the id.

Nothing here imports torch: ``plan`` reads a bundle's JSON, and a level file is checked by size,
sha256 and its safetensors header (parsed here, never unpickled) before any tensor is loaded.
It sits beside ``trial_layout``, below ``core`` and ``storage``: the storage layer reads and
checks bundles without the engine; ``core.bundle_make`` makes them from tickets.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltsweep.errors import CorruptArtifactError, UserError
from ltsweep.hashing import canonical_json, sha256_file

BUNDLE_FILE = "bundle.json"
FORMAT = "ltsweep-ticket-bundle"
FORMAT_VERSION = 1
MAX_JSON_BYTES = 16 << 20  # bundle.json is read before anything is verified: cap it
MAX_HEADER_BYTES = 100 << 20  # safetensors' own cap on a header
MAX_LEVEL_BYTES = 16 << 30  # a VGG19 level is ~100 MB; refuse what no model needs
ID_PREFIX = "b-"
_LEVEL_FILE = re.compile(r"^level_(\d{2,3})\.safetensors$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
_IDENTITY_KEYS = ("model", "source", "optimizer", "schedule", "seed", "imp", "tensors")


def level_file(level: int) -> str:
    return f"level_{level:02d}.safetensors"


@dataclass(frozen=True)
class BundleLevel:
    level: int
    file: str
    sha256: str
    bytes: int
    weights_remaining: float
    layer_density: dict[str, float]
    final_accuracy: float | None = None
    best_accuracy: float | None = None


@dataclass(frozen=True)
class Bundle:
    """A parsed, self-consistent ``bundle.json`` (its files are checked when fetched)."""

    id: str
    identity: dict[str, Any]
    levels: tuple[BundleLevel, ...]
    provenance: dict[str, Any]

    @property
    def model(self) -> str:
        return self.identity["model"]["name"]

    @property
    def model_options(self) -> dict[str, Any]:
        return dict(self.identity["model"]["options"])

    @property
    def source(self) -> dict[str, Any]:
        return self.identity["source"]

    @property
    def optimizer(self) -> str:
        return self.identity["optimizer"]["name"]

    @property
    def seed(self) -> int:
        return int(self.identity["seed"])

    @property
    def tensors(self) -> dict[str, dict[str, Any]]:
        return self.identity["tensors"]

    def level(self, level: int) -> BundleLevel:
        for lv in self.levels:
            if lv.level == level:
                return lv
        raise UserError(f"ticket bundle {self.id} has no level {level} (levels 0..{self.top})")

    @property
    def top(self) -> int:
        return self.levels[-1].level

    def label(self) -> str:
        """``vgg19 imagenet/sgd s0``: what the series is, in one phrase."""
        src = self.source.get("entry") or self.source["dataset"]
        return f"{self.model} {src}/{self.optimizer} s{self.seed}"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "id": self.id,
            "identity": self.identity,
            "levels": [lv.__dict__ for lv in self.levels],
            "provenance": self.provenance,
        }


def bundle_id(identity: dict[str, Any], levels: list[tuple[int, str]] | tuple) -> str:
    """Hash of what defines the series: its identity and each level file's sha256."""
    payload = canonical_json({"identity": identity, "levels": [list(x) for x in levels]})
    return ID_PREFIX + hashlib.sha256(payload.encode()).hexdigest()[:20]


def make_bundle(
    identity: dict[str, Any], levels: list[BundleLevel], provenance: dict[str, Any]
) -> Bundle:
    levels = sorted(levels, key=lambda lv: lv.level)
    ident = bundle_id(identity, [(lv.level, lv.sha256) for lv in levels])
    return Bundle(ident, identity, tuple(levels), provenance)


def parse_bundle(raw: bytes, where: str) -> Bundle:
    """``bundle.json``'s bytes to a ``Bundle``; every lie or gap is one line naming ``where``."""
    if len(raw) > MAX_JSON_BYTES:
        raise CorruptArtifactError(
            f"{where} is {len(raw)} bytes, over the {MAX_JSON_BYTES >> 20} MiB a bundle.json may "
            "have: it is not a ticket bundle"
        )
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptArtifactError(
            f"{where} is not valid JSON ({exc}); republish the bundle"
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UserError(f"{where} is not an ltsweep ticket bundle (no format: {FORMAT})")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise UserError(
            f"{where} is a ticket bundle of format version {version}, newer than this ltsweep "
            f"reads ({FORMAT_VERSION}): upgrade ltsweep to import it"
        )
    try:
        bundle = _from_doc(doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptArtifactError(
            f"{where} is malformed ({type(exc).__name__}: {exc}); republish the bundle"
        ) from None
    _check_consistent(bundle, doc["id"], where)
    return bundle


def _from_doc(doc: dict[str, Any]) -> Bundle:
    identity = doc["identity"]
    missing = [k for k in _IDENTITY_KEYS if k not in identity]
    if missing:
        raise KeyError(f"identity lacks {', '.join(missing)}")
    levels = []
    for lv in doc["levels"]:
        levels.append(
            BundleLevel(
                level=int(lv["level"]),
                file=str(lv["file"]),
                sha256=str(lv["sha256"]),
                bytes=int(lv["bytes"]),
                weights_remaining=float(lv["weights_remaining"]),
                layer_density={str(k): float(v) for k, v in lv["layer_density"].items()},
                final_accuracy=_opt_float(lv.get("final_accuracy")),
                best_accuracy=_opt_float(lv.get("best_accuracy")),
            )
        )
    for name, spec in identity["tensors"].items():
        shape = spec["shape"]
        if not isinstance(name, str) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ValueError(f"tensor {name!r} has shape {shape!r}")
        str(spec["dtype"])
    return Bundle(str(doc["id"]), identity, tuple(levels), dict(doc.get("provenance") or {}))


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _check_consistent(bundle: Bundle, claimed: str, where: str) -> None:
    levels = [lv.level for lv in bundle.levels]
    declared = int(bundle.identity["imp"]["levels"])
    want = list(range(declared + 1))
    if sorted(levels) != want:
        gone = sorted(set(want) - set(levels))
        what = f"level {gone[0]} is missing" if gone else f"levels {levels} are not 0..{declared}"
        raise CorruptArtifactError(f"{where}: {what}; republish the whole series")
    masks = {n[6:] for n in bundle.tensors if n.startswith("masks.")}
    for lv in bundle.levels:
        if lv.file != level_file(lv.level) or not _LEVEL_FILE.match(lv.file):
            raise CorruptArtifactError(
                f"{where}: level {lv.level} names file {lv.file!r}, expected "
                f"{level_file(lv.level)!r}; republish the bundle"
            )
        if not _SHA.match(lv.sha256):
            raise CorruptArtifactError(f"{where}: level {lv.level} has no valid sha256")
        if not 0 < lv.bytes <= MAX_LEVEL_BYTES:
            raise CorruptArtifactError(
                f"{where}: level {lv.level} declares {lv.bytes} bytes (limit "
                f"{MAX_LEVEL_BYTES >> 30} GiB); republish the bundle"
            )
        stray = set(lv.layer_density) - masks
        if stray:
            raise CorruptArtifactError(
                f"{where}: level {lv.level}'s sparsity names {sorted(stray)[0]!r}, which has no "
                "mask among the bundle's tensors"
            )
    expected = bundle_id(bundle.identity, [(lv.level, lv.sha256) for lv in bundle.levels])
    if claimed != expected:
        raise CorruptArtifactError(
            f"{where} says its id is {claimed}, but its contents hash to {expected}: the JSON "
            "was edited; republish the bundle"
        )


# -- level files -----------------------------------------------------------------------------
def safetensors_header(path: Path) -> dict[str, dict[str, Any]]:
    """Tensor name -> {dtype, shape} from a safetensors file's JSON header (no tensor read)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise CorruptArtifactError(f"{path} is truncated (no safetensors header)")
        (size,) = struct.unpack("<Q", head)
        if size > MAX_HEADER_BYTES:
            raise CorruptArtifactError(f"{path} declares a {size}-byte header: not a ticket file")
        raw = fh.read(size)
    try:
        header = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CorruptArtifactError(f"{path} has a corrupt safetensors header") from None
    header.pop("__metadata__", None)
    return {k: {"dtype": v["dtype"], "shape": list(v["shape"])} for k, v in header.items()}


def verify_level_file(bundle: Bundle, level: int, path: Path, where: str) -> None:
    """Size, then sha256, then the header against the declared tensors: a file that passes is
    exactly the one the bundle describes. ``where`` names the file in the one-line error."""
    lv = bundle.level(level)
    size = path.stat().st_size if path.exists() else -1
    if size != lv.bytes:
        what = "missing" if size < 0 else f"{size} bytes, not the {lv.bytes} declared"
        raise CorruptArtifactError(
            f"ticket file {where} is {what}: truncated or replaced; fetch or republish it"
        )
    actual = sha256_file(path)
    if actual != lv.sha256:
        raise CorruptArtifactError(
            f"ticket file {where} does not match its sha256 in {BUNDLE_FILE} (expected "
            f"{lv.sha256[:12]}…, got {actual[:12]}…): the file was changed; republish it"
        )
    if safetensors_header(path) != bundle.tensors:
        raise CorruptArtifactError(
            f"ticket file {where} holds other tensors than {BUNDLE_FILE} declares; republish it"
        )


# -- compatibility with a sweep's model --------------------------------------------------------
def shape_mismatch(
    bundle: Bundle, shapes: dict[str, tuple[int, ...]], skip_prefixes: tuple[str, ...]
) -> str | None:
    """The first way the bundle's trunk does not fit a model's state-dict ``shapes`` (modules
    under ``skip_prefixes``, the output layer and a re-initialised stem, are not compared)."""

    def kept(name: str) -> bool:
        return not any(name.startswith(p + ".") for p in skip_prefixes)

    declared = {n[8:]: s["shape"] for n, s in bundle.tensors.items() if n.startswith("weights.")}
    for name, shape in sorted(declared.items()):
        if not kept(name):
            continue
        if name not in shapes:
            return f"tensor {name} {tuple(shape)} has no place in the model"
        if tuple(shape) != tuple(shapes[name]):
            return f"tensor {name} is {tuple(shape)}, the model's is {tuple(shapes[name])}"
    lacking = sorted(n for n in shapes if kept(n) and n not in declared)
    if lacking:
        return f"the bundle lacks {lacking[0]}"
    return None
