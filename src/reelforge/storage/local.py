"""A folder as a ``Storage``: what a service on one machine (or on a shared mount) has without a bucket, and the
reference the S3 store is tested against. Objects are plain files under ``root``; each write goes through a
temporary name and a rename, so a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

from ..errors import StorageError
from .base import ObjectInfo, check_name

CHUNK = 1 << 20


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser()
        self.url = str(self.root)

    def path(self, name: str) -> Path:
        return self.root / check_name(name)

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the storage folder {self.root}: {exc.strerror}") from None

    def put_file(self, name: str, path: Path, content_type: str | None = None) -> None:
        self._write(name, lambda tmp: shutil.copyfile(path, tmp))

    def put_bytes(self, name: str, data: bytes, content_type: str | None = None) -> None:
        self._write(name, lambda tmp: tmp.write_bytes(data))

    def _write(self, name: str, fill: Callable[[Path], object]) -> None:
        dest = self.path(name)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fill(tmp)
            os.replace(tmp, dest)
        except OSError as exc:
            raise StorageError(f"cannot write {name} in {self.root}: {exc.strerror or exc}") from None
        finally:
            with suppress(OSError):
                tmp.unlink()

    def get_file(self, name: str, dest: Path) -> bool:
        src = self.path(name)
        if not src.is_file():
            return False
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        except FileNotFoundError:  # deleted meanwhile
            return False
        finally:
            with suppress(OSError):
                tmp.unlink()
        return True

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def stat(self, name: str) -> ObjectInfo | None:
        try:
            st = self.path(name).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        # a rename replaces the inode, so (inode, size, mtime) changes with every write
        return ObjectInfo(st.st_size, f"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}", st.st_mtime)

    def read_range(self, name: str, start: int, end: int) -> Iterator[bytes]:
        with self.path(name).open("rb") as fh:
            fh.seek(start)
            left = end - start + 1
            while left > 0 and (chunk := fh.read(min(CHUNK, left))):
                left -= len(chunk)
                yield chunk

    def presign(
        self, name: str, expires: int = 3600, filename: str | None = None, content_type: str | None = None
    ) -> str | None:
        return None  # a folder has no URLs: the API streams it

    def delete_prefix(self, prefix: str) -> int:
        n = 0
        for name in list(self.list(prefix)):
            try:
                self.path(name).unlink()
                n += 1
            except FileNotFoundError:  # another process deleted it first
                pass
        return n

    def list(self, prefix: str = "") -> Iterator[str]:
        prefix = prefix.lstrip("/")
        if any(p in (".", "..") for p in prefix.split("/")):
            raise ValueError(f"not a storage prefix: {prefix!r}")
        # the deepest folder that holds every match (``jobs/a/`` -> jobs/a, ``jobs/a`` -> jobs)
        base = self.root / prefix.rpartition("/")[0]
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            name = path.relative_to(self.root).as_posix()
            if path.is_file() and name.startswith(prefix) and not path.name.endswith(".part"):
                yield name
