"""Object storage (#17 item 2) against a real S3 endpoint (moto server on loopback): the store itself, and the
stage cache shared between two machines that have no folder in common."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from s3server import new_bucket

from reelforge.cache import Cache
from reelforge.errors import StoreError, StoreUnavailable
from reelforge.storage.s3 import S3Storage


def store_for(endpoint: str, bucket: str | None = None, prefix: str = "v1") -> S3Storage:
    bucket = bucket or new_bucket(endpoint)
    return S3Storage(f"s3://{bucket}/{prefix}", endpoint=endpoint, access_key="testing", secret_key="testing")


def test_put_get_range_and_presign(s3_endpoint: str, tmp_path: Path) -> None:
    store = store_for(s3_endpoint)
    store.check()
    data = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "video.mp4"
    src.write_bytes(data)
    store.put_file("jobs/a/video.mp4", src, "video/mp4")
    assert store.stat("jobs/a/video.mp4") == len(data) and store.stat("jobs/a/none") is None
    assert b"".join(store.read_range("jobs/a/video.mp4", 100, 2_000_099)) == data[100:2_000_100]
    out = tmp_path / "copy.mp4"
    assert store.get_file("jobs/a/video.mp4", out) and out.read_bytes() == data
    assert not store.get_file("jobs/a/missing", tmp_path / "x") and not (tmp_path / "x").exists()
    import urllib.request

    with urllib.request.urlopen(store.presign("jobs/a/video.mp4")) as r:  # no keys needed in the URL's user
        assert r.read() == data
    store.delete_prefix("jobs/a/")
    assert store.stat("jobs/a/video.mp4") is None


def test_clear_errors(s3_endpoint: str) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        S3Storage("s3://no-such-bucket-here/x", endpoint=s3_endpoint, access_key="testing",
                  secret_key="testing").check()  # fmt: skip
    down = S3Storage("s3://b/x", endpoint="http://127.0.0.1:1", access_key="k", secret_key="s")
    with pytest.raises(StoreUnavailable, match="unreachable"):
        down.check()


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


def test_the_local_tier_is_bounded(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import reelforge.cache as cache_mod

    monkeypatch.setattr(cache_mod, "KEEP_RECENT", 0.0)
    store = store_for(s3_endpoint)
    c = Cache(tmp_path / "small", remote=store, max_bytes=250_000)
    for i in range(6):
        c._last_evict = 0.0
        c.get_or_build("segment", f"{i:064d}", lambda d: (d / "seg.mp4").write_bytes(os.urandom(100_000)))
        time.sleep(0.01)
    local = sum(f.stat().st_size for f in (tmp_path / "small").rglob("*") if f.is_file())
    assert local <= 250_000 + 10_000
    # an evicted entry comes back from the store
    entry, hit = c.get_or_build("segment", f"{0:064d}", lambda d: pytest.fail("built again"))
    assert hit and (entry / "seg.mp4").stat().st_size == 100_000
