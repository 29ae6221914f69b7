"""The one-writer lock of an object-store sweep: a lease object taken by conditional writes.

S3 serializes conditional PUTs on one key (AWS since 2024; moto too): ``If-None-Match: *``
creates the lease only if there is none, ``If-Match: <ETag>`` replaces exactly the version that
was read. So of two drivers racing for a free or an expired lease, exactly one wins; the other
gets ``PreconditionFailed`` and exits 2 naming the holder. The holder renews the lease every
``RENEW_S`` (a conditional PUT on its own ETag); a lease not renewed for ``LEASE_S`` is expired
and may be taken over, at once when its holder is a dead pid on the taker's own host. A holder
whose renewal fails (another driver took an expired lease, e.g. after a long network outage)
stops itself with SIGINT, the same clean stop as Ctrl-C. Expiry compares wall clocks: hosts
must agree within a few seconds (NTP). pyarrow has no conditional writes, so this uses boto3;
``gcs.py`` runs the same protocol on GCS's generation preconditions.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ltsweep.errors import UserError
from ltsweep.storage.store import Store

LEASE_S, RENEW_S = 60.0, 15.0


def pid_alive(pid: int) -> bool:
    """Whether a process of this host still runs (a lock or lease holder's pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def s3_client(store: Store):
    """A boto3 client for the store's endpoint: the URI's query first, then the AWS variables."""
    try:
        import boto3
    except ImportError:
        raise UserError("the lock on s3:// needs boto3: pip install boto3") from None
    query = {k: v[0] for k, v in parse_qs(urlsplit(store.uri).query).items()}
    endpoint = query.get("endpoint_override")
    if endpoint and "://" not in endpoint:
        endpoint = f"{query.get('scheme', 'https')}://{endpoint}"
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=query.get("region") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        aws_access_key_id=query.get("access_key"),
        aws_secret_access_key=query.get("secret_key"),
    )


def _refused(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")


class S3Lease:
    """The lease object ``<prefix>/.lock``: its JSON names the holder and when it expires."""

    def __init__(self, store: Store) -> None:
        self.client = self._client(store)
        self.bucket, _, prefix = store.base.partition("/")
        self.key = f"{prefix}/.lock" if prefix else ".lock"
        self.where = store.where(".lock")
        self.me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
            "token": uuid.uuid4().hex,
        }
        self.etag: str | None = None

    @staticmethod
    def _client(store: Store):
        return s3_client(store)

    def _body(self) -> bytes:
        return json.dumps({**self.me, "expires": time.time() + LEASE_S}).encode()

    def _put(self, **condition: str) -> bool:
        try:
            self.etag = self.client.put_object(
                Bucket=self.bucket, Key=self.key, Body=self._body(), **condition
            )["ETag"]
            return True
        except Exception as exc:
            if _refused(exc):
                return False
            raise

    def read(self) -> tuple[dict[str, Any], str] | None:
        try:
            got = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except self.client.exceptions.NoSuchKey:
            return None
        try:
            return json.loads(got["Body"].read()), got["ETag"]
        except ValueError:
            return {}, got["ETag"]  # unreadable: treat as expired

    def acquire(self) -> None:
        if self._put(IfNoneMatch="*"):
            return
        current = self.read()
        if current is None:  # released in between: one more conditional create
            if self._put(IfNoneMatch="*"):
                return
            current = self.read() or ({}, "")
        holder, etag = current
        if holder_live(holder):
            raise UserError(_in_use(self.where, holder))
        if not self._put(IfMatch=etag):  # take over exactly the expired version we read
            raise UserError(_in_use(self.where, (self.read() or ({}, ""))[0]))

    def renew(self) -> bool:
        """Extend our lease; False if it is not ours (never held, or taken over)."""
        return self.etag is not None and self._put(IfMatch=self.etag)

    def release(self) -> None:
        current = self.read()
        if current and current[0].get("token") == self.me["token"]:
            self.client.delete_object(Bucket=self.bucket, Key=self.key)


def holder_live(holder: dict[str, Any]) -> bool:
    """A lease is live until it expires; at once dead if its pid is gone on this very host."""
    if not holder or float(holder.get("expires", 0)) < time.time():
        return False
    if holder.get("host") == socket.gethostname():
        return pid_alive(int(holder.get("pid", 0)))
    return True


def _in_use(where: str, holder: dict[str, Any]) -> str:
    return (
        f"{where.rsplit('/', 1)[0]} is in use by ltsweep pid {holder.get('pid', '?')} on "
        f"{holder.get('host', '?')} since {holder.get('since', '?')}; wait for it, or stop it "
        f"and run again (a dead holder's lease expires {LEASE_S:.0f} s after its last renewal)"
    )
