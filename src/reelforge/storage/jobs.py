"""A job's files in object storage (``jobs/<job id>/<name>``): the runner publishes them (each HLS segment as
soon as it exists, the rest when the video is done) and the API, on a machine without them, fetches each
one on first use into its local copy of the job's folder, then serves it from there (Range requests)."""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Mapping
from pathlib import Path

from .s3 import S3Storage

log = logging.getLogger("reelforge.storage")


def job_key(job_id: str, rel: str) -> str:
    return f"jobs/{job_id}/{rel}"


def publish_file(store: S3Storage, job_id: str, folder: Path, path: Path) -> None:
    rel = path.relative_to(folder).as_posix()
    store.put_file(job_key(job_id, rel), path, mimetypes.guess_type(path.name)[0])


def publish_job(store: S3Storage, job_id: str, folder: Path, assets: Mapping[str, Path] = {}) -> int:
    """Every finished file of the job's folder (not hidden, not partial), and the timeline's assets under
    ``assets/<public name>`` (what the browser renderer fetches). Returns how many were uploaded."""
    n = 0
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts) or ".part" in path.name:
            continue
        publish_file(store, job_id, folder, path)
        n += 1
    for name, path in assets.items():
        if path.is_file():
            store.put_file(job_key(job_id, f"assets/{name}"), path, mimetypes.guess_type(path.name)[0])
            n += 1
    return n


def fetch_job_file(store: S3Storage, job_id: str, rel: str, dest: Path) -> bool:
    """``jobs/<job_id>/<rel>`` into ``dest`` (a local copy); False when the store has no such file."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    return store.get_file(job_key(job_id, rel), dest)
