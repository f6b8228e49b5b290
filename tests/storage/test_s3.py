"""Object storage (#17 item 2) against a real S3 endpoint (moto server on loopback): the store itself, its one-line
errors, and the stage cache shared between two machines that have no folder in common."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from s3server import new_bucket, s3_server

from reelforge.cache import Cache
from reelforge.errors import StorageError, StorageUnavailable, StoreError
from reelforge.storage import Storage
from reelforge.storage.local import LocalStorage
from reelforge.storage.s3 import S3Storage


def store_for(endpoint: str, bucket: str | None = None, prefix: str = "v1") -> S3Storage:
    bucket = bucket or new_bucket(endpoint)
    return S3Storage(f"s3://{bucket}/{prefix}", endpoint=endpoint, access_key="testing", secret_key="testing")


@pytest.fixture(params=["s3", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """The same contract, for a bucket and for a folder."""
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    return store_for(request.getfixturevalue("s3_endpoint"))


def test_the_storage_contract(store: Storage, tmp_path: Path) -> None:
    assert isinstance(store, Storage)
    store.check()
    data = os.urandom(3 * 1024 * 1024 + 17)  # over one read chunk, and multipart for boto3's upload_file
    src = tmp_path / "video.mp4"
    src.write_bytes(data)
    store.put_file("jobs/a/video.mp4", src, "video/mp4")
    store.put_bytes("jobs/a/hls/s0-1-0.ts", b"segment")
    store.put_bytes("jobs/ab/x.vtt", b"WEBVTT\n")
    info = store.stat("jobs/a/video.mp4")
    assert info is not None and info.size == len(data) and info.etag
    assert (
        store.stat("jobs/a/none") is None
        and not store.exists("jobs/a/none")
        and store.exists("jobs/a/video.mp4")
    )
    assert b"".join(store.read_range("jobs/a/video.mp4", 100, 2_000_099)) == data[100:2_000_100]
    assert b"".join(store.read_range("jobs/a/video.mp4", len(data) - 5, len(data) - 1)) == data[-5:]
    out = tmp_path / "copy.mp4"
    assert store.get_file("jobs/a/video.mp4", out) and out.read_bytes() == data
    assert not store.get_file("jobs/a/missing", tmp_path / "x") and not (tmp_path / "x").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]  # no temporary file left behind
    # a new version has a new etag (what the API's local copies are keyed by)
    store.put_bytes("jobs/a/video.mp4", b"re-rendered")
    again = store.stat("jobs/a/video.mp4")
    assert again is not None and again.size == 11 and again.etag != info.etag
    assert sorted(store.list("jobs/a/")) == ["jobs/a/hls/s0-1-0.ts", "jobs/a/video.mp4"]
    assert sorted(store.list("jobs/a")) == ["jobs/a/hls/s0-1-0.ts", "jobs/a/video.mp4", "jobs/ab/x.vtt"]
    assert store.delete_prefix("jobs/a/") == 2
    assert store.stat("jobs/a/video.mp4") is None and list(store.list("jobs/a/")) == []
    assert store.exists("jobs/ab/x.vtt")  # a prefix ending in / is that folder only
    with pytest.raises(ValueError):
        store.put_bytes("jobs/../../etc/x", b"no")


def test_presigned_urls(s3_endpoint: str, tmp_path: Path) -> None:
    store = store_for(s3_endpoint)
    store.put_bytes("jobs/a/video.mp4", b"frames" * 100)
    url = store.presign("jobs/a/video.mp4", 60, filename="bees.mp4", content_type="video/mp4")
    assert url is not None
    with urllib.request.urlopen(url) as r:  # no keys: the signature in the URL is the permission
        assert r.read() == b"frames" * 100
        assert r.headers["Content-Type"] == "video/mp4"
        assert 'filename="bees.mp4"' in r.headers["Content-Disposition"]
    assert LocalStorage(tmp_path).presign("x") is None  # a folder has no URLs: the API streams instead


def test_clear_errors(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist") as missing:
        S3Storage("s3://no-such-bucket-here/x", endpoint=s3_endpoint, access_key="testing",
                  secret_key="testing").check()  # fmt: skip
    assert "\n" not in str(missing.value) and "create it, or fix storage_url" in str(missing.value)
    assert isinstance(missing.value, StoreError) and not isinstance(missing.value, StorageUnavailable)
    down = S3Storage("s3://b/x", endpoint="http://127.0.0.1:1", access_key="k", secret_key="s")
    with pytest.raises(StorageUnavailable, match="unreachable") as unreachable:
        down.check()
    assert isinstance(unreachable.value, ConnectionError)  # the runner retries a job on it
    # no keys anywhere: one line naming the settings and variables that would give them
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(StorageError, match=r"no keys for .*AWS_ACCESS_KEY_ID"):
        S3Storage(f"s3://{new_bucket(s3_endpoint)}/x", endpoint=s3_endpoint).check()


def test_refused_keys() -> None:
    """A store that checks keys (moto with its IAM emulation on, like AWS or MinIO) refusing unknown ones."""
    with s3_server(auth=True) as endpoint:
        bad = S3Storage(
            "s3://reelforge/x", endpoint=endpoint, access_key="AKIANOSUCHKEY0000000", secret_key="s"
        )
        with pytest.raises(StorageError, match="refused the keys") as refused:
            bad.check()
    assert "storage_access_key" in str(refused.value) and not isinstance(refused.value, StorageUnavailable)


def test_keys_from_the_aws_environment(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = new_bucket(s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store = S3Storage(f"s3://{bucket}/p", endpoint=s3_endpoint)
    store.put_bytes("k", b"v")
    assert store.stat("k") is not None


def test_two_machines_share_the_stage_cache(s3_endpoint: str, tmp_path: Path) -> None:
    """Two caches with different local folders (two workers): what one builds, the other fetches."""
    store = store_for(s3_endpoint)
    a = Cache(tmp_path / "a", remote=store)
    b = Cache(tmp_path / "b", remote=store)
    calls: list[str] = []

    def build(d: Path) -> None:
        calls.append("built")
        (d / "seg.mp4").write_bytes(b"frames" * 1000)
        (d / "sub").mkdir()
        (d / "sub" / "meta.json").write_text('{"ok": true}')

    entry_a, hit_a = a.get_or_build("segment", "k" * 64, build)
    entry_b, hit_b = b.get_or_build("segment", "k" * 64, build)
    assert calls == ["built"] and not hit_a and hit_b  # the second machine built nothing
    assert entry_b.is_relative_to(tmp_path / "b")
    assert (entry_b / "seg.mp4").read_bytes() == (entry_a / "seg.mp4").read_bytes()
    assert (entry_b / "sub" / "meta.json").read_text() == '{"ok": true}'
    assert b.lookup("segment", "f" * 64) is None  # a miss everywhere
    assert sorted(store.list("cache/")) == [f"cache/segment/{'k' * 64}.tar"]


def test_two_machines_building_the_same_entry_at_once(s3_endpoint: str, tmp_path: Path) -> None:
    """Content addressing: both upload the same content to the same key, so whichever upload lands last is
    right, and a third machine gets a whole entry."""
    store = store_for(s3_endpoint)
    start = threading.Barrier(2)

    def work(name: str) -> None:
        def build(d: Path) -> None:
            start.wait(10)
            (d / "seg.mp4").write_bytes(b"same content" * 10_000)

        Cache(tmp_path / name, remote=store).get_or_build("segment", "r" * 64, build)

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    found = Cache(tmp_path / "c", remote=store).lookup("segment", "r" * 64)
    assert found is not None and (found / "seg.mp4").read_bytes() == b"same content" * 10_000


def test_a_broken_upload_never_gives_a_corrupt_entry(s3_endpoint: str, tmp_path: Path) -> None:
    store = store_for(s3_endpoint)
    key = "c" * 64
    # an object that is not a whole tar (a writer killed mid-way would leave no object at all; this is worse)
    store.put_bytes(f"cache/segment/{key}.tar", b"not a tar archive")
    c = Cache(tmp_path / "c", remote=store)
    assert c.lookup("segment", key) is None  # unreadable: a miss, never a half entry
    assert not list((tmp_path / "c").rglob(".complete"))
    entry, hit = c.get_or_build("segment", key, lambda d: (d / "x").write_text("1"))
    assert (entry / ".complete").exists() and not hit
    # the build replaced the bad object: another machine now gets the whole entry
    other = Cache(tmp_path / "other", remote=store)
    found = other.lookup("segment", key)
    assert found is not None and (found / "x").read_text() == "1"


def test_a_truncated_tar_is_a_miss(s3_endpoint: str, tmp_path: Path) -> None:
    store = store_for(s3_endpoint)
    a = Cache(tmp_path / "a", remote=store)
    a.get_or_build("segment", "t" * 64, lambda d: (d / "big.bin").write_bytes(os.urandom(200_000)))
    whole = tmp_path / "whole.tar"
    assert store.get_file(f"cache/segment/{'t' * 64}.tar", whole)
    store.put_bytes(f"cache/segment/{'t' * 64}.tar", whole.read_bytes()[:120_000])  # cut mid-file
    b = Cache(tmp_path / "b", remote=store)
    assert b.lookup("segment", "t" * 64) is None
    assert not list((tmp_path / "b").rglob("big.bin")) and not list((tmp_path / "b").rglob(".fetch-*"))


WRITER = textwrap.dedent(
    """
    import hashlib, os, sys
    from pathlib import Path
    from reelforge.cache import Cache
    from reelforge.storage.s3 import S3Storage

    root, url, endpoint, key = sys.argv[1:5]
    store = S3Storage(url, endpoint=endpoint, access_key="testing", secret_key="testing")

    def build(d):
        data = os.urandom(24 * 1024 * 1024)  # multipart: several requests, so a kill can land between them
        (d / "seg.bin").write_bytes(data)
        (d / "sha256").write_text(hashlib.sha256(data).hexdigest())
        print("built", flush=True)

    Cache(Path(root), remote=store).get_or_build("segment", key, build)
    print("uploaded", flush=True)
    """
)


@pytest.mark.parametrize("delay", [0.0, 0.15, 0.4])
def test_a_worker_killed_mid_upload_leaves_no_corrupt_entry(
    s3_endpoint: str, tmp_path: Path, delay: float
) -> None:
    """A real writer process SIGKILLed while it uploads: another machine then finds nothing (and builds the
    entry) or the whole entry, never part of one."""
    store = store_for(s3_endpoint)
    key = hashlib.sha256(str(delay).encode()).hexdigest()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "w"), store.url, s3_endpoint, key],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "built"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    other = Cache(tmp_path / "reader", remote=store)
    found = other.lookup("segment", key)
    if found is not None:
        assert hashlib.sha256((found / "seg.bin").read_bytes()).hexdigest() == (found / "sha256").read_text()
    entry, hit = other.get_or_build("segment", key, lambda d: (d / "seg.bin").write_bytes(b"rebuilt"))
    assert (entry / ".complete").exists() and hit == (found is not None)


def test_the_local_tier_is_bounded(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import reelforge.cache as cache_mod

    monkeypatch.setattr(cache_mod, "KEEP_RECENT", 0.0)
    store = store_for(s3_endpoint)
    c = Cache(tmp_path / "small", remote=store, max_bytes=250_000)
    c._used.clear()  # entries this object handed out are pinned while it lives; this test is about the bound
    for i in range(6):
        c._last_evict = 0.0
        c.get_or_build("segment", f"{i:064d}", lambda d: (d / "seg.mp4").write_bytes(os.urandom(100_000)))
        c._used.clear()
        time.sleep(0.01)
    local = sum(f.stat().st_size for f in (tmp_path / "small").rglob("*") if f.is_file())
    assert local <= 250_000 + 10_000
    assert not list((tmp_path / "small").rglob(".evict-*"))  # renamed away, then deleted
    # an evicted entry comes back from the store
    entry, hit = c.get_or_build("segment", f"{0:064d}", lambda d: pytest.fail("built again"))
    assert hit and (entry / "seg.mp4").stat().st_size == 100_000
