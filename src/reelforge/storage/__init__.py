"""Object storage (S3 and compatible: MinIO, Ceph, R2...) for a service on several machines: the stage cache
and the jobs' files are shared through it instead of a shared disk. ``remote_for(settings)`` gives the
configured store, or None (everything stays in local folders, the default).

``base.Storage`` is the interface; ``s3.S3Storage`` (boto3, imported on first use) and ``local.LocalStorage``
(a folder) implement it; ``lru.FileCache`` is a bounded local copy of objects; ``jobs`` publishes a job's
files to the store.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from .base import ObjectInfo, Storage

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["ObjectInfo", "Storage", "remote_for"]

_stores: dict[tuple[str | None, ...], Storage] = {}
_stores_lock = threading.Lock()


def remote_for(settings: Settings) -> Storage | None:
    """The store ``settings.service`` configures, or None. One object per configuration and process (a forked
    worker makes its own: connections must not be shared across a fork), so every job and request of the
    process shares its connection pool."""
    svc = settings.service
    if not svc.storage_url:
        return None
    secret = [
        s.get_secret_value() if s is not None else None
        for s in (svc.storage_access_key, svc.storage_secret_key)
    ]
    key = (str(os.getpid()), svc.storage_url, svc.storage_endpoint, svc.storage_region, *secret)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            from .s3 import S3Storage

            store = _stores[key] = S3Storage.from_settings(svc)
    return store
