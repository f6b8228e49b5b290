"""Per-scene fan-out: a job's scenes are spoken, drawn and rendered on all the cluster's workers.

The worker that runs a job (its *coordinator*: ``JobRunner`` in the ``reelforge.render`` task) streams the
script as usual. For each scene as it is written it sends a ``reelforge.scene`` task to the job's queue
(``cpu``, or ``gpu`` for diffusion); whichever worker takes it speaks the scene, draws it and renders its
segment into the stage cache, which object storage shares between machines (content-addressed entries, so
two workers never clash). The coordinator then finds all of that in the cache, joins the segments, mixes
the whole soundtrack and writes the MP4: the chord's final step, without a worker idling in a chord.

A scene task that is not started within ``scene_grace`` seconds (every worker busy, say with coordinators)
or not done within ``scene_timeout`` (its worker died) is done by the coordinator itself: the work is
idempotent, so at worst it is done twice and cached once. Each scene task records which worker ran it in
the job's event log (``worker`` events).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..errors import Cancelled
from ..models import Request, Scene
from ..pipeline import Pipeline
from ..registry import Registry
from ..script.base import ScriptHead
from .jobs import JobStore
from .runner import job_settings

if TYPE_CHECKING:
    from celery import Celery

    from .jobs import Job

log = logging.getLogger("reelforge.service")

SCENE_TASK = "reelforge.scene"
WORKER = f"{socket.gethostname()}:{os.getpid()}"


def fanout_enabled(settings: Settings) -> bool:
    """Scenes go to the cluster when configured (``scene_fanout``); ``auto``: when the stage cache is shared
    through object storage (without it, another worker's work could not be found here)."""
    svc = settings.service
    mode = getattr(svc, "scene_fanout", "auto")
    if mode == "auto":
        return bool(getattr(svc, "storage_url", None))
    return mode == "on"


class CeleryScenes:
    """A ``SceneRunner`` that sends each scene of ``job`` to the cluster as a ``reelforge.scene`` task."""

    def __init__(self, app: Celery, job: Job, *, grace: float, timeout: float, poll: float = 0.1) -> None:
        self.app = app
        self.job = job
        self.grace = grace
        self.timeout = timeout
        self.poll = poll

    def __call__(self, head: ScriptHead, scene: Scene, cancel: threading.Event) -> None:
        result = self.app.send_task(
            SCENE_TASK,
            args=[self.job.id, head.model_dump(mode="json"), scene.model_dump(mode="json")],
            queue=self.job.queue,
        )
        t0 = time.monotonic()
        while not result.ready():
            if cancel.is_set():
                result.revoke()
                raise Cancelled("cancelled")
            waited = time.monotonic() - t0
            if (waited > self.grace and result.state == "PENDING") or waited > self.timeout:
                log.info("job %s: scene %d was not %s elsewhere in time; doing it here", self.job.id[:8],
                         scene.index + 1, "started" if result.state == "PENDING" else "finished")  # fmt: skip
                result.revoke()
                return
            time.sleep(self.poll)
        if result.failed():  # done here instead; a real error is raised (and reported) by this process
            log.info("job %s: scene %d failed on another worker (%s); doing it here", self.job.id[:8],
                     scene.index + 1, result.result)  # fmt: skip


def run_scene(
    store: JobStore,
    settings: Settings,
    job_id: str,
    head: dict[str, Any],
    scene: dict[str, Any],
    registry: Registry | None = None,
) -> str:
    """The ``reelforge.scene`` task's work: one scene of a running job into the shared cache."""
    job = store.get(job_id)
    if job is None or job.terminal or job.cancel_requested:
        return "skipped"
    the_head, the_scene = ScriptHead.model_validate(head), Scene.model_validate(scene)
    t0 = time.monotonic()
    pipe = Pipeline(job_settings(settings, job), registry=registry)
    cached = pipe.prepare_scene(Request.model_validate(job.request), the_head, the_scene)
    seconds = round(time.monotonic() - t0, 3)
    store.add_event(job_id, "worker", {"scene": the_scene.index, "worker": WORKER, "seconds": seconds,
                                       "cached": cached})  # fmt: skip
    log.info("job %s: scene %d done here in %.1f s", job_id[:8], the_scene.index + 1, seconds)
    return "done"
