"""What the stage cache, the runner and the API need from object storage, and nothing more, so a folder
(``LocalStorage``) and an S3 bucket (``S3Storage``) are interchangeable and the callers can be tested on
either.

Names are ``/``-separated keys relative to the store's prefix (``cache/<stage>/<key>.tar``,
``jobs/<id>/video.mp4``). Every write makes a whole object visible at once (S3 only shows an object when its
upload is complete; a folder gets it through a rename), so a reader never sees half a file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ObjectInfo:
    """An object's size and version: ``etag`` changes whenever the content does (a re-rendered video), so a
    local copy keyed by it is never served stale."""

    size: int
    etag: str
    #: seconds since the epoch, when the store says
    modified: float | None = None


@runtime_checkable
class Storage(Protocol):
    #: where it is, for messages (``s3://bucket/prefix``, a folder)
    url: str

    def check(self) -> None:
        """Raise ``StorageError`` (one line: what is wrong, how to fix it) when the store cannot be used."""

    def put_file(self, name: str, path: Path, content_type: str | None = None) -> None: ...

    def put_bytes(self, name: str, data: bytes, content_type: str | None = None) -> None: ...

    def get_file(self, name: str, dest: Path) -> bool:
        """Download to ``dest`` (through a temporary name in its folder); False when there is no object."""

    def exists(self, name: str) -> bool: ...

    def stat(self, name: str) -> ObjectInfo | None:
        """Size and version, or None when there is no such object."""

    def read_range(self, name: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start..end`` (both inclusive, as in HTTP ``Range``), in chunks."""

    def presign(
        self, name: str, expires: int = 3600, filename: str | None = None, content_type: str | None = None
    ) -> str | None:
        """A URL anyone may GET for ``expires`` seconds (``filename``: offered as a download under that name;
        ``content_type``: the type the response says), or None when the store has no such URLs (a folder)."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose name starts with ``prefix``; returns how many."""

    def list(self, prefix: str = "") -> Iterator[str]:
        """The names (relative to the store) that start with ``prefix``."""


def check_name(name: str) -> str:
    """``name`` without a leading ``/``; refuses ``..`` and empty parts, which a folder would resolve outside
    itself and S3 would store under a key no reader asks for."""
    name = name.lstrip("/")
    if any(p in ("", ".", "..") for p in name.split("/")):
        raise ValueError(f"not a storage name: {name!r}")
    return name
