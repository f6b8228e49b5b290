"""A job's files in object storage (``jobs/<job id>/<name>``), so an API on another machine can serve them: the
runner publishes each HLS segment as soon as it exists (``publish_segment``) and every other file when the video
is done (``publish_job``); the API serves them from the store (``service/files.py``)."""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Mapping
from pathlib import Path

from ..errors import StorageError
from .base import Storage

log = logging.getLogger("reelforge.storage")


def job_key(job_id: str, rel: str) -> str:
    return f"jobs/{job_id}/{rel}"


def publish_file(store: Storage, job_id: str, folder: Path, path: Path) -> None:
    """One file of the job's folder (an HLS segment the moment it is written)."""
    rel = path.relative_to(folder).as_posix()
    store.put_file(job_key(job_id, rel), path, mimetypes.guess_type(path.name)[0])


def publish_segment(store: Storage, job_id: str, folder: Path, path: Path) -> bool:
    """An HLS segment the moment it is written, best effort: a store that hiccups must neither stop the live
    preview (the HLS builder gives up at its first error) nor fail the job. A segment that did not go up is
    sent with the rest when the video is done (``publish_job``). Returns whether it went up now."""
    try:
        publish_file(store, job_id, folder, path)
        return True
    except StorageError as exc:
        log.warning(
            "job %s: segment %s not in the store yet (%s); it goes with the video", job_id, path.name, exc
        )
        return False


def publish_job(store: Storage, job_id: str, folder: Path, assets: Mapping[str, Path] | None = None) -> int:
    """Every finished file of the job's folder (not hidden, not partial: the video, its sidecars, timeline,
    thumbnails, playlist and segments), and the timeline's assets under ``assets/<public name>`` (what the
    browser renderer fetches; they live in the stage cache, not in the folder). Returns how many were uploaded.

    Segments were published one by one while the job ran; their names are unique per run, so one of the same
    size in the store is that very file and is not sent again."""
    n = 0
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts) or ".part" in path.name:
            continue
        if rel.parts[0] == "hls" and path.suffix == ".ts":
            info = store.stat(job_key(job_id, rel.as_posix()))
            if info is not None and info.size == path.stat().st_size:
                continue
        publish_file(store, job_id, folder, path)
        n += 1
    for name, path in (assets or {}).items():
        if path.is_file():
            store.put_file(job_key(job_id, f"assets/{name}"), path, mimetypes.guess_type(path.name)[0])
            n += 1
    log.debug("job %s: %d files published to %s", job_id, n, store.url)
    return n
