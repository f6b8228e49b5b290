"""A content-addressed cache on disk that survives restarts.

An entry is a directory named by the SHA-256 of everything that determines its content (the stage's
inputs plus the backend's name, version and options). It is built in a temporary directory next to its
final place and renamed into place only when complete, so a killed run never leaves a corrupt entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import CacheError

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


class Cache:
    def __init__(self, root: Path, *, enabled: bool = True) -> None:
        self.root = Path(root).expanduser()
        self.enabled = enabled
        self.hits: Counter[str] = Counter()
        self.misses: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._fresh: set[str] = set()  # entries this object built: current even when the cache is off
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
        return p if (p / _COMPLETE).exists() else None

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
                if self.enabled and self.lookup(stage, key) is not None:
                    # another process finished the same entry meanwhile: keep theirs (it may be in use)
                    shutil.rmtree(tmp, ignore_errors=True)
                    self._fresh.add(f"{stage}/{key}")
                    return final, False
                if final.exists():  # a stale, incomplete or disabled-cache entry: replace it
                    shutil.rmtree(final, ignore_errors=True)
                try:
                    os.replace(tmp, final)
                except OSError:
                    if (
                        self.lookup(stage, key) is None
                    ):  # lost a race with another process: fine if theirs is whole
                        raise
                    shutil.rmtree(tmp, ignore_errors=True)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            self._fresh.add(f"{stage}/{key}")
            return final, False

    def stats(self) -> dict[str, dict[str, int]]:
        stages = set(self.hits) | set(self.misses)
        return {s: {"hits": self.hits[s], "misses": self.misses[s]} for s in sorted(stages)}
