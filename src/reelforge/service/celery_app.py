"""The Celery application: a thin task around ``JobRunner`` (``reelforge worker`` runs it).

The task is idempotent: it *claims* the job in the store and does nothing when the job is finished or held
by a live runner, so a message delivered twice (``acks_late`` + a lost worker) never renders a job twice.
Transient failures (store busy, disk/network hiccup) are retried with backoff.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery, Task
from celery.signals import worker_ready, worker_shutting_down

from ..config import Settings
from .events import announcing
from .fanout import SCENE_TASK, CeleryScenes, fanout_enabled, run_scene
from .jobs import Job, valid_job_id
from .reaper import Reaper
from .runner import JobRunner
from .store_sql import open_store

TASK_NAME = "reelforge.render"
MAX_RETRIES = 5
QUEUES = ("cpu", "gpu")

log = logging.getLogger("reelforge.service")


def create_celery(settings: Settings, *, with_task: bool = True) -> Celery:
    """A Celery app for ``settings``; with ``with_task`` it also registers the render task (workers)."""
    svc = settings.service
    broker = svc.broker_url.get_secret_value()
    backend = (svc.result_backend or svc.broker_url).get_secret_value()
    app = Celery("reelforge", broker=broker, backend=backend, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="cpu",
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        broker_transport_options={"visibility_timeout": svc.visibility_timeout},
        result_backend_transport_options={"visibility_timeout": svc.visibility_timeout},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        task_track_started=True,  # a scene task's STARTED tells the job's worker someone took it
    )
    if with_task:
        _register(app, settings)
    return app


def _register(app: Celery, settings: Settings) -> None:
    store = announcing(open_store(settings.service), settings)
    svc = settings.service
    fanout = None
    if fanout_enabled(settings):

        def fanout(job: Job) -> CeleryScenes:
            return CeleryScenes(app, job, grace=svc.scene_grace, timeout=svc.scene_timeout)

    runner = JobRunner(store, settings, kind="celery", scene_runner=fanout)

    @app.task(name=SCENE_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=2)  # type: ignore[untyped-decorator]
    def scene(self: Task, job_id: str, head: dict[str, Any], scene: dict[str, Any]) -> str:
        if not valid_job_id(job_id):
            return "skipped"
        return run_scene(store, settings, job_id, head, scene)

    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_RETRIES)  # type: ignore[untyped-decorator]
    def render(self: Task, job_id: str) -> str:
        if not valid_job_id(job_id):
            return "skipped"
        last_try = self.request.retries >= MAX_RETRIES
        outcome = runner.run(job_id, retry_transient=not last_try)
        if outcome == "retry":
            raise self.retry(countdown=min(60, 2 ** (self.request.retries + 1)))
        return outcome

    def resubmit(job_id: str) -> None:
        job = store.get(job_id)
        if job is not None:
            app.send_task(TASK_NAME, args=[job_id], queue=job.queue)

    reaper = Reaper(store, max(0.5, settings.service.lease_seconds / 2), resubmit)
    started = threading.Event()

    @worker_ready.connect(weak=False)  # type: ignore[untyped-decorator]
    def _on_ready(sender: Any = None, **_: Any) -> None:
        if not started.is_set():
            started.set()
            reaper.sweep()
            reaper.start()

    @worker_shutting_down.connect(weak=False)  # type: ignore[untyped-decorator]
    def _on_shutdown(sender: Any = None, **_: Any) -> None:
        reaper.stop()
