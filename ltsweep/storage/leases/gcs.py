"""The one-writer lease of a ``gs://`` sweep, on what GCS guarantees: generation preconditions.

Every GCS object version has a ``generation``; a write with ``ifGenerationMatch=0`` succeeds only
if the object does not exist, and ``ifGenerationMatch=G`` only if its live version is still G
(else 412). That is S3's ``If-None-Match: *`` / ``If-Match: <ETag>``, so ``S3Lease``'s protocol
(create, renew, take over exactly the expired version read, release) runs unchanged on top.
pyarrow's ``GcsFileSystem`` exposes no preconditions, so this talks to the JSON API itself
(multipart upload, ``alt=media`` download, delete), through urllib: credentials from
``google.auth.default()`` (the metadata server on GCE, ``GOOGLE_APPLICATION_CREDENTIALS``
elsewhere), none with ``anonymous=true`` in the URI (emulators).
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from ltsweep.errors import UserError
from ltsweep.storage.leases.s3 import S3Lease
from ltsweep.storage.store import Store

GCS = "https://storage.googleapis.com"


class PreconditionFailed(Exception):
    """The object's generation was not the one the write required (HTTP 412)."""


class GcsObject:
    """One object through the JSON API, every write conditional on a generation."""

    def __init__(self, store: Store, key: str) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(store.uri).query).items()}
        endpoint = query.get("endpoint_override")
        self.root = f"{query.get('scheme', 'https')}://{endpoint}" if endpoint else GCS
        self.anonymous = query.get("anonymous", "false").lower() == "true"
        self.bucket, self.key = store.base.split("/", 1)[0], key
        self._credentials: Any = None

    def _auth(self) -> dict[str, str]:
        if self.anonymous:
            return {}
        try:
            import google.auth
            import google.auth.transport.requests
        except ImportError:
            raise UserError(
                "the lock on gs:// needs google-auth: pip install google-auth"
            ) from None
        if self._credentials is None:
            scope = ["https://www.googleapis.com/auth/devstorage.read_write"]
            self._credentials, _ = google.auth.default(scopes=scope)
        if not self._credentials.valid:
            self._credentials.refresh(google.auth.transport.requests.Request())
        return {"Authorization": f"Bearer {self._credentials.token}"}

    def _call(self, method: str, url: str, body: bytes | None = None, headers=None):
        request = urllib.request.Request(
            url, data=body, method=method, headers={**self._auth(), **(headers or {})}
        )
        try:
            return urllib.request.urlopen(request, timeout=30)
        except urllib.error.HTTPError as exc:
            if exc.code == 412:
                raise PreconditionFailed(url) from None
            raise

    def write(self, data: bytes, generation: int) -> int:
        """Write ``data`` if the live generation is ``generation`` (0: if there is none)."""
        boundary = uuid.uuid4().hex
        meta = json.dumps({"name": self.key, "contentType": "application/json"})
        body = (
            (
                f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{meta}\r\n"
                f"--{boundary}\r\nContent-Type: application/json\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        url = (
            f"{self.root}/upload/storage/v1/b/{self.bucket}/o?uploadType=multipart"
            f"&ifGenerationMatch={generation}"
        )
        headers = {"Content-Type": f"multipart/related; boundary={boundary}"}
        with self._call("POST", url, body, headers) as got:
            return int(json.loads(got.read())["generation"])

    def _url(self) -> str:
        return f"{self.root}/storage/v1/b/{self.bucket}/o/{quote(self.key, safe='')}"

    def read(self) -> tuple[bytes, int] | None:
        """The live version's bytes and generation (one consistent version), or None."""
        try:
            with self._call("GET", self._url()) as got:
                generation = int(json.loads(got.read())["generation"])
            with self._call(
                "GET", f"{self._url()}?alt=media&ifGenerationMatch={generation}"
            ) as got:
                return got.read(), generation
        except PreconditionFailed:  # replaced between the two requests: read it again
            return self.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def delete(self, generation: int) -> None:
        # Someone else's version by now, or gone: either way not ours to delete.
        with contextlib.suppress(PreconditionFailed, urllib.error.HTTPError):
            self._call("DELETE", f"{self._url()}?ifGenerationMatch={generation}").close()


class GcsLease(S3Lease):
    """``S3Lease`` with generations for ETags: ``<prefix>/.lock`` on GCS."""

    def __init__(self, store: Store) -> None:
        _, _, prefix = store.base.partition("/")
        super().__init__(store)
        self.object = GcsObject(store, f"{prefix}/.lock" if prefix else ".lock")

    @staticmethod
    def _client(store: Store) -> None:
        return None  # ``self.object`` speaks to GCS

    def _put(self, **condition: str) -> bool:
        if "IfNoneMatch" in condition:
            generation = 0
        elif condition.get("IfMatch"):
            generation = int(condition["IfMatch"])
        else:
            return False  # no version was read: nothing to take over
        try:
            self.etag = str(self.object.write(self._body(), generation))
            return True
        except PreconditionFailed:
            return False

    def read(self) -> tuple[dict[str, Any], str] | None:
        got = self.object.read()
        if got is None:
            return None
        data, generation = got
        try:
            return json.loads(data), str(generation)
        except ValueError:
            return {}, str(generation)  # unreadable: treat as expired

    def release(self) -> None:
        current = self.read()
        if current and current[0].get("token") == self.me["token"]:
            self.object.delete(int(current[1]))
