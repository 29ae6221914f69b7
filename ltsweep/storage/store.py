"""A sweep's storage: a local directory (today's files, temp + rename) or an object-store prefix
(``s3://bucket/prefix``, ``gs://bucket/prefix``) through a ``pyarrow.fs`` filesystem.

The rest of the runtime reads and writes records by name relative to the sweep's root and never
asks which kind it is. On object stores "atomic" is the store's own: pyarrow uploads an object in
one PUT or a multipart upload, and S3/GCS make it visible under its final key only once the
upload completes, whole; no reader ever sees a partial object, so no temp-key-then-copy is needed.
Endpoint and credentials come as pyarrow and the AWS tools take them: the standard AWS
environment variables or the URI's query (``?endpoint_override=host:port&scheme=http``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ltsweep import fsio
from ltsweep.caches import cache_folder
from ltsweep.errors import UserError

OBJECT_SCHEMES = ("s3", "gs", "gcs")
_URI_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_FIX = "use a local path, s3://BUCKET/PREFIX or gs://BUCKET/PREFIX"


@dataclass(frozen=True)
class Store:
    """Records under one root. ``local`` is set for a directory, ``None`` for an object store."""

    uri: str  # as the user wrote it (query included: trials on other nodes reopen it from this)
    fs: Any  # a pyarrow.fs.FileSystem
    base: str  # the root inside ``fs`` ("bucket/prefix" on object stores)
    local: Path | None = None

    @property
    def is_local(self) -> bool:
        return self.local is not None

    @property
    def scheme(self) -> str:
        return "file" if self.local is not None else urlsplit(self.uri).scheme

    def path(self, rel: str = "") -> str:
        """The full path of ``rel`` inside ``fs`` (Ray's ``storage_path`` with ``fs``)."""
        return f"{self.base}/{rel}".rstrip("/") if rel else self.base

    def where(self, rel: str = "") -> str:
        """``rel`` as a user would write it, for messages."""
        if self.local is not None:
            return str(self.local / rel)
        return f"{self.scheme}://{self.path(rel)}"

    # -- records -----------------------------------------------------------------------------
    def read_bytes(self, rel: str, limit: int | None = None) -> bytes | None:
        """``rel``'s bytes, or None if it is not there; with ``limit``, at most ``limit + 1`` of
        them (a caller that knows the size sees an oversized file without reading it whole)."""
        if self.local is not None:
            path = self.local / rel
            if not path.is_file():
                return None
            with open(path, "rb") as fh:
                return fh.read(-1 if limit is None else limit + 1)
        try:
            with self.fs.open_input_stream(self.path(rel)) as fh:
                return fh.read() if limit is None else fh.read(limit + 1)
        except FileNotFoundError:
            return None

    def read_json(self, rel: str) -> Any:
        data = self.read_bytes(rel)
        return None if data is None else json.loads(data)

    def write_bytes(self, rel: str, data: bytes) -> None:
        if self.local is not None:
            fsio.write_bytes(self.local / rel, data)
            return
        with self.fs.open_output_stream(self.path(rel)) as fh:  # visible whole, or not at all
            fh.write(data)

    def write_json(self, rel: str, obj: Any) -> None:
        self.write_bytes(rel, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())

    def exists(self, rel: str) -> bool:
        if self.local is not None:
            return (self.local / rel).exists()
        from pyarrow.fs import FileType

        return self.fs.get_file_info(self.path(rel)).type == FileType.File

    def delete(self, rel: str) -> None:
        if self.local is not None:
            (self.local / rel).unlink(missing_ok=True)
            return
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(self.path(rel))

    def files(self, rel: str) -> list[str]:
        """Every file under ``rel``, as paths relative to ``rel`` (empty if there is none)."""
        from pyarrow.fs import FileSelector, FileType

        root = self.path(rel)
        selector = FileSelector(root, recursive=True, allow_not_found=True)
        found = self.fs.get_file_info(selector)
        return sorted(i.path[len(root) + 1 :] for i in found if i.type == FileType.File)

    # -- staging (object stores) ---------------------------------------------------------------
    def put_file(self, local: Path, rel: str) -> None:
        """Copy the file ``local`` to ``rel``, visible whole or not at all."""
        if self.local is not None:
            fsio.write_with(self.local / rel, lambda tmp: shutil.copyfile(local, tmp))
            return
        with open(local, "rb") as src, self.fs.open_output_stream(self.path(rel)) as dst:
            shutil.copyfileobj(src, dst, 8 << 20)

    def get_file(self, rel: str, local: Path, limit: int | None = None) -> None:
        """Copy ``rel`` to ``local`` atomically (temp + rename on this machine's disk); with
        ``limit``, stop after ``limit + 1`` bytes (the caller checks the size it expected)."""

        def fetch(tmp: Path) -> None:
            if self.local is not None:
                src: Any = open(self.local / rel, "rb")  # noqa: SIM115 (closed below)
            else:
                src = self.fs.open_input_stream(self.path(rel))
            with src, open(tmp, "wb") as dst:
                if limit is None:
                    shutil.copyfileobj(src, dst, 8 << 20)
                    return
                left = limit + 1
                while left > 0 and (chunk := src.read(min(8 << 20, left))):
                    dst.write(chunk)
                    left -= len(chunk)

        fsio.write_with(local, fetch)

    def probe(self) -> None:
        """Prove the store writable, readable and deletable before any trial starts."""
        if self.local is not None:
            return _probe_local(self.local)
        rel = f".write-test-{uuid.uuid4().hex[:12]}"
        try:
            self.write_bytes(rel, b"ltsweep")
            ok = self.read_bytes(rel) == b"ltsweep"
            self.delete(rel)
        except OSError as exc:
            raise UserError(_explain(self, exc)) from None
        if not ok:
            raise UserError(f"{self.where()} did not return what ltsweep wrote; check the endpoint")


def _probe_local(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(
            f"output directory {out} is not writable ({exc.strerror}); "
            "pass --out DIR with a writable directory"
        ) from None


_GRANTS = {  # what a sweep needs of its bucket, in each store's own words
    "s3": "s3:PutObject, GetObject, DeleteObject and ListBucket",
    "gs": "storage.objects.create, get, delete and list (roles/storage.objectAdmin)",
}
_GRANTS["gcs"] = _GRANTS["gs"]


def _explain(store: Store, exc: OSError) -> str:
    """One line for what the store said. Credential errors are checked first: S3's
    "access key ... does not exist in our records" is not a missing bucket."""
    text = str(exc)
    bucket = store.base.split("/", 1)[0]
    where = f"{store.scheme}://{bucket}"
    if "INVALID_ACCESS_KEY" in text or "SIGNATURE" in text.upper() or "credentials" in text:
        return (
            f"{where} refuses these credentials ({_first_line(text, 120)}); "
            "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
        )
    if "ACCESS_DENIED" in text or "AccessDenied" in text or "403" in text or "Forbidden" in text:
        grant = _GRANTS.get(store.scheme, _GRANTS["s3"])
        return (
            f"{store.where()} denies writes to these credentials: grant them {grant} on it, "
            "or use another --out"
        )
    if "NO_SUCH_BUCKET" in text or "does not exist" in text:
        return f"bucket {where} does not exist: create it (e.g. aws s3 mb {where}) or fix --out"
    return (
        f"cannot write to {store.where()} ({_first_line(text, 160)}); check the endpoint "
        "(endpoint_override / AWS_ENDPOINT_URL), the network and the credentials"
    )


def _first_line(text: str, limit: int) -> str:
    """pyarrow's error code (``AWS Error INVALID_ACCESS_KEY_ID``) if there is one, else the
    start of the message."""
    code = re.search(r"AWS Error [A-Z_]+", text)
    if code:
        return code.group(0)
    return text.splitlines()[0][:limit] if text else "no message"


def is_uri(out: str | Path) -> bool:
    """A ``scheme:`` prefix makes ``--out`` a URI (never a directory literally named ``s3:``)."""
    return isinstance(out, str) and bool(_URI_LIKE.match(out))


def open_store(out: str | Path) -> Store:
    """The store ``--out`` names; every malformed or unknown URI is a ``UserError``."""
    if not is_uri(out):
        local = Path(out).resolve()
        from pyarrow.fs import LocalFileSystem

        return Store(str(local), LocalFileSystem(), str(local), local)
    text = str(out)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if not text[len(parts.scheme) + 1 :].startswith("//"):
        raise UserError(f"--out {text!r} is a malformed URI (no '//' after '{scheme}:'); {_FIX}")
    if scheme == "file":
        return open_store(parts.path)
    if scheme not in OBJECT_SCHEMES:
        raise UserError(f"--out {text!r}: unknown storage scheme {scheme!r}; {_FIX}")
    if not parts.netloc:
        raise UserError(f"--out {text!r} names no bucket; write {scheme}://BUCKET/PREFIX")
    if scheme == "s3":
        _require_aws_credentials(text, parse_qs(parts.query))
    from pyarrow import ArrowInvalid
    from pyarrow.fs import FileSystem

    try:
        fs, base = _gcs_anonymous(parts) or FileSystem.from_uri(text)
    except (ArrowInvalid, ValueError) as exc:
        raise UserError(f"--out {text!r} is a malformed URI ({exc}); {_FIX}") from None
    except OSError as exc:  # e.g. a GCS client without credentials
        raise UserError(
            f"--out {text!r}: cannot open the store ({exc}); check credentials"
        ) from None
    return Store(text, fs, base.rstrip("/"))


def _gcs_anonymous(parts) -> tuple[Any, str] | None:
    """``gs://…?anonymous=true`` (an emulator, a public bucket): pyarrow's ``from_uri`` has no
    such key, and without it the GCS client would ask the metadata server for credentials."""
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    if parts.scheme.lower() not in ("gs", "gcs") or query.pop("anonymous", "") != "true":
        return None
    unknown = set(query) - {"endpoint_override", "scheme"}
    if unknown:
        raise ValueError(f"unexpected query keys {sorted(unknown)} with anonymous=true")
    from pyarrow.fs import GcsFileSystem

    fs = GcsFileSystem(anonymous=True, **query)
    return fs, f"{parts.netloc}{parts.path}"


def _require_aws_credentials(uri: str, query: dict[str, list[str]]) -> None:
    """Fail before any request when no AWS credential source is configured (the SDK would only
    say "access denied" after its retries)."""
    if "access_key" in query or query.get("anonymous", ["false"])[0].lower() == "true":
        return
    try:
        import botocore.session
    except ImportError:  # without botocore, let the probe report what the store says
        return
    if botocore.session.get_session().get_credentials() is None:
        raise UserError(
            f"no AWS credentials for {uri.split('?', 1)[0]}: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or run where an instance role provides them"
        )


def cache_dir(uri: str) -> Path:
    """This machine's working copy of an object-store sweep: trial work directories, fetched
    tickets and, unless ``tracking_uri`` says otherwise, the SQLite MLflow store."""
    parts = urlsplit(uri)
    canonical = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{parts.netloc}{parts.path}").strip("-")[:60]
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    return cache_folder("stores") / f"{slug}-{digest}"
