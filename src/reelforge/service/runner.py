"""Running one job: claim it, keep its lease alive, run the pipeline with the service's hooks (event log,
progress, HLS), and record how it ended. Both executors (local threads, Celery workers) use this.

The job's files go to ``<artifact_dir>/<job id>/``; every stage goes through the shared cache
(``cache_dir``), so a job that is run again (a restart, a worker that died, an edited storyboard) redoes
only what is not cached yet. The pipeline writes its outputs to temporary names and renames them, and a
job is finished only by the runner that holds its lease: a job delivered twice yields one result.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from ..config import Settings
from ..errors import Cancelled, ReelforgeError
from ..models import ProgressEvent, Request, Storyboard
from ..pipeline import Pipeline
from ..progress import STAGE_WEIGHTS  # how much of a job each stage is (the percentage and the ETA)
from ..registry import Registry
from ..script.plan import plan_durations
from ..storage import remote_for
from ..streaming import SceneRunner
from ..tools import find_ffmpeg
from .hls import HlsBuilder, HlsSegment
from .jobs import Job, JobStore

log = logging.getLogger("reelforge.service")

Outcome = Literal["done", "failed", "cancelled", "released", "retry", "lost", "busy", "skipped"]

#: errors worth another try on another worker: the store was busy, the network or the disk hiccupped
TRANSIENT: tuple[type[BaseException], ...] = (
    sqlite3.OperationalError,
    ConnectionError,
    TimeoutError,
    OSError,
)

HOST = socket.gethostname()


#: the job's timeline (``RunResult.timeline`` as JSON, local asset paths) in its artifact directory
TIMELINE = "timeline.json"


def job_dir(settings: Settings, job_id: str) -> Path:
    return settings.service.artifact_dir / job_id


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary name, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def runner_id(kind: str) -> str:
    return f"{kind}:{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def runner_dead(runner: str) -> bool:
    """True when ``runner`` ran on this machine in a process that no longer exists."""
    parts = runner.split(":")
    if len(parts) != 4 or parts[1] != HOST or not parts[2].isdigit():
        return False
    try:
        os.kill(int(parts[2]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def job_settings(base: Settings, job: Job) -> Settings:
    """The server's settings with the job's own choices (``Job.backends``: backends and the transition)."""
    update: dict[str, Any] = {
        k: v for k, v in job.backends.items() if k in ("writer", "images", "music", "tts", "transition")
    }
    return base.model_copy(update=update) if update else base


class ProgressTracker:
    """Folds progress events into the job's progress document: per stage, per scene, and overall."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, Any]] = {}
        self.scenes: list[dict[str, bool]] = []
        self.segments = 0
        self.stage: str | None = None

    def _scene(self, i: int) -> dict[str, bool]:
        while len(self.scenes) <= i:
            self.scenes.append({"narration": False, "visuals": False, "render": False, "playable": False})
        return self.scenes[i]

    def apply(self, e: ProgressEvent) -> None:
        self.stage = e.stage
        self.stages[e.stage] = {"done": e.done, "total": e.total, "cached": e.cached}
        if e.stage in ("narration", "visuals") and e.total and not self.scenes:
            for i in range(e.total):
                self._scene(i)
        if e.scene is not None and e.stage in ("narration", "visuals", "render", "preview") and e.done > 0:
            self._scene(e.scene)["render" if e.stage == "preview" else e.stage] = True

    def playable(self, seg: HlsSegment) -> None:
        self.segments = seg.index + 1
        if seg.scene is not None:
            self._scene(seg.scene)["playable"] = True

    def fraction(self) -> float:
        f = 0.0
        for stage, w in STAGE_WEIGHTS.items():
            st = self.stages.get(stage)
            if st and st["total"]:
                f += w * min(1.0, st["done"] / st["total"])
        return min(1.0, f)

    def snapshot(self) -> dict[str, Any]:
        return {"stages": dict(self.stages), "scenes": [dict(s) for s in self.scenes],
                "fraction": round(self.fraction(), 4), "segments": self.segments}  # fmt: skip


class JobRunner:
    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        *,
        kind: str = "local",
        registry: Registry | None = None,
        scene_runner: Callable[[Job], SceneRunner] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.kind = kind
        self.registry = registry
        #: the cluster's fan-out: who does each scene's work first (``fanout.CeleryScenes``), per job
        self.scene_runner = scene_runner

    def run(
        self,
        job_id: str,
        cancel: threading.Event | None = None,
        stopping: threading.Event | None = None,
        *,
        retry_transient: bool = False,
    ) -> Outcome:
        """Run ``job_id`` if it can be claimed. ``cancel`` stops it (set by the executor on DELETE);
        ``stopping`` means the executor shuts down: the job goes back to the queue instead."""
        svc = self.settings.service
        me = runner_id(self.kind)
        job = self.store.claim(job_id, me, svc.lease_seconds)
        if job is None:
            current = self.store.get(job_id)
            return "busy" if current is not None and not current.terminal else "skipped"
        cancel = cancel or threading.Event()
        state = {"lost": False, "cancelled": False}
        halt = threading.Event()

        def heartbeat() -> None:
            while not halt.wait(svc.heartbeat_seconds):
                try:
                    beat = self.store.heartbeat(job_id, me, svc.lease_seconds)
                except (sqlite3.OperationalError, ConnectionError):  # the store was busy or unreachable
                    continue
                if beat == "lost":
                    state["lost"] = True
                    cancel.set()
                elif beat == "cancel":
                    state["cancelled"] = True
                    cancel.set()
                if stopping is not None and stopping.is_set():
                    cancel.set()

        beater = threading.Thread(target=heartbeat, name=f"heartbeat-{job_id[:8]}", daemon=True)
        beater.start()
        log.info("job %s: started (attempt %d) by %s", job_id, job.attempts, me)
        try:
            return self._execute(job, me, cancel, stopping, state, retry_transient)
        finally:
            halt.set()
            beater.join(5)

    def _execute(
        self,
        job: Job,
        me: str,
        cancel: threading.Event,
        stopping: threading.Event | None,
        state: dict[str, bool],
        retry_transient: bool,
    ) -> Outcome:
        job_id = job.id
        settings = job_settings(self.settings, job)
        out_dir = job_dir(settings, job_id)
        tracker = ProgressTracker()
        lock = threading.Lock()
        storage = remote_for(settings)
        hls: HlsBuilder | None = None

        def on_progress(e: ProgressEvent) -> None:
            if hls is not None:
                hls(e)
            data = e.model_dump(mode="json")
            data["artifact"] = data["audio"] = None  # server paths stay on the server
            with lock:
                tracker.apply(e)
                snap = tracker.snapshot()
            with contextlib.suppress(sqlite3.OperationalError, ConnectionError):
                self.store.update_progress(job_id, me, e.stage, snap, ("progress", data))

        def on_segment(seg: HlsSegment, total: int) -> None:
            if storage is not None:  # storage: playable from any machine as soon as it exists (best effort)
                from ..storage.jobs import publish_segment

                publish_segment(storage, job_id, out_dir, out_dir / "hls" / seg.name)
            with lock:
                tracker.playable(seg)
                snap = tracker.snapshot()
            event = {"index": seg.index, "scene": seg.scene, "start": round(seg.start, 6),
                     "duration": round(seg.duration, 6), "segments": seg.index + 1, "total": total,
                     "name": seg.name}  # fmt: skip
            with contextlib.suppress(sqlite3.OperationalError, ConnectionError):
                self.store.update_progress(job_id, me, tracker.stage, snap, ("segment", event))

        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            request = Request.model_validate(job.request)
            pipe = Pipeline(settings, registry=self.registry, progress=on_progress, cancel=cancel)
            storyboard: Storyboard | None = None
            if job.storyboard is not None:  # given, edited, or written by an earlier attempt
                storyboard = Storyboard.model_validate(job.storyboard)
                lengths = [storyboard.title_duration, *(s.duration for s in storyboard.scenes)]
            else:
                lengths = list(plan_durations(request.duration)[1])
            hls = HlsBuilder(out_dir, find_ffmpeg(settings.ffmpeg), tag=f"{job.generation}-{job.attempts}",
                             target=math.ceil(max(lengths)) + 1, on_segment=on_segment, cancel=cancel)  # fmt: skip

            def written(sb: Storyboard) -> None:  # a later attempt (a restart, another worker) reuses it
                if job.storyboard is None:
                    self.store.set_storyboard(job_id, me, sb.model_dump(mode="json"))

            # scenes stream: each is spoken, drawn and rendered (a playable HLS segment) as it is written
            fanout = self.scene_runner(job) if self.scene_runner is not None else None
            result = pipe.make(request, out_dir / "video.mp4", storyboard=storyboard, on_storyboard=written,
                               preview_sound=True, scene_runner=fanout)  # fmt: skip
            segments = hls.finish(ended=True)
            hls = None
            if cancel.is_set():
                raise Cancelled("cancelled")
            # what the browser renderer reads (GET .../timeline): written before the job is done
            write_atomic(out_dir / TIMELINE, result.timeline.model_dump_json(by_alias=True))
            if storage is not None:  # storage: the API may be elsewhere, so the files go to the store first
                from ..compose.export import asset_names
                from ..storage.jobs import publish_job

                publish_job(storage, job_id, out_dir, asset_names(result.timeline))
            summary = {"duration": round(result.duration, 3), "size": result.size,
                       "elapsed": round(result.elapsed, 3), "segments": len(segments),
                       "cache": result.cache}  # fmt: skip
            if not self.store.finish(job_id, me, "done", result=summary,
                                     storyboard=result.storyboard.model_dump(mode="json")):  # fmt: skip
                return "lost"
            log.info("job %s: done in %.1f s", job_id, result.elapsed)
            return "done"
        except Exception as exc:
            if not isinstance(exc, Cancelled) and not cancel.is_set():
                return self._failed(job_id, me, exc, retry_transient)
            # cancelled, or a failure caused by the cancel (an ffmpeg killed under us): not the job's fault
            if state["lost"]:
                return "lost"
            current = self.store.get(job_id)
            user_cancel = state["cancelled"] or (current is not None and current.cancel_requested)
            if not user_cancel and stopping is not None and stopping.is_set():
                self.store.release(job_id, me)
                log.info("job %s: handed back to the queue (shutting down)", job_id)
                return "released"
            self.store.finish(job_id, me, "cancelled")
            log.info("job %s: cancelled", job_id)
            return "cancelled"
        finally:
            if hls is not None:
                hls.close()

    def _failed(self, job_id: str, me: str, exc: Exception, retry_transient: bool) -> Outcome:
        if isinstance(exc, ReelforgeError) and not isinstance(exc, TRANSIENT):
            self.store.finish(job_id, me, "failed", error=str(exc))
            log.info("job %s: failed: %s", job_id, exc)
            return "failed"
        if isinstance(exc, TRANSIENT):
            if retry_transient:
                with contextlib.suppress(sqlite3.OperationalError, ConnectionError):
                    self.store.release(job_id, me)
                log.warning("job %s: transient error, will retry: %s", job_id, exc)
                return "retry"
            self.store.finish(
                job_id, me, "failed", error=f"the job could not finish ({plain(exc)}); try again"
            )
            return "failed"
        log.error("job %s: unexpected error", job_id, exc_info=exc)
        self.store.finish(job_id, me, "failed",
                          error=f"something went wrong while making the video ({plain(exc)})")  # fmt: skip
        return "failed"


def plain(exc: BaseException) -> str:
    """An exception in one short line, without file paths of the server."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__
