"""Object storage (S3 and compatible: MinIO, Ceph, R2...) for a service on several machines: the stage cache
and the jobs' files are shared through it instead of a shared disk. ``remote_for(settings)`` gives the
configured store, or None (everything stays in local folders, the default)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Settings
    from .s3 import S3Storage


def remote_for(settings: Settings) -> S3Storage | None:
    svc = settings.service
    if not svc.storage_url:
        return None
    from .s3 import S3Storage

    return S3Storage.from_settings(svc)
