"""The REST API and web UI (FastAPI). ``create_app(settings)`` builds an app; nothing happens at import.

Endpoints (all under ``/v1`` need a token when the server is not on loopback; see ``auth.py``)::

    POST   /v1/videos                     submit a job (``batch``: a tag shared by many) -> 202 {id, links}
    GET    /v1/videos                     your jobs, newest first (``?batch=TAG``: one batch's)
    GET    /v1/videos/{id}                status, stage, per-scene progress, ETA, error
    GET    /v1/videos/{id}/events         Server-Sent Events: progress, segment, storyboard, status
    GET    /v1/videos/{id}/stream.m3u8    HLS (EVENT) playlist, playable while the job runs
    GET    /v1/videos/{id}/video.mp4      the video (Range requests)
    GET    /v1/videos/{id}/storyboard     the storyboard JSON; PATCH it to edit scenes and re-render
    GET    /v1/videos/{id}/subtitles.vtt  (and .srt), /poster.png, /scenes/{n}/thumbnail.jpg
    GET    /v1/videos/{id}/timeline       the timeline for the browser renderer (asset URLs: assets/<name>)
    GET    /v1/videos/{id}/assets/{name}  exactly the timeline's assets (Range requests)
    PUT    /v1/videos/{id}/client-render  upload the browser's render (checked); GET .../client.mp4|webm
    DELETE /v1/videos/{id}                cancel a running job, or delete a finished one and its files
    GET    /v1/backends, /healthz
    GET    /static/renderer.js, /static/font.ttf   the browser renderer's bundle and the subtitle font
"""

import asyncio
import contextlib
import functools
import json
import logging
import mimetypes
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .. import __version__
from ..compose.export import asset_names, timeline_for_browser
from ..config import Settings
from ..errors import BackendNotFound, ReelforgeError, StoreError
from ..models import Request as VideoRequest
from ..models import Storyboard, Timeline, VisualPlan
from ..registry import Registry, default_registry
from ..storage import remote_for
from ..storage.jobs import job_key
from ..text import slug
from ..tools import find_font
from ..webrender import bundle_path, is_built
from .auth import Authenticator, AuthError, Principal
from .events import announcing, listening
from .executors import Executor, make_executor
from .files import JobFiles
from .hls import PLAYLIST, SEGMENT_NAME, HlsSegment, playlist_text
from .jobs import Event, Job, JobStore, new_job_id
from .runner import TIMELINE, job_dir
from .store_sql import open_store

log = logging.getLogger("reelforge.service")

JOB_ID = r"^[0-9a-f]{32}$"
JobId = Annotated[str, PathParam(pattern=JOB_ID, description="job id (32 hex digits)")]
SSE_POLL = 0.25
SSE_KEEPALIVE = 15.0
MAX_SCENES = 120
BATCH_TAG = r"^[A-Za-z0-9][A-Za-z0-9 ._:-]*$"
#: the largest event id a client may resume after (SQLite integers are 64-bit)
MAX_EVENT_ID = 2**62
#: the browser's own render of a job, as uploaded (``PUT .../client-render``)
CLIENT_EXTS: tuple[str, ...] = ("mp4", "webm")
CLIENT_UPLOAD = re.compile(r"^/v1/videos/[^/]+/client-render$")
#: how far the uploaded render's length may be from the job's
CLIENT_DURATION_TOLERANCE = 1.0
ASSET_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
               ".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".ogg": "audio/ogg",
               ".flac": "audio/flac", ".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime"}  # fmt: skip

# ---- request / response models -----------------------------------------------------------------


class BackendChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    writer: str | None = None
    images: str | None = None
    music: str | None = None
    tts: str | None = None


class VideoCreate(VideoRequest):
    """What to make: the same fields and rules as the command line (``reelforge make``)."""

    backends: BackendChoice = BackendChoice()
    #: render this storyboard instead of writing one (its duration wins)
    storyboard: Storyboard | None = None
    #: how scenes follow each other (``reelforge make --transition``); default: the server's setting
    transition: Literal["auto", "fade", "crossfade", "slide", "wipe", "zoom"] | None = None
    #: a tag shared by the jobs of one batch (the web UI's history groups them; ``GET /v1/videos?batch=``)
    batch: Annotated[str | None, Field(min_length=1, max_length=64, pattern=BATCH_TAG)] = None

    @field_validator("voice")
    @classmethod
    def _voice_name(cls, v: str | None) -> str | None:
        if v is not None and ("/" in v or "\\" in v or v.endswith(".onnx")):
            raise ValueError("give the name of an installed voice; file paths are not accepted over the API")
        return v


class SceneEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: Annotated[int, Field(ge=0, lt=MAX_SCENES)]
    narration: str | None = None
    visual: str | None = None
    #: the picture's plan (layout, items, number, text); a changed narration or visual without a plan is
    #: planned again from the new words
    plan: VisualPlan | None = None


class StoryboardEdit(BaseModel):
    """Edits to apply: the title and/or some scenes' narration and visual description."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    scenes: Annotated[list[SceneEdit], Field(max_length=MAX_SCENES)] = []


class JobView(BaseModel):
    id: str
    status: str
    stage: str | None
    percent: float
    eta_seconds: float | None
    error: str | None
    request: dict[str, Any]
    backends: dict[str, str]
    queue: str
    batch: str | None = None
    stages: dict[str, Any]
    scenes: list[dict[str, Any]]
    segments: int
    generation: int
    attempts: int
    cancel_requested: bool
    created_at: float
    started_at: float | None
    finished_at: float | None
    result: dict[str, Any] | None
    title: str | None
    links: dict[str, str]


class JobList(BaseModel):
    jobs: list[JobView]


def links(job_id: str, client: str | None = None) -> dict[str, str]:
    """The job's URLs; ``client`` is the extension of the browser render uploaded for it, if any."""
    base = f"/v1/videos/{job_id}"
    out = {"self": base, "events": f"{base}/events", "stream": f"{base}/stream.m3u8",
           "video": f"{base}/video.mp4", "storyboard": f"{base}/storyboard",
           "subtitles": f"{base}/subtitles.vtt", "poster": f"{base}/poster.png",
           "timeline": f"{base}/timeline"}  # fmt: skip
    if client is not None:
        out["client_render"] = f"{base}/client.{client}"
    return out


def view(job: Job, now: float | None = None, client: str | None = None) -> JobView:
    now = now or time.time()
    prog = job.progress or {}
    fraction = 1.0 if job.status == "done" else min(0.99, float(prog.get("fraction", 0.0)))
    eta: float | None = None
    if job.status == "running" and job.started_at and fraction >= 0.03:
        eta = max(0.0, (now - job.started_at) * (1 - fraction) / fraction)
    title = job.storyboard.get("title") if job.storyboard else None
    return JobView(
        id=job.id, status=job.status, stage=job.stage, percent=round(100 * fraction, 1),
        eta_seconds=None if eta is None else round(eta, 1), error=job.error, request=job.request,
        backends=job.backends, queue=job.queue, batch=job.batch, stages=prog.get("stages", {}),
        scenes=prog.get("scenes", []), segments=int(prog.get("segments", 0)), generation=job.generation,
        attempts=job.attempts,
        cancel_requested=job.cancel_requested, created_at=job.created_at, started_at=job.started_at,
        finished_at=job.finished_at, result=job.result, title=title, links=links(job.id, client),
    )  # fmt: skip


# ---- helpers ------------------------------------------------------------------------------------


def validation_error(errors: list[tuple[tuple[str | int, ...], str]]) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", *loc), "msg": msg, "input": None} for loc, msg in errors]
    )


def backend_listing(registry: Registry) -> dict[str, list[dict[str, Any]]]:
    return registry.describe()


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over ``max_body`` bytes with 413 (by Content-Length, or while reading); an upload
    of a browser render (``PUT .../client-render``) may be up to ``max_upload`` bytes instead."""

    def __init__(self, app: Any, max_body: int, max_upload: int | None = None) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload or max_body

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "PUT" and bool(CLIENT_UPLOAD.match(scope.get("path", "")))
        limit = self.max_upload if upload else self.max_body
        for k, v in scope.get("headers", []):
            if k == b"content-length" and v.isdigit() and int(v) > limit:
                await self._refuse(send, limit, upload)
                return
        seen = 0
        started = False

        async def limited() -> MutableMapping[str, Any]:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return msg

        async def watch(msg: MutableMapping[str, Any]) -> None:
            nonlocal started
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, limited, watch)
        except _TooLarge:
            if not started:
                await self._refuse(send, limit, upload)

    async def _refuse(
        self, send: Callable[[MutableMapping[str, Any]], Awaitable[None]], limit: int, upload: bool = False
    ) -> None:
        what = "the video file" if upload else "the request body"
        body = json.dumps({"detail": f"{what} is larger than {limit} bytes, the server's limit"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


def web_dir() -> Path:
    return Path(str(files("reelforge.service") / "web"))


class UploadRejected(ValueError):
    """An uploaded browser render that is not acceptable; the message says why, for the user."""


def probe_upload(path: Path) -> dict[str, Any]:
    """Check an uploaded browser render with PyAV: an MP4 or WebM with a video and an audio track, a known
    length and a first video frame that decodes. Returns ``ext`` (``mp4``/``webm``), ``duration``, ``width``,
    ``height``, ``video_codec``, ``audio_codec``; raises :class:`UploadRejected` with a plain message."""
    import av

    try:
        container = av.open(str(path), mode="r")
    except Exception as exc:
        raise UploadRejected(
            f"the file is not a video that can be read ({type(exc).__name__}); send the MP4 or WebM file "
            "the browser rendered"
        ) from None
    try:
        with container:
            names = set(container.format.name.split(","))
            if "mp4" in names:
                ext = "mp4"
            elif names & {"webm", "matroska"}:
                ext = "webm"
            else:
                raise UploadRejected(f"the file is {container.format.name}, not MP4 or WebM")
            if not container.streams.video:
                raise UploadRejected("the file has no video track")
            if not container.streams.audio:
                raise UploadRejected("the file has no audio track")
            v, a = container.streams.video[0], container.streams.audio[0]
            duration: float | None = None
            if container.duration is not None and container.duration > 0:
                duration = container.duration / 1_000_000
            elif v.duration is not None and v.time_base is not None:
                duration = float(v.duration * v.time_base)
            if duration is None or not duration > 0:
                raise UploadRejected("the length of the file cannot be read")
            frame = next(iter(container.decode(video=0)), None)
            if frame is None:
                raise UploadRejected("the file's video track has no picture")
            return {"ext": ext, "duration": round(duration, 3), "width": v.codec_context.width,
                    "height": v.codec_context.height, "video_codec": v.codec_context.name,
                    "audio_codec": a.codec_context.name}  # fmt: skip
    except UploadRejected:
        raise
    except Exception as exc:
        raise UploadRejected(f"the file cannot be decoded ({type(exc).__name__}); is it complete?") from None


@functools.lru_cache(maxsize=32)
def _read_timeline(path: str, mtime_ns: int, size: int) -> Timeline:
    """A job's timeline.json, parsed (cached by file identity: a re-render writes a new file)."""
    return Timeline.model_validate_json(Path(path).read_bytes())


def _media_type(path: Path) -> str:
    suffix = path.suffix.lower()
    return ASSET_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


# ---- the app ------------------------------------------------------------------------------------


def playlist_from_events(job: Job, events: list[Event]) -> str | None:
    """The HLS playlist of a job's latest run, from its ``segment`` events (what a worker on another
    machine announced), or None when it announced none."""
    segments: list[HlsSegment] = []
    for ev in events:
        if ev.kind == "status" and ev.data.get("status") == "running":
            segments = []  # a new run (a restart, an edit) starts a new playlist
        elif ev.kind == "segment" and isinstance(ev.data.get("name"), str):
            d = ev.data
            segments.append(HlsSegment(index=int(d["index"]), name=d["name"], start=float(d["start"]),
                                       duration=float(d["duration"]), scene=d.get("scene")))  # fmt: skip
    if not segments:
        return None
    return playlist_text(segments, 10.0, ended=job.status == "done")


def create_app(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    store: JobStore | None = None,
    executor: Executor | None = None,
    registry: Registry | None = None,
) -> FastAPI:
    """Build the API. ``host`` is the address the server listens on (decides whether tokens are required)."""
    svc = settings.service
    auth = Authenticator(svc, host)
    registry = registry or default_registry()
    svc.artifact_dir.mkdir(parents=True, exist_ok=True)
    artifact_root = svc.artifact_dir.resolve()
    jobs: JobStore = announcing(store or open_store(svc), settings)
    runner: Executor = executor or make_executor(settings, jobs, registry=registry)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        runner.start()
        try:
            yield
        finally:
            await run_in_threadpool(runner.stop)

    app = FastAPI(
        title="reelforge",
        version=__version__,
        description="Turn a prompt and a duration into a narrated video: jobs, live progress, HLS preview.",
        lifespan=lifespan,
    )
    app.state.settings, app.state.store, app.state.executor = settings, jobs, runner
    app.add_middleware(BodyLimit, max_body=svc.max_body, max_upload=svc.max_upload)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        """422 with one plain message per field (``loc`` says which)."""
        detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")).removeprefix("Value error, "),
                   "type": e.get("type", "value_error")} for e in exc.errors()]  # fmt: skip
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(AuthError)
    async def _auth_error(_: Request, exc: AuthError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    def principal(
        authorization: Annotated[str | None, Header()] = None,
        access_token: Annotated[str | None, Query(description="token, for links a browser follows")] = None,
    ) -> Principal:
        return auth.authenticate(authorization, access_token)

    Who = Annotated[Principal, Depends(principal)]

    def load(job_id: str, who: Principal) -> Job:
        job = jobs.get(job_id)
        if job is None or job.owner != who.name:
            raise HTTPException(404, "no such video")
        return job

    storage = remote_for(settings)
    # storage: a job's files come from this machine's folder, else from the object store (service/files.py)
    job_files = JobFiles(settings, storage)
    job_files.check()

    def artifact(job_id: str, *parts: str) -> Path:
        """A file of the job in this machine's artifact directory, only ever inside it."""
        path = job_files.local(job_id, *parts)
        if path is None:
            raise HTTPException(404, "not available (yet)")
        return path

    def client_render(job_id: str) -> str | None:
        """The extension of the browser render uploaded for the job (``mp4``/``webm``), if there is one."""
        for ext in CLIENT_EXTS:
            path = job_dir(settings, job_id) / f"client.{ext}"
            if path.is_file() and not path.is_symlink():
                return ext
        return None

    def job_view(job: Job, now: float | None = None) -> JobView:
        return view(job, now, client_render(job.id))

    def job_timeline(job_id: str, job: Job) -> Timeline:
        """The timeline the job was rendered from (written by the runner when it finished)."""
        if job.status != "done":
            raise HTTPException(404, "the video is not finished yet; its timeline comes when it is done")
        try:
            path = job_files.path(job_id, TIMELINE)  # resolved: never a link out of the job's directory
        except HTTPException as exc:
            if exc.status_code != 404:  # the store does not answer: say so, not "no timeline"
                raise
            raise HTTPException(404, "this video has no timeline (it was made by an older server): "
                                     "edit it or make it again to render it in the browser") from None  # fmt: skip
        try:
            stat = path.stat()
            return _read_timeline(str(path), stat.st_mtime_ns, stat.st_size)
        except (OSError, ValueError) as exc:
            log.error("job %s: unreadable timeline: %s", job_id, exc)
            raise HTTPException(404, "the timeline of this video cannot be read; make it again") from None

    # -- meta -----------------------------------------------------------------------------------

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "executor": runner.kind}

    @app.get("/v1/backends", tags=["meta"])
    def backends(who: Who) -> dict[str, list[dict[str, Any]]]:
        return backend_listing(registry)

    @app.get("/v1/voices", tags=["meta"])
    def voices(who: Who) -> dict[str, Any]:
        """The installed voices of the default narration backend (for the ``voice`` field)."""
        try:
            from ..narration.piper import BUNDLED_VOICE, bundled_voices

            return {"voices": sorted(bundled_voices()), "default": BUNDLED_VOICE}
        except Exception:
            return {"voices": [], "default": None}

    # -- jobs -----------------------------------------------------------------------------------

    @app.post("/v1/videos", status_code=202, tags=["videos"])
    def create_video(body: VideoCreate, who: Who, response: Response) -> JobView:
        if body.duration > who.max_duration:
            raise validation_error([(("duration",), f"duration {body.duration:g} s is over your limit of "
                                     f"{who.max_duration:g} s")])  # fmt: skip
        chosen = {k: v for k, v in body.backends.model_dump().items() if v is not None}
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for field, stage in (
            ("writer", "script"),
            ("images", "visuals"),
            ("music", "music"),
            ("tts", "narration"),
        ):
            name = chosen.get(field) or getattr(settings, field)
            try:
                registry.get(stage, name)
            except BackendNotFound as exc:
                problems.append((("backends", field), str(exc)))
        if problems:
            raise validation_error(problems)
        active = jobs.count_active(who.name)
        if active >= who.max_concurrent:
            raise HTTPException(429, f"you have {active} videos queued or running; the limit is "
                                     f"{who.max_concurrent}. Wait for one to finish or cancel one")  # fmt: skip
        request = VideoRequest.model_validate(
            body.model_dump(exclude={"backends", "storyboard", "transition", "batch"})
        )
        if body.storyboard is not None:
            request = request.model_copy(update={"duration": body.storyboard.duration})
        images = chosen.get("images") or settings.images
        job = Job(
            id=new_job_id(), owner=who.name, request=request.model_dump(mode="json"),
            backends=chosen | ({"transition": body.transition} if body.transition else {}),  # job settings
            queue="gpu" if images in svc.gpu_backends else "cpu", batch=body.batch,
            storyboard=body.storyboard.model_dump(mode="json") if body.storyboard else None,
        )  # fmt: skip
        jobs.create(job)
        try:
            runner.submit(job)
        except Exception as exc:
            jobs.delete(job.id)
            log.error("cannot queue job %s: %s", job.id, exc)
            raise HTTPException(
                503, "the job queue cannot be reached right now; try again in a moment"
            ) from None
        response.headers["Location"] = f"/v1/videos/{job.id}"
        return job_view(job)

    @app.get("/v1/videos", tags=["videos"])
    def list_videos(
        who: Who,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        batch: Annotated[str | None, Query(max_length=64, description="only this batch's jobs")] = None,
    ) -> JobList:
        now = time.time()
        return JobList(jobs=[job_view(j, now) for j in jobs.list_jobs(who.name, limit, batch=batch)])

    @app.get("/v1/videos/{job_id}", tags=["videos"])
    def get_video(job_id: JobId, who: Who) -> JobView:
        return job_view(load(job_id, who))

    @app.delete("/v1/videos/{job_id}", tags=["videos"], status_code=200)
    def delete_video(job_id: JobId, who: Who) -> Response:
        job = load(job_id, who)
        if job.status in ("queued", "running"):
            updated = jobs.request_cancel(job_id) or job
            runner.cancel(job_id)
            return JSONResponse(job_view(updated).model_dump(mode="json"), status_code=202)
        jobs.delete(job_id)
        shutil.rmtree(job_dir(settings, job_id), ignore_errors=True)
        if storage is not None:
            with contextlib.suppress(StoreError):  # the job is gone; stray objects only cost space
                storage.delete_prefix(f"jobs/{job_id}/")
        return Response(status_code=204)

    @app.get("/v1/videos/{job_id}/events", tags=["videos"])
    async def events(
        job_id: JobId,
        who: Who,
        request: Request,
        last_event_id: Annotated[str | None, Header()] = None,
        after: Annotated[int, Query(ge=0, le=MAX_EVENT_ID)] = 0,
    ) -> StreamingResponse:
        """Server-Sent Events. ``event: progress`` carries the pipeline's ProgressEvent JSON (as the CLI
        gets it); ``status``, ``storyboard`` and ``segment`` (a playable HLS segment) follow the job;
        ``end`` closes the stream once the job is finished. Resumes after ``Last-Event-ID``."""
        await run_in_threadpool(load, job_id, who)
        resume = last_event_id.strip() if last_event_id else ""
        start = int(resume) if re.fullmatch(r"[0-9]{1,18}", resume) else after

        async def stream() -> AsyncIterator[str]:
            seq, quiet = start, 0.0
            yield "retry: 2000\n\n"
            # woken by Redis when a worker (on any machine) writes the job's events; else the store is polled
            async with listening(settings, job_id, SSE_POLL) as listener:
                while not await request.is_disconnected():
                    job = await run_in_threadpool(jobs.get, job_id)
                    batch = await run_in_threadpool(jobs.events, job_id, seq)
                    for ev in batch:
                        seq = ev.seq
                        yield f"id: {ev.seq}\nevent: {ev.kind}\ndata: {json.dumps(ev.data)}\n\n"
                    if batch:
                        quiet = 0.0
                        continue
                    if job is None or job.terminal:
                        yield f"event: end\ndata: {json.dumps({'status': job.status if job else 'deleted'})}\n\n"
                        return
                    t0 = asyncio.get_running_loop().time()
                    await listener.wait()
                    quiet += asyncio.get_running_loop().time() - t0
                    if quiet >= SSE_KEEPALIVE:
                        quiet = 0.0
                        yield ": keep-alive\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip

    # -- files ----------------------------------------------------------------------------------

    @app.get("/v1/videos/{job_id}/stream.m3u8", tags=["files"])
    def playlist(job_id: JobId, who: Who) -> Response:
        job = load(job_id, who)
        try:
            text: str | None = artifact(job_id, PLAYLIST).read_text(encoding="utf-8")
        except (HTTPException, OSError, UnicodeDecodeError):
            text = None
        if text is None:  # the job ran on another machine: its segments are in its event log
            text = playlist_from_events(job, jobs.events(job_id, 0, 100_000))
        # storage: a finished run's playlist as its worker published it
        if text is None and job.terminal and storage is not None:
            with contextlib.suppress(HTTPException, OSError, UnicodeDecodeError):
                text = job_files.path(job_id, PLAYLIST).read_text(encoding="utf-8")
        if text is None:
            if job.terminal:
                raise HTTPException(404, "this video has no stream")
            text = playlist_text([], 10.0, ended=False)
        return Response(
            text, media_type="application/vnd.apple.mpegurl", headers={"Cache-Control": "no-cache"}
        )

    @app.get("/v1/videos/{job_id}/hls/{name}", tags=["files"])
    def hls_segment(job_id: JobId, name: str, who: Who, request: Request) -> Response:
        load(job_id, who)
        if not SEGMENT_NAME.match(name):
            raise HTTPException(404, "no such segment")
        return job_files.response(request, job_id, "hls", name, media_type="video/mp2t")

    @app.get("/v1/videos/{job_id}/video.mp4", tags=["files"])
    def video(job_id: JobId, who: Who, request: Request, download: bool = False) -> Response:
        """The finished MP4 (Range requests: 206 partial content). ``?download=1`` names the file."""
        job = load(job_id, who)
        name = f"{slug(str(job.request.get('prompt', 'video')))}.mp4" if download else None
        return job_files.response(request, job_id, "video.mp4", media_type="video/mp4", filename=name)

    app.add_api_route("/v1/videos/{job_id}/video.mp4", video, methods=["HEAD"], include_in_schema=False)

    @app.get("/v1/videos/{job_id}/storyboard", tags=["files"])
    def get_storyboard(job_id: JobId, who: Who) -> JSONResponse:
        job = load(job_id, who)
        if job.storyboard is None:
            raise HTTPException(404, "the storyboard is not written yet")
        return JSONResponse(job.storyboard)

    @app.patch("/v1/videos/{job_id}/storyboard", status_code=202, tags=["videos"], response_model=JobView)
    def edit_storyboard(job_id: JobId, edit: StoryboardEdit, who: Who) -> Any:
        """Change some scenes' narration or visual (or the title) and render again: only the scenes that
        changed are redone, the rest comes from the cache."""
        job = load(job_id, who)
        if not job.terminal:
            raise HTTPException(409, "the video is still being made; edit it when it is finished")
        if job.storyboard is None:
            raise HTTPException(409, "this video has no storyboard to edit")
        data = json.loads(json.dumps(job.storyboard))
        n = len(data["scenes"])
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for k, e in enumerate(edit.scenes):
            if e.index >= n:
                problems.append(
                    (("scenes", k, "index"), f"scene {e.index} does not exist; there are {n} scenes")
                )
                continue
            scene = data["scenes"][e.index]
            for field in ("narration", "visual"):
                value = getattr(e, field)
                if value is not None and value != scene.get(field):
                    scene[field] = value
                    scene["plan"] = None  # new words: a new plan (unless one comes with them)
            if e.plan is not None:
                scene["plan"] = e.plan.model_dump(mode="json")
        if edit.title is not None:
            data["title"] = edit.title
        if problems:
            raise validation_error(problems)
        try:
            storyboard = Storyboard.model_validate(data)
        except ValidationError as exc:
            raise validation_error(
                [(tuple(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in exc.errors()]
            ) from None
        new = storyboard.model_dump(mode="json")
        if new == job.storyboard and job.status == "done":  # nothing changed: nothing to render
            return JSONResponse(job_view(job).model_dump(mode="json"), status_code=200)
        updated = jobs.requeue_edited(job_id, new)
        if updated is None:
            raise HTTPException(409, "the video is being made again already")
        for ext in CLIENT_EXTS:  # a browser render of the old storyboard no longer matches
            (job_dir(settings, job_id) / f"client.{ext}").unlink(missing_ok=True)
        try:
            runner.submit(updated)
        except Exception as exc:  # it stays queued; the executor sends queued jobs again when it starts
            log.error("cannot queue job %s: %s", job_id, exc)
            raise HTTPException(
                503, "the edit is saved, but the job queue cannot be reached right now"
            ) from None
        return job_view(updated)

    @app.get("/v1/videos/{job_id}/subtitles.vtt", tags=["files"])
    def subtitles_vtt(job_id: JobId, who: Who, request: Request) -> Response:
        load(job_id, who)
        return job_files.response(request, job_id, "video.vtt", media_type="text/vtt; charset=utf-8")

    @app.get("/v1/videos/{job_id}/subtitles.srt", tags=["files"])
    def subtitles_srt(job_id: JobId, who: Who, request: Request) -> Response:
        load(job_id, who)
        return job_files.response(
            request, job_id, "video.srt", media_type="application/x-subrip; charset=utf-8"
        )

    @app.get("/v1/videos/{job_id}/poster.png", tags=["files"])
    def poster(job_id: JobId, who: Who, request: Request) -> Response:
        load(job_id, who)
        return job_files.response(request, job_id, "video.poster.png", media_type="image/png")

    @app.get("/v1/videos/{job_id}/scenes/{index}/thumbnail.jpg", tags=["files"])
    def thumbnail(
        job_id: JobId, index: Annotated[int, PathParam(ge=0, lt=MAX_SCENES)], who: Who, request: Request
    ) -> Response:
        load(job_id, who)
        return job_files.response(request, job_id, "thumbs", f"{index}.jpg", media_type="image/jpeg",
                                  headers={"Cache-Control": "no-cache"})  # fmt: skip

    # -- the browser renderer -------------------------------------------------------------------

    @app.get("/v1/videos/{job_id}/timeline", tags=["browser render"])
    def get_timeline(job_id: JobId, who: Who, request: Request) -> JSONResponse:
        """The timeline of a finished video for the browser renderer (``ReelforgeRenderer.render(url)``), with
        every asset as a URL relative to this one: ``assets/<name>``. A token given as ``?access_token=``
        is carried on to the asset URLs (a renderer fetching them cannot send headers)."""
        job = load(job_id, who)
        tl = job_timeline(job_id, job)
        token = request.query_params.get("access_token")
        suffix = f"?access_token={quote(token, safe='')}" if token else ""
        by_path = {p: n for n, p in asset_names(tl).items()}
        doc = timeline_for_browser(tl, lambda p: f"assets/{by_path[p]}{suffix}")
        return JSONResponse(doc, headers={"Cache-Control": "no-cache"})

    @app.get("/v1/videos/{job_id}/assets/{name}", tags=["browser render"])
    def get_asset(
        job_id: JobId, name: Annotated[str, PathParam(max_length=64)], who: Who, request: Request
    ) -> Response:
        """One asset of the timeline (a still, a clip, narration, music), by its public name: exactly the
        names the timeline lists, nothing else (Range requests: 206)."""
        job = load(job_id, who)
        tl = job_timeline(job_id, job)
        path = asset_names(tl).get(name)
        if path is None:
            raise HTTPException(404, "no such asset in this video's timeline")
        if not path.is_file() and storage is not None:  # storage: made on another machine, its published copy
            return job_files.from_store(request, job_key(job_id, f"assets/{name}"), media_type=_media_type(path),
                                        headers={"Cache-Control": "no-cache"})  # fmt: skip
        if not path.is_file():
            raise HTTPException(404, "this asset is no longer on the server (its cache was cleared): "
                                     "make the video again")  # fmt: skip
        return FileResponse(path, media_type=_media_type(path), headers={"Cache-Control": "no-cache"})

    app.add_api_route(
        "/v1/videos/{job_id}/assets/{name}", get_asset, methods=["HEAD"], include_in_schema=False
    )

    @app.put(
        "/v1/videos/{job_id}/client-render",
        tags=["browser render"],
        openapi_extra={"requestBody": {"required": True, "description": "the MP4 or WebM file", "content": {
            t: {"schema": {"type": "string", "format": "binary"}}
            for t in ("video/mp4", "video/webm", "application/octet-stream")}}},
    )  # fmt: skip
    async def put_client_render(job_id: JobId, who: Who, request: Request) -> JSONResponse:
        """Upload the video the browser rendered from the timeline. It is checked (an MP4 or WebM with video
        and audio, as long as the job's video within 1 s, at most ``service.max_upload`` bytes), stored
        beside the server's render and linked from the job as ``links.client_render``."""
        job = await run_in_threadpool(load, job_id, who)
        if job.status != "done" or not job.result:
            raise HTTPException(
                409, "the video is not finished yet; render it in the browser when it is done"
            )
        expected = float(job.result.get("duration") or job.request.get("duration") or 0)
        folder = job_dir(settings, job_id)
        if not folder.resolve().is_relative_to(artifact_root / job_id):
            raise HTTPException(404, "no such video")  # the job's directory is a link elsewhere: refuse
        tmp = folder / f".client-{uuid.uuid4().hex}.part"
        size = 0
        try:
            await run_in_threadpool(folder.mkdir, parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > svc.max_upload:
                        raise HTTPException(413, f"the video file is larger than {svc.max_upload} bytes, "
                                                 "the server's limit")  # fmt: skip
                    if chunk:
                        await run_in_threadpool(fh.write, chunk)
            if size == 0:
                raise HTTPException(
                    422, "the request body is empty: send the video file the browser rendered"
                )
            try:
                info = await run_in_threadpool(probe_upload, tmp)
            except UploadRejected as exc:
                raise HTTPException(422, str(exc)) from None
            if abs(info["duration"] - expected) > CLIENT_DURATION_TOLERANCE:
                raise HTTPException(422, f"the file is {info['duration']:.2f} s long, but this video is "
                                         f"{expected:.2f} s (within {CLIENT_DURATION_TOLERANCE:g} s is accepted)")  # fmt: skip
            current = await run_in_threadpool(jobs.get, job_id)
            if current is None or current.status != "done" or current.generation != job.generation:
                raise HTTPException(409, "the video changed while the file was uploaded; render it again")
            ext = info.pop("ext")
            os.replace(tmp, folder / f"client.{ext}")
            for other in CLIENT_EXTS:
                if other != ext:
                    (folder / f"client.{other}").unlink(missing_ok=True)
        finally:
            tmp.unlink(missing_ok=True)
        log.info("job %s: browser render stored (%s, %d bytes)", job_id, ext, size)
        body = job_view(current).model_dump(mode="json")
        body["client_render"] = {**info, "size": size, "url": links(job_id, ext)["client_render"]}
        return JSONResponse(body, status_code=200)

    @app.get("/v1/videos/{job_id}/client.{ext}", tags=["browser render"])
    def get_client_render(
        job_id: JobId, ext: Literal["mp4", "webm"], who: Who, request: Request, download: bool = False
    ) -> Response:
        """The browser render uploaded for this video (Range requests)."""
        job = load(job_id, who)
        name = f"{slug(str(job.request.get('prompt', 'video')))}-browser.{ext}" if download else None
        return job_files.response(request, job_id, f"client.{ext}", media_type=f"video/{ext}", filename=name)

    @app.get("/static/renderer.js", include_in_schema=False)
    def renderer_bundle() -> FileResponse:
        if not is_built():
            raise HTTPException(404, "the browser renderer is not built on this server (make web)")
        return FileResponse(bundle_path(), media_type="text/javascript; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})  # fmt: skip

    @app.get("/static/font.ttf", include_in_schema=False)
    def renderer_font() -> FileResponse:
        try:
            font = find_font(settings.font_file)
        except ReelforgeError:
            raise HTTPException(404, "no subtitle font on this server") from None
        return FileResponse(font, media_type="font/ttf", headers={"Cache-Control": "public, max-age=86400"})

    # -- web UI ---------------------------------------------------------------------------------

    web = web_dir()

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(web / "index.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})  # fmt: skip

    app.mount("/static", StaticFiles(directory=web), name="static")
    return app
