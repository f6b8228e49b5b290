"""A bounded local copy of objects from the store, so a machine downloads each version of a file once and its
disk does not fill up with them.

Copies are keyed by the object's name *and version* (its ETag): a re-rendered video is a new copy, never the
old one served again. A copy is written under a temporary name and renamed into place, so threads and
processes sharing the folder only ever see whole files (two that fetch the same version at once both rename
the same bytes into place). Files are evicted least recently used first (the modification time is the clock:
each use touches it, so several processes agree) once the folder is over its size, but never one used in the
last ``keep_recent`` seconds: a response may be about to open it.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: a temporary file this old was left by a killed process
STALE_PART = 3600.0


def victims(
    items: Iterable[tuple[float, int, T]],
    max_bytes: int,
    *,
    now: float,
    keep_recent: float,
    pinned: Collection[T] = (),
) -> list[T]:
    """Which of ``(last_used, size, item)`` to remove to get under ``max_bytes``: the least recently used
    first, skipping those used in the last ``keep_recent`` seconds and the ``pinned`` ones (the bound is then
    exceeded rather than a file in use deleted)."""
    items = sorted(items, key=lambda t: t[0])
    total = sum(size for _, size, _ in items)
    out: list[T] = []
    for used, size, item in items:
        if total <= max_bytes:
            break
        if now - used < keep_recent or item in pinned:
            continue
        out.append(item)
        total -= size
    return out


_locks: dict[str, tuple[threading.Lock, list[int]]] = {}
_locks_lock = threading.Lock()


@contextmanager
def _one_at_a_time(name: str) -> Iterator[None]:
    """Threads of this process fetching the same copy wait for the first instead of downloading it again."""
    with _locks_lock:
        lock, users = _locks.setdefault(name, (threading.Lock(), [0]))
        users[0] += 1
    try:
        with lock:
            yield
    finally:
        with _locks_lock:
            users[0] -= 1
            if users[0] == 0:
                del _locks[name]


class FileCache:
    def __init__(self, root: Path, max_bytes: int, *, keep_recent: float = 60.0) -> None:
        self.root = Path(root).expanduser()
        self.max_bytes = max_bytes
        self.keep_recent = keep_recent
        self._total: int | None = None  # this process's estimate; a full scan corrects it when over
        self._lock = threading.Lock()

    def path(self, name: str, version: str) -> Path:
        digest = hashlib.sha256(f"{name}\0{version}".encode()).hexdigest()
        return self.root / digest[:2] / (digest + "".join(Path(name).suffixes[-1:]))

    def get(self, name: str, version: str, fetch: Callable[[Path], bool]) -> Path | None:
        """The local copy of ``name`` at ``version``; ``fetch(dest)`` downloads it when there is none (False:
        the store has no such object, and so neither does this)."""
        path = self.path(name, version)
        if _touch(path):
            return path
        with _one_at_a_time(str(path)):
            if _touch(path):  # another thread fetched it meanwhile
                return path
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
            try:
                if not fetch(tmp):
                    return None
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        self._added(path.stat().st_size)
        return path

    def _added(self, size: int) -> None:
        with self._lock:
            if self._total is None:
                self._total = sum(s for _, s, _ in self._files())
            else:
                self._total += size
            over = self._total > self.max_bytes
        if over:
            self.evict()

    def _files(self) -> list[tuple[float, int, Path]]:
        out = []
        now = time.time()
        for p in self.root.glob("*/*"):
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            if p.name.startswith("."):  # a download in progress, or one a killed process left
                if now - st.st_mtime > STALE_PART:
                    p.unlink(missing_ok=True)
                continue
            out.append((st.st_mtime, st.st_size, p))
        return out

    def evict(self) -> int:
        """Remove least recently used copies until the folder is under ``max_bytes``; returns how many went."""
        files = self._files()
        gone = victims(files, self.max_bytes, now=time.time(), keep_recent=self.keep_recent)
        for p in gone:
            p.unlink(missing_ok=True)  # an open copy stays readable to whoever has it open
        removed = set(gone)
        with self._lock:
            self._total = sum(size for _, size, p in files if p not in removed)
        return len(gone)

    def size(self) -> int:
        return sum(s for _, s, _ in self._files())


def _touch(path: Path) -> bool:
    """Mark a copy as just used; False when there is none."""
    try:
        os.utime(path)
        return True
    except FileNotFoundError:
        return False
    except OSError:  # not ours to touch (another user's copy): usable all the same
        return path.is_file()
