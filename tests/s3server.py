"""A real S3 endpoint on loopback for tests: ``moto[server]`` (the S3 wire protocol, in memory) in its own
process, so worker processes reach it like a MinIO or AWS endpoint."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def s3_server(*, auth: bool = False) -> Iterator[str]:
    """Yields the endpoint URL of a fresh moto S3 server. ``auth``: it checks keys like AWS does (moto's IAM
    emulation), so a request with unknown keys is refused (403 InvalidAccessKeyId); without, any keys pass."""
    pytest.importorskip("moto")
    port = _free_port()
    env = {**os.environ, **({"INITIAL_NO_AUTH_ACTION_COUNT": "0"} if auth else {})}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).read()
                break
            except urllib.error.HTTPError:  # it answers (a 403 when it checks keys): it is up
                break
            except Exception:
                if time.monotonic() > end or proc.poll() is not None:
                    pytest.fail("the moto S3 server did not start")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


_n = [0]


def new_bucket(endpoint: str) -> str:
    """A new, empty bucket on ``endpoint``; returns its name."""
    import boto3

    _n[0] += 1
    name = f"reelforge-test-{_n[0]}-{int(time.time() * 1000) % 100000}"
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                 region_name="us-east-1").create_bucket(Bucket=name)  # fmt: skip
    return name
