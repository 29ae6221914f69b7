"""A bucket that the credentials may read but not write, and credentials the store does not know:
moto in server mode with IAM enforced (its own process: moto's auth switch is process-wide, so it
must not share the S3 tests' in-process server). ``ltsweep run`` must say so in one line, exit 2,
before any trial starts, and write nothing: not in the bucket, not on this machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.common.cli import REPO
from tests.common.net import free_port

TINY = REPO / "tests" / "sweeps" / "tiny.yaml"
BUCKET = "ltsweep-readonly"
ROOT = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            # Read actions by wildcard: moto 5.2.6 no longer maps ListObjectsV2 to
            # s3:ListBucket (its evaluation denied the reader its own listing); still no write.
            "Action": ["s3:Get*", "s3:List*", "s3:Head*"],
            "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        }
    ],
}
pytestmark = pytest.mark.slow


def _wait_up(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"moto_server exited with {proc.returncode} before it answered")
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=5).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"moto_server did not answer on {url} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def iam_s3():
    """A moto server with a bucket and a read-only IAM user; IAM enforced from then on."""
    import boto3

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_up(url, server)
        common = dict(endpoint_url=url, region_name="us-east-1")
        boto3.client("s3", **common, **ROOT).create_bucket(Bucket=BUCKET)
        iam = boto3.client("iam", **common, **ROOT)
        iam.create_user(UserName="reader")
        iam.put_user_policy(
            UserName="reader", PolicyName="read-only", PolicyDocument=json.dumps(READ_ONLY)
        )
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        # From here on every request is authenticated and authorized (moto's IAM switch).
        enforce = urllib.request.Request(
            f"{url}/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(enforce, timeout=30).close()
        reader = {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        }
        client = boto3.client(
            "s3",
            **common,
            aws_access_key_id=reader["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=reader["AWS_SECRET_ACCESS_KEY"],
        )
        yield port, reader, client
    finally:
        server.terminate()
        server.wait(timeout=60)


CASES = {
    # name: (credentials, substrings of the one line)
    "read-only credentials": (None, ["denies writes", "s3:PutObject", "ltsweep-readonly/sweep"]),
    "unknown access key": (
        {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"},
        ["refuses these credentials", "INVALID_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_store_that_refuses_writes_is_one_line_exit_2_nothing_written(
    iam_s3, tmp_path: Path, case: str
) -> None:
    port, reader, client = iam_s3
    credentials, needles = CASES[case]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_", "RAY_"))}
    env.update(credentials or reader)
    env.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        LTSWEEP_CACHE=str(tmp_path / "cache"),
        RAY_AUTH_MODE="disabled",
    )
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    uri = f"s3://{BUCKET}/sweep?endpoint_override=127.0.0.1:{port}&scheme=http"
    result = subprocess.run(
        [sys.executable, "-m", "ltsweep", "run", str(TINY), "--out", uri],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, f"{case}: exit {result.returncode}\n{result.stderr}"
    assert len(lines) == 1, f"{case}: expected one line on stderr, got {lines}"
    assert all(n in lines[0] for n in needles), f"{case}: {lines[0]!r} lacks {needles}"
    assert "Ray" not in result.stdout, f"{case}: Ray started before the refusal: {result.stdout}"
    assert list(cwd.iterdir()) == [], f"{case}: wrote {list(cwd.iterdir())} locally"
    assert not (tmp_path / "cache").exists(), f"{case}: created this machine's cache"
    listed = client.list_objects_v2(Bucket=BUCKET)
    assert listed.get("KeyCount", 0) == 0, f"{case}: wrote {listed.get('Contents')} to the bucket"
