"""Executors: who runs the jobs.

- ``LocalExecutor`` (default): a small pool of threads inside the API process, so ``reelforge serve`` is one
  command. Queued jobs are re-queued and interrupted ones resumed when the server starts again.
- ``CeleryExecutor``: the API only enqueues; ``reelforge worker`` processes run the jobs (Redis broker).

Both run a *reaper* that hands jobs whose runner died (lease ran out, or its process is gone) back to the
queue; the runner's conditional claim makes sure each job is still finished exactly once.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import TYPE_CHECKING, Protocol

from ..config import Settings
from ..registry import Registry
from .jobs import Job, JobStore
from .reaper import Reaper
from .runner import JobRunner

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["CeleryExecutor", "Executor", "LocalExecutor", "Reaper", "make_executor"]

log = logging.getLogger("reelforge.service")


class Executor(Protocol):
    kind: str

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def submit(self, job: Job) -> None: ...
    def cancel(self, job_id: str) -> None: ...


class LocalExecutor:
    """A bounded pool of worker threads pulling job ids from an in-process queue."""

    kind = "local"

    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        *,
        workers: int | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.store = store
        self.workers = workers or settings.service.local_workers
        self.runner = JobRunner(store, settings, kind="local", registry=registry)
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._running: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._reaper = Reaper(store, max(0.5, settings.service.lease_seconds / 2), self._put)

    def _put(self, job_id: str) -> None:
        self._queue.put(job_id)

    def start(self) -> None:
        self._reaper.sweep()  # jobs that were running when the server stopped: resume them
        for job_id in self.store.ids_with_status("queued"):
            self._queue.put(job_id)
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"reelforge-job-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        self._reaper.start()

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None or self._stopping.is_set():
                return
            cancel = threading.Event()
            with self._lock:
                self._running[job_id] = cancel
            try:
                self.runner.run(job_id, cancel, self._stopping)
            except Exception:
                log.exception("job %s: runner crashed", job_id)
            finally:
                with self._lock:
                    self._running.pop(job_id, None)

    def submit(self, job: Job) -> None:
        self._queue.put(job.id)

    def cancel(self, job_id: str) -> None:
        with self._lock:
            ev = self._running.get(job_id)
        if ev is not None:
            ev.set()

    def running(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def stop(self) -> None:
        """Stop taking jobs; running ones are interrupted and go back to the queue for the next start."""
        self._stopping.set()
        self._reaper.stop()
        with self._lock:
            for ev in self._running.values():
                ev.set()
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(30)
        self._threads.clear()


class CeleryExecutor:
    """Enqueues jobs on Celery (``gpu`` queue for GPU image backends, ``cpu`` otherwise)."""

    kind = "celery"

    def __init__(self, store: JobStore, settings: Settings, *, app: Celery | None = None) -> None:
        from .celery_app import create_celery

        self.store = store
        self.app = app or create_celery(settings, with_task=False)
        self._broker_url = settings.service.broker_url.get_secret_value()
        self._broker_run: str | None = None
        self._resend_due = False  # a send of the queued jobs failed: try again when the broker answers
        self._reaper = Reaper(
            store, max(0.5, settings.service.lease_seconds / 2), self._send, self._watch_broker
        )

    def _send(self, job_id: str) -> None:
        job = self.store.get(job_id)
        if job is not None:
            self.submit(job)

    def start(self) -> None:
        """Hand dead runners' jobs back, and send every queued job again: a message lost with the broker (or
        never sent) must not strand a job. A job sent twice is still run once (the task claims it)."""
        self._reaper.sweep()
        self._broker_run = self._broker_run_id()
        self._resend_due = not self._send_queued()
        self._reaper.start()

    def _send_queued(self) -> bool:
        """Send every job the store has queued; False if the broker refused (the rest wait for the next try)."""
        for job_id in self.store.ids_with_status("queued"):
            try:
                self._send(job_id)
            except Exception as exc:
                log.warning("cannot queue job %s yet: %s", job_id, exc)
                return False
        return True

    def _broker_run_id(self) -> str | None:
        """Redis's ``run_id``: it changes whenever the server restarts (None: not Redis, or unreachable)."""
        if not self._broker_url.startswith(("redis://", "rediss://", "unix://")):
            return None
        try:
            import redis

            client = redis.Redis.from_url(self._broker_url, socket_timeout=2, socket_connect_timeout=2)
            try:
                return str(client.info("server")["run_id"])
            finally:
                client.close()
        except Exception:
            return None

    def _watch_broker(self) -> None:
        """A Redis restart loses the queued messages unless it persists them: when the server's ``run_id``
        changes, every job still queued in the store is sent again (run once all the same)."""
        run = self._broker_run_id()
        if run is None:
            return  # unreachable now: look again next sweep
        restarted = self._broker_run is not None and run != self._broker_run
        if restarted or self._resend_due:
            log.warning(
                "the broker %s; sending the queued jobs again", "restarted" if restarted else "is back"
            )
            self._resend_due = not self._send_queued()
        self._broker_run = run

    def submit(self, job: Job) -> None:
        from .celery_app import TASK_NAME

        self.app.send_task(TASK_NAME, args=[job.id], queue=job.queue)

    def cancel(self, job_id: str) -> None:
        """Nothing to do here: the worker's heartbeat reads the cancel request from the store."""

    def stop(self) -> None:
        self._reaper.stop()


def make_executor(
    settings: Settings, store: JobStore, *, kind: str | None = None, registry: Registry | None = None
) -> Executor:
    kind = kind or settings.service.executor
    if kind == "celery":
        return CeleryExecutor(store, settings)
    return LocalExecutor(store, settings, registry=registry)
