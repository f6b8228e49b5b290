"""Job events across machines: the event log lives in the job store (SQLite on one machine, PostgreSQL for a
cluster); Redis pub/sub tells the API that a job has new events, so its Server-Sent Events stream and the HLS
playlist react at once instead of polling the database.

Every process that writes events (the API, each worker) wraps its store in :class:`NotifyingStore`; after
a write that adds events it publishes the job's id on ``reelforge:events:<job id>``. The API's SSE stream
subscribes to that channel and reads the store when told (and every ``FALLBACK_POLL`` seconds anyway, so a
lost message or a Redis outage only slows it down). Nothing here is on a shared disk.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ..config import Settings
from .jobs import JobStore

log = logging.getLogger("reelforge.service")

CHANNEL = "reelforge:events:"
#: the SSE stream reads the store at least this often even when Redis says nothing
FALLBACK_POLL = 2.0
#: JobStore methods that append to a job's event log
_WRITES = frozenset({"create", "add_event", "update_progress", "set_storyboard", "finish", "release",
                     "request_cancel", "requeue_edited", "claim"})  # fmt: skip


def redis_url(settings: Settings) -> str | None:
    """Where job events are announced: the Celery broker, when it is Redis."""
    svc = settings.service
    url = svc.broker_url.get_secret_value()
    return url if svc.executor == "celery" and url.startswith(("redis://", "rediss://", "unix://")) else None


class Announcer:
    """Publishes "job X has new events" on Redis; failures are logged once and never raised (the store has
    the events; readers fall back to polling it)."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._warned = False

    def publish(self, job_id: str) -> None:
        try:
            self.client.publish(CHANNEL + job_id, "1")
        except Exception as exc:  # Redis down: readers poll the store instead
            if not self._warned:
                log.warning("cannot announce job events on Redis (%s); the API will poll the store", exc)
                self._warned = True


class NotifyingStore:
    """A ``JobStore`` that announces each job whose event log it wrote to."""

    def __init__(self, store: JobStore, announcer: Announcer) -> None:
        self._store = store
        self._announcer = announcer

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name not in _WRITES or not callable(attr):
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            job_id = args[0] if args else kwargs.get("job_id", kwargs.get("job"))
            job_id = getattr(job_id, "id", job_id)
            if isinstance(job_id, str):
                self._announcer.publish(job_id)
            return result

        return write


def announcing(store: JobStore, settings: Settings) -> JobStore:
    """``store``, announcing its event writes on Redis when the service runs on Celery with a Redis broker."""
    url = redis_url(settings)
    if url is None:
        return store
    try:
        wrapped: JobStore = NotifyingStore(store, Announcer(url))
    except ImportError:  # pragma: no cover - the service extra installs redis
        return store
    return wrapped


class Listener:
    """Waits for a job's next events: told by Redis when it can be, else by polling every ``poll`` s."""

    def __init__(self, pubsub: Any, poll: float) -> None:
        self.pubsub = pubsub
        self.poll = poll

    @property
    def live(self) -> bool:
        return self.pubsub is not None

    async def wait(self) -> bool:
        """True when Redis announced new events; False after a quiet poll interval."""
        import asyncio

        if self.pubsub is None:
            await asyncio.sleep(self.poll)
            return False
        loop = asyncio.get_running_loop()
        end = loop.time() + FALLBACK_POLL
        try:
            while (left := end - loop.time()) > 0:  # (a subscribe confirmation comes back as None: go on)
                msg = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
                if msg is not None:
                    return True
            return False
        except Exception as exc:  # the connection dropped: poll from now on
            log.debug("job events: Redis went away (%s); polling", exc)
            self.pubsub = None
            return False


@asynccontextmanager
async def listening(settings: Settings, job_id: str, poll: float) -> AsyncIterator[Listener]:
    """A :class:`Listener` for ``job_id``: subscribed on Redis when the service has it, else polling."""
    url = redis_url(settings)
    client: Any = None
    pubsub: Any = None
    if url is not None:
        try:
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(url, socket_connect_timeout=2.0)
            pubsub = client.pubsub()
            await pubsub.subscribe(CHANNEL + job_id)
        except Exception as exc:  # no Redis: poll
            log.debug("job events: not listening on Redis (%s)", exc)
            pubsub = None
    try:
        yield Listener(pubsub, poll)
    finally:
        if client is not None:
            try:
                if pubsub is not None:
                    await pubsub.unsubscribe()
                    await pubsub.aclose()
                await client.aclose()
            except Exception as exc:
                log.debug("job events: closing the Redis subscription: %s", exc)
