import threading
from pathlib import Path

import pytest

from reelforge.cache import Cache, cache_key


def test_key_is_stable_and_order_insensitive_for_dicts():
    assert cache_key({"a": 1, "b": 2}) == cache_key({"b": 2, "a": 1})
    assert cache_key("x", 1) != cache_key("x", 2)


def test_build_once_then_hit(tmp_path):
    cache = Cache(tmp_path)
    calls = []

    def build(d: Path) -> None:
        calls.append(1)
        (d / "f.txt").write_text("hello")

    a, hit_a = cache.get_or_build("s", cache_key("k"), build)
    b, hit_b = cache.get_or_build("s", cache_key("k"), build)
    assert (hit_a, hit_b) == (False, True)
    assert a == b and (b / "f.txt").read_text() == "hello"
    assert len(calls) == 1
    # survives a new Cache object (a restart)
    _, hit_c = Cache(tmp_path).get_or_build("s", cache_key("k"), build)
    assert hit_c and len(calls) == 1


def test_failed_build_leaves_no_entry(tmp_path):
    cache = Cache(tmp_path)

    def bad(d: Path) -> None:
        (d / "half.bin").write_bytes(b"x" * 10)
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        cache.get_or_build("s", cache_key("k"), bad)
    assert cache.lookup("s", cache_key("k")) is None
    assert not any(p.name.startswith(".tmp") for p in tmp_path.rglob("*"))


def test_concurrent_requests_build_once(tmp_path):
    cache = Cache(tmp_path)
    calls = []

    def build(d: Path) -> None:
        calls.append(1)
        (d / "x").write_text("1")

    threads = [threading.Thread(target=cache.get_or_build, args=("s", "ab" * 32, build)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1


def test_two_cache_objects_on_one_folder_build_an_entry_once(tmp_path):
    """A batch's pipelines (and the service's jobs) each have their own ``Cache``: the same entry asked for
    at once is still built once, and nobody's entry is replaced under them."""
    calls = []
    gate = threading.Event()

    def build(d: Path) -> None:
        calls.append(1)
        gate.wait(1)
        (d / "x").write_text("1")

    caches = [Cache(tmp_path) for _ in range(4)]
    got: list[tuple[Path, bool]] = []
    threads = [
        threading.Thread(target=lambda c=c: got.append(c.get_or_build("s", "cd" * 32, build))) for c in caches
    ]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert len(calls) == 1 and sorted(hit for _, hit in got) == [False, True, True, True]


def test_a_disabled_cache_rebuilds_old_entries_but_not_its_own(tmp_path):
    calls = []

    def build(d: Path) -> None:
        calls.append(1)
        (d / "x").write_text(str(len(calls)))

    Cache(tmp_path).get_or_build("s", "ef" * 32, build)
    off = Cache(tmp_path, enabled=False)
    first, hit = off.get_or_build("s", "ef" * 32, build)
    assert not hit and len(calls) == 2 and (first / "x").read_text() == "2"
    again, hit = off.get_or_build("s", "ef" * 32, build)  # built by this run: current, not rebuilt
    assert hit and again == first and len(calls) == 2
