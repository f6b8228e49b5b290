"""How the API answers for a job's files: from this machine's folder of the job when it has the file (a job the
API ran itself, a browser render uploaded to it), otherwise, with object storage configured, from the store,
where the worker that made it published it (``storage/jobs.py``). So the API needs no disk shared with the
workers.

From the store a file is served one of three ways:

- ``service.presign``: a 307 to a presigned URL, so the bytes never pass through the API (the browser must be
  able to reach the store's endpoint; an endpoint inside a cluster often is not, hence off by default);
- small files (HLS segments, captions, posters, thumbnails, most renderer assets: up to ``small`` bytes) are
  copied once into a bounded local cache (``storage.lru.FileCache``, keyed by the object's ETag so a re-render
  is never served stale) and served from there, so a segment that a hundred players ask for is downloaded once;
- larger ones (the MP4) are streamed through with Range support (206, ``Content-Range``, 416, HEAD): a player
  seeking in a long video fetches only the bytes it shows, and the API's disk never holds the whole file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from email.utils import formatdate
from itertools import chain
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from ..config import Settings
from ..errors import StorageError, StorageUnavailable
from ..storage.base import ObjectInfo, Storage
from ..storage.jobs import job_key
from ..storage.lru import FileCache

log = logging.getLogger("reelforge.service")

#: files up to this size are kept in the API's local copy of the store; larger ones are streamed through
SMALL = 16 * 1024**2
#: how long a presigned URL works: a player that pauses longer asks the API again and gets a new one
PRESIGN_EXPIRES = 3600


class JobFiles:
    def __init__(self, settings: Settings, storage: Storage | None, *, small: int | None = None) -> None:
        svc = settings.service
        self.root = svc.artifact_dir.resolve()
        self.base = svc.artifact_dir
        self.storage = storage
        self.presign = svc.presign
        self.small = SMALL if small is None else small
        self.copies = (
            FileCache(settings.cache_dir / "objects", svc.local_cache_max_bytes)
            if storage is not None
            else None
        )

    def check(self) -> None:
        """At startup: a store that is misconfigured (no bucket, refused keys) stops the server in one line; one
        that does not answer yet (starting alongside) only costs 503s for files made elsewhere until it does."""
        if self.storage is None:
            return
        try:
            self.storage.check()
        except StorageUnavailable as exc:
            log.warning("%s; files made on other machines are unavailable until it answers", exc)

    def local(self, job_id: str, *parts: str) -> Path | None:
        """The file in this machine's folder of the job, or None; never a path out of that folder (404)."""
        path = (self.base / job_id / Path(*parts)).resolve()
        if not path.is_relative_to(self.root / job_id):
            raise HTTPException(404, "not available (yet)")
        return path if path.is_file() else None

    def path(self, job_id: str, *parts: str) -> Path:
        """A file the server itself reads (the timeline): its own, or its local copy of the store's."""
        local = self.local(job_id, *parts)
        if local is not None:
            return local
        if self.storage is None or self.copies is None:
            raise HTTPException(404, "not available (yet)")
        name = job_key(job_id, "/".join(parts))
        info = self._stat(name)
        copy = self._copy(name, info) if info is not None else None
        if copy is None:
            raise HTTPException(404, "not available (yet)")
        return copy

    def response(
        self,
        request: Request,
        job_id: str,
        *parts: str,
        media_type: str,
        filename: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """The file ``parts`` of the job (Range requests and HEAD either way), or 404 / 503."""
        local = self.local(job_id, *parts)
        if local is not None:
            return FileResponse(local, media_type=media_type, filename=filename, headers=headers)
        if self.storage is None:
            raise HTTPException(404, "not available (yet)")
        return self.from_store(
            request,
            job_key(job_id, "/".join(parts)),
            media_type=media_type,
            filename=filename,
            headers=headers,
        )

    def from_store(
        self,
        request: Request,
        name: str,
        *,
        media_type: str,
        filename: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """The object ``name`` of the store, as the module docstring describes."""
        store = self.storage
        if store is None:
            raise HTTPException(404, "not available (yet)")
        info = self._stat(name)
        if info is None:
            raise HTTPException(404, "not available (yet)")
        extra = {"etag": f'"{info.etag}"', **(headers or {})}
        if info.modified is not None:
            extra["last-modified"] = formatdate(info.modified, usegmt=True)
        try:
            if self.presign:
                url = store.presign(name, PRESIGN_EXPIRES, filename, media_type)
                if url is not None:
                    return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
            if self.copies is not None and info.size <= self.small:
                copy = self._copy(name, info)
                if copy is None:  # deleted since the stat
                    raise HTTPException(404, "not available (yet)")
                return FileResponse(copy, media_type=media_type, filename=filename, headers=extra)
            return self._stream(request, store, name, info, media_type, filename, extra)
        except StorageError as exc:
            raise _unavailable(exc) from None

    # -- plumbing -------------------------------------------------------------------------------

    def _stat(self, name: str) -> ObjectInfo | None:
        assert self.storage is not None
        try:
            return self.storage.stat(name)
        except StorageError as exc:
            raise _unavailable(exc) from None

    def _copy(self, name: str, info: ObjectInfo) -> Path | None:
        store, copies = self.storage, self.copies
        assert store is not None and copies is not None
        try:
            return copies.get(name, info.etag, lambda dest: store.get_file(name, dest))
        except StorageError as exc:
            raise _unavailable(exc) from None

    def _stream(
        self,
        request: Request,
        store: Storage,
        name: str,
        info: ObjectInfo,
        media_type: str,
        filename: str | None,
        headers: dict[str, str],
    ) -> Response:
        size = info.size
        headers = {"accept-ranges": "bytes", **headers}
        if filename:
            quoted = quote(filename)
            headers["content-disposition"] = (
                f"attachment; filename*=utf-8''{quoted}"
                if quoted != filename
                else f'attachment; filename="{filename}"'
            )
        wanted = parse_range(request.headers.get("range"), size)
        if_range = request.headers.get("if-range")
        if if_range is not None and if_range not in (headers["etag"], headers.get("last-modified")):
            wanted = None  # the client's part is of another version: it gets the whole new one
        if wanted == "unsatisfiable":
            return Response(
                status_code=416, headers={"content-range": f"bytes */{size}", "accept-ranges": "bytes"}
            )
        if wanted is None:
            start, end, status = 0, size - 1, 200
        else:
            (start, end), status = wanted, 206
            headers["content-range"] = f"bytes {start}-{end}/{size}"
        headers["content-length"] = str(end - start + 1)
        if request.method == "HEAD" or size == 0:
            return Response(status_code=status, headers=headers, media_type=media_type)
        chunks = store.read_range(name, start, end)
        # the first chunk now, in this thread: a store that fails answers 503, not a cut-off 200
        first = next(chunks, b"")
        return StreamingResponse(
            _chain(first, chunks), status_code=status, headers=headers, media_type=media_type
        )


def parse_range(header: str | None, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """The one byte range of a ``Range: bytes=...`` header as ``(start, end)`` (inclusive), clipped to
    ``size``; None to send the whole file (no header, a malformed one, or several ranges, which RFC 9110 lets a
    server answer in full); ``"unsatisfiable"`` for a range past the end (416)."""
    if not header or not header.strip().lower().startswith("bytes="):
        return None
    spec = header.strip()[6:].strip()
    if "," in spec:
        return None
    first, sep, last = (p.strip() for p in spec.partition("-"))
    if not sep or not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
        return None
    if first == "":  # the last N bytes
        if last == "":
            return None
        n = int(last)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        return "unsatisfiable"
    return start, min(int(last), size - 1) if last else size - 1


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from chain((first,) if first else (), rest)
    except StorageError as exc:  # mid-stream: the headers are sent, so all that is left is to stop
        log.warning("streaming stopped: %s", exc)


def _unavailable(exc: StorageError) -> HTTPException:
    return HTTPException(
        503, f"the video's files cannot be fetched right now: {exc.message}", headers={"Retry-After": "5"}
    )
