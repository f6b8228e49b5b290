"""A content-addressed cache on disk that survives restarts.

An entry is a directory named by the SHA-256 of everything that determines its content (the stage's
inputs plus the backend's name, version and options). It is built in a temporary directory next to its
final place and renamed into place only when complete, so a killed run never leaves a corrupt entry.

With a ``remote`` (object storage, for a service on several machines) the local folder is the first tier:
an entry missing here is fetched from the remote (one tar per entry, ``cache/<stage>/<key>.tar``) before it
is built, and an entry built here is uploaded, so another machine finds it. Keys are content addresses, so
two machines uploading the same entry upload the same content: whichever upload lands last is right. The local tier is then bounded
(``max_bytes``): least recently used entries go first, never one that a live ``Cache`` of this process handed
out (a job may still read it) nor one used in the last minutes (another process may). An evicted entry is
first renamed away, so a reader sees it whole or not at all, and fetches it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tarfile
import threading
import time
import uuid
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

from .errors import CacheError
from .storage.lru import STALE_PART, victims

log = logging.getLogger("reelforge.cache")

_COMPLETE = ".complete"
#: one build lock per entry for the whole process, with the number of threads holding or awaiting it (it is
#: dropped at 0): two ``Cache`` objects on one folder (a batch's pipelines, the service's jobs) never build the
#: same entry at once
_building: dict[str, tuple[threading.Lock, list[int]]] = {}
_building_lock = threading.Lock()


@contextmanager
def _entry_lock(name: str) -> Iterator[None]:
    with _building_lock:
        lock, users = _building.setdefault(name, (threading.Lock(), [0]))
        users[0] += 1
    try:
        with lock:
            yield
    finally:
        with _building_lock:
            users[0] -= 1
            if users[0] == 0:
                del _building[name]


def cache_key(*parts: Any) -> str:
    """Stable hash of JSON-able parts (pydantic models are dumped; paths become strings)."""

    def default(o: Any) -> Any:
        if hasattr(o, "model_dump"):
            return o.model_dump(mode="json")
        if isinstance(o, Path):
            return str(o)
        if isinstance(o, (set, frozenset)):
            return sorted(o)
        raise TypeError(f"cannot hash {type(o).__name__}")

    blob = json.dumps(parts, sort_keys=True, default=default, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def file_fingerprint(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


class Remote(Protocol):
    """Where entries are shared between machines (any ``storage.base.Storage``: S3, a folder)."""

    def put_file(self, name: str, path: Path, content_type: str | None = None) -> None: ...
    def get_file(self, name: str, dest: Path) -> bool: ...


#: local entries used this recently are never evicted (a run in another process may still be reading them)
KEEP_RECENT = 600.0
#: the caches of this process with a remote: entries one of them handed out are not evicted while it lives
_live: weakref.WeakSet[Cache] = weakref.WeakSet()


class Cache:
    def __init__(
        self, root: Path, *, enabled: bool = True, remote: Remote | None = None, max_bytes: int | None = None
    ) -> None:
        self.root = Path(root).expanduser()
        self.enabled = enabled
        self.remote = remote
        self.max_bytes = max_bytes
        self._last_evict = 0.0
        self.hits: Counter[str] = Counter()
        self.misses: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._fresh: set[str] = set()  # entries this object built: current even when the cache is off
        self._used: set[Path] = set()  # with a remote: entries handed out, never evicted while this lives
        if remote is not None:
            _live.add(self)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(
                f"cannot create the cache directory {self.root}: {exc.strerror}",
                hint="set REELFORGE_CACHE_DIR to a writable folder",
            ) from None

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / key[:2] / key

    def lookup(self, stage: str, key: str) -> Path | None:
        p = self.path(stage, key)
        if (p / _COMPLETE).exists():
            if self.remote is not None:
                _touch(p / _COMPLETE)  # recently used: the last to be evicted
                self._used.add(p)
            return p
        if self.remote is None or not self.enabled:
            return None
        found = self._fetch(stage, key)
        if found is not None:
            self._used.add(found)
            self._evict()
        return found

    def _fetch(self, stage: str, key: str) -> Path | None:
        """The entry from the remote into the local tier, or None when the remote has none."""
        assert self.remote is not None
        final = self.path(stage, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".fetch-{key[:16]}-{uuid.uuid4().hex[:8]}"
        tar = Path(f"{tmp}.tar")
        try:
            if not self.remote.get_file(f"cache/{stage}/{key}.tar", tar):
                return None
            try:
                with tarfile.open(tar) as t:
                    t.extractall(tmp, filter="data")
            except (tarfile.TarError, OSError) as exc:  # not a whole entry: a miss (the build replaces it)
                log.warning(
                    "cache entry %s/%s in the store is unreadable (%s); building it", stage, key[:12], exc
                )
                return None
            (tmp / _COMPLETE).write_text("1")
            try:
                os.replace(tmp, final)
            except OSError:  # another thread or process put it there meanwhile
                if not (final / _COMPLETE).exists():
                    raise
        finally:
            tar.unlink(missing_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
        return final if (final / _COMPLETE).exists() else None

    def _upload(self, stage: str, key: str, entry: Path) -> None:
        """Share a built entry (best effort: a machine that cannot find it builds it again)."""
        assert self.remote is not None
        tar = entry.parent / f".up-{key[:16]}-{uuid.uuid4().hex[:8]}.tar"
        try:
            with tarfile.open(tar, "w") as t:
                for f in sorted(entry.rglob("*")):
                    if f.is_file() and f.name != _COMPLETE:
                        t.add(f, arcname=str(f.relative_to(entry)))
            self.remote.put_file(f"cache/{stage}/{key}.tar", tar)
        except Exception as exc:
            log.warning("could not share cache entry %s/%s: %s", stage, key[:12], exc)
        finally:
            tar.unlink(missing_ok=True)
        self._evict()

    def _evict(self) -> None:
        """Keep the local tier under ``max_bytes``: least recently used entries first (at most every 30 s:
        it walks the whole folder)."""
        now = time.time()
        if self.max_bytes is None or now - self._last_evict < 30:
            return
        self._last_evict = now
        entries = []
        for marker in self.root.glob(f"*/*/*/{_COMPLETE}"):
            entry = marker.parent
            try:
                size = sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
                entries.append((marker.stat().st_mtime, size, entry))
            except FileNotFoundError:  # evicted by another process meanwhile
                continue
        pinned: set[Path] = set()
        for cache in list(_live):
            if cache.root == self.root:
                pinned |= cache._used.copy()  # a copy in C: another thread may be adding to it
        for entry in victims(entries, self.max_bytes, now=now, keep_recent=KEEP_RECENT, pinned=pinned):
            gone = entry.parent / f".evict-{entry.name[:16]}-{uuid.uuid4().hex[:8]}"
            try:
                os.replace(entry, gone)  # atomic: a reader now misses it (and fetches it) or had it whole
            except OSError:
                continue
            shutil.rmtree(gone, ignore_errors=True)
        for left in self.root.glob("*/*/.*"):  # what killed processes left: evictions, fetches, uploads
            with suppress(OSError):
                if left.name.startswith(".evict-") or (
                    left.name.startswith((".fetch-", ".up-")) and now - left.stat().st_mtime > STALE_PART
                ):
                    if left.is_dir():
                        shutil.rmtree(left)
                    else:
                        left.unlink()

    def get_or_build(self, stage: str, key: str, build: Callable[[Path], None]) -> tuple[Path, bool]:
        """Return ``(entry_dir, hit)``. ``build(tmp_dir)`` writes the entry's files into ``tmp_dir``.

        With the cache off (``enabled=False``) older entries are rebuilt, but an entry this object built is
        used again: rebuilding it would replace files another thread of the same run is reading."""
        with _entry_lock(f"{self.root}/{stage}/{key}"):  # two threads asking for the same entry build it once
            if self.enabled or f"{stage}/{key}" in self._fresh:
                found = self.lookup(stage, key)
                if found is not None:
                    with self._lock:
                        self.hits[stage] += 1
                    return found, True
            with self._lock:
                self.misses[stage] += 1
            final = self.path(stage, key)
            tmp = final.parent / f".tmp-{key[:16]}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir(parents=True, exist_ok=True)
            try:
                build(tmp)
                (tmp / _COMPLETE).write_text("1")
                if self.enabled and (final / _COMPLETE).exists():
                    # another process finished the same entry meanwhile: keep theirs (it may be in use)
                    shutil.rmtree(tmp, ignore_errors=True)
                    self._fresh.add(f"{stage}/{key}")
                    return final, False
                if final.exists():  # a stale, incomplete or disabled-cache entry: replace it
                    shutil.rmtree(final, ignore_errors=True)
                try:
                    os.replace(tmp, final)
                except OSError:
                    if not (
                        final / _COMPLETE
                    ).exists():  # lost a race with another process: fine if theirs is whole
                        raise
                    shutil.rmtree(tmp, ignore_errors=True)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            self._fresh.add(f"{stage}/{key}")
            if self.remote is not None and self.enabled:
                self._used.add(final)
                self._upload(stage, key, final)
            return final, False

    def stats(self) -> dict[str, dict[str, int]]:
        stages = set(self.hits) | set(self.misses)
        return {s: {"hits": self.hits[s], "misses": self.misses[s]} for s in sorted(stages)}


def _touch(path: Path) -> None:
    with suppress(OSError):
        os.utime(path)
