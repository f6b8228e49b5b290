"""The bounded local copies (``storage.lru``) and the stage cache's local tier over a remote: each version
downloaded once, the size bounded, and nothing evicted that is in use. A folder stands in for the bucket here
(``LocalStorage``, the same contract as S3, see test_s3.py), so these run without a server."""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path

import pytest

import reelforge.cache as cache_mod
from reelforge.cache import Cache
from reelforge.storage.local import LocalStorage
from reelforge.storage.lru import FileCache, victims


def test_victims_are_the_least_recently_used_unless_recent_or_pinned() -> None:
    items = [(10.0, 100, "a"), (30.0, 100, "c"), (20.0, 100, "b"), (40.0, 100, "d")]
    assert victims(items, 250, now=100.0, keep_recent=0) == ["a", "b"]
    assert victims(items, 250, now=100.0, keep_recent=0, pinned={"a"}) == ["b", "c"]
    assert victims(items, 250, now=100.0, keep_recent=85) == ["a"]  # b, c, d used less than 85 s ago
    assert victims(items, 400, now=100.0, keep_recent=0) == []
    assert victims(items, 0, now=100.0, keep_recent=1000) == []  # all recent: over the bound, nothing lost


def test_a_version_is_fetched_once_even_by_many_threads(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "copies", 10_000_000)
    calls: list[str] = []
    lock = threading.Lock()

    def fetch(dest: Path) -> bool:
        with lock:
            calls.append("fetch")
        time.sleep(0.05)  # slow enough that the other threads arrive while it downloads
        dest.write_bytes(b"v1" * 1000)
        return True

    got: list[Path | None] = []
    threads = [
        threading.Thread(target=lambda: got.append(cache.get("jobs/a/s0.ts", "etag1", fetch)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert calls == ["fetch"] and len(set(got)) == 1
    path = got[0]
    assert path is not None and path.read_bytes() == b"v1" * 1000
    assert cache.get("jobs/a/s0.ts", "etag1", lambda d: pytest.fail("fetched twice")) == path
    # a new version (the object was replaced: a re-render) is a new copy, never the old one
    newer = cache.get("jobs/a/s0.ts", "etag2", lambda d: d.write_bytes(b"v2") is not None)
    assert newer is not None and newer != path and newer.read_bytes() == b"v2"
    # an object the store does not have: no copy, no temporary file
    assert cache.get("jobs/a/none", "x", lambda d: False) is None
    assert not list((tmp_path / "copies").rglob(".*"))


def test_copies_are_bounded_least_recently_used_first(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "copies", 250_000, keep_recent=0)

    def get(i: int) -> Path:
        time.sleep(0.02)  # distinct modification times: the LRU clock
        p = cache.get(f"jobs/a/{i}.ts", "v", lambda d: d.write_bytes(os.urandom(100_000)) > 0)
        assert p is not None
        return p

    p0, p1 = get(0), get(1)
    assert get(0) == p0  # used again: now 1 is the least recently used
    p2 = get(2)  # 300 kB: one must go
    assert not p1.exists() and p0.exists() and p2.exists()
    p3 = get(3)
    assert not p0.exists() and p2.exists() and p3.exists()
    assert cache.size() <= 250_000


def test_copies_in_use_are_not_evicted(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "copies", 100_000, keep_recent=60)
    for i in range(3):
        cache.get(f"{i}", "v", lambda d: d.write_bytes(os.urandom(80_000)) > 0)
    assert cache.size() == 240_000  # every one was used just now: over the bound rather than pulled away


@pytest.fixture
def no_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_mod, "KEEP_RECENT", 0.0)


def _fill(c: Cache, i: int) -> Path:
    c._last_evict = 0.0
    entry, _ = c.get_or_build(
        "segment", f"{i:064d}", lambda d: (d / "seg.mp4").write_bytes(os.urandom(100_000))
    )
    return entry


def test_entries_a_live_cache_handed_out_are_never_evicted(tmp_path: Path, no_grace: None) -> None:
    """A job holds its Cache while it runs: its entries stay however full the folder gets; once the job (its
    Cache) is gone they are ordinary least recently used entries."""
    remote = LocalStorage(tmp_path / "bucket")
    job = Cache(tmp_path / "local", remote=remote, max_bytes=150_000)
    held = [_fill(job, i) for i in range(2)]
    other = Cache(tmp_path / "local", remote=remote, max_bytes=150_000)  # another job of the same process
    for i in range(2, 5):
        _fill(other, i)
        other._used.clear()  # the other job is not holding its entries
    assert all((e / ".complete").exists() for e in held)
    del job
    gc.collect()
    _fill(other, 5)
    assert not any(e.exists() for e in held)  # evicted now, and in the bucket still
    assert Cache(tmp_path / "elsewhere", remote=remote).lookup("segment", f"{0:064d}") is not None


def test_a_fetched_entry_also_counts_against_the_bound(tmp_path: Path, no_grace: None) -> None:
    """A worker that only fetches (the job's own worker joining scenes others rendered) stays bounded too."""
    remote = LocalStorage(tmp_path / "bucket")
    maker = Cache(tmp_path / "maker", remote=remote)
    for i in range(4):
        _fill(maker, i)
    reader = Cache(tmp_path / "reader", remote=remote, max_bytes=150_000)
    for i in range(4):
        reader._last_evict = 0.0
        assert reader.lookup("segment", f"{i:064d}") is not None
        reader._used.clear()
    local = sum(f.stat().st_size for f in (tmp_path / "reader").rglob("*") if f.is_file())
    assert local <= 150_000 + 1_000


def test_without_a_remote_nothing_changes(tmp_path: Path) -> None:
    """No remote: no eviction, no pins, no extra files (the behaviour before object storage)."""
    c = Cache(tmp_path / "plain", max_bytes=1)
    for i in range(3):
        _fill(c, i)
    assert len(list((tmp_path / "plain").rglob(".complete"))) == 3
    assert c._used == set() and c not in cache_mod._live
    names = {p.relative_to(tmp_path / "plain").as_posix() for p in (tmp_path / "plain").rglob("*")}
    entries = [f"segment/00/{i:064d}" for i in range(3)]
    assert names == {"segment", "segment/00", *entries, *(f"{e}/.complete" for e in entries),
                     *(f"{e}/seg.mp4" for e in entries)}  # fmt: skip
