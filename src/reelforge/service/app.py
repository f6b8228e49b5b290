"""The REST API and web UI (FastAPI). ``create_app(settings)`` builds an app; nothing happens at import.

Endpoints (all under ``/v1`` need a token when the server is not on loopback; see ``auth.py``)::

    POST   /v1/videos                     submit a job                     -> 202 {id, links}
    GET    /v1/videos                     your jobs, newest first
    GET    /v1/videos/{id}                status, stage, per-scene progress, ETA, error
    GET    /v1/videos/{id}/events         Server-Sent Events: progress, segment, storyboard, status
    GET    /v1/videos/{id}/stream.m3u8    HLS (EVENT) playlist, playable while the job runs
    GET    /v1/videos/{id}/video.mp4      the video (Range requests)
    GET    /v1/videos/{id}/storyboard     the storyboard JSON; PATCH it to edit scenes and re-render
    GET    /v1/videos/{id}/subtitles.vtt  (and .srt), /poster.png, /scenes/{n}/thumbnail.jpg
    DELETE /v1/videos/{id}                cancel a running job, or delete a finished one and its files
    GET    /v1/backends, /healthz
"""

import asyncio
import json
import logging
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .. import __version__
from ..config import Settings
from ..errors import BackendNotFound
from ..models import Request as VideoRequest
from ..models import Storyboard
from ..registry import STAGES, Registry, default_registry
from ..text import slug
from .auth import Authenticator, AuthError, Principal
from .executors import Executor, make_executor
from .hls import PLAYLIST, SEGMENT_NAME, playlist_text
from .jobs import Job, JobStore, SQLiteJobStore, new_job_id
from .runner import job_dir

log = logging.getLogger("reelforge.service")

JOB_ID = r"^[0-9a-f]{32}$"
JobId = Annotated[str, PathParam(pattern=JOB_ID, description="job id (32 hex digits)")]
SSE_POLL = 0.25
SSE_KEEPALIVE = 15.0
MAX_SCENES = 120

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


def links(job_id: str) -> dict[str, str]:
    base = f"/v1/videos/{job_id}"
    return {"self": base, "events": f"{base}/events", "stream": f"{base}/stream.m3u8",
            "video": f"{base}/video.mp4", "storyboard": f"{base}/storyboard",
            "subtitles": f"{base}/subtitles.vtt", "poster": f"{base}/poster.png"}  # fmt: skip


def view(job: Job, now: float | None = None) -> JobView:
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
        backends=job.backends, queue=job.queue, stages=prog.get("stages", {}), scenes=prog.get("scenes", []),
        segments=int(prog.get("segments", 0)), generation=job.generation, attempts=job.attempts,
        cancel_requested=job.cancel_requested, created_at=job.created_at, started_at=job.started_at,
        finished_at=job.finished_at, result=job.result, title=title, links=links(job.id),
    )  # fmt: skip


# ---- helpers ------------------------------------------------------------------------------------


def validation_error(errors: list[tuple[tuple[str | int, ...], str]]) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", *loc), "msg": msg, "input": None} for loc, msg in errors]
    )


def backend_listing(registry: Registry) -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = {}
    for stage in STAGES:
        data[stage] = []
        for name in registry.names(stage):
            try:
                cls = registry.get(stage, name)
                data[stage].append({"name": name, "version": cls.version, "description": cls.description,
                                    "options": cls.Options.model_json_schema().get("properties", {})})  # fmt: skip
            except Exception as exc:
                data[stage].append({"name": name, "error": str(exc)})
    return data


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over ``max_body`` bytes with 413 (by Content-Length, or while reading)."""

    def __init__(self, app: Any, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        for k, v in scope.get("headers", []):
            if k == b"content-length" and v.isdigit() and int(v) > self.max_body:
                await self._refuse(send)
                return
        seen = 0
        started = False

        async def limited() -> MutableMapping[str, Any]:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_body:
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
                await self._refuse(send)

    async def _refuse(self, send: Callable[[MutableMapping[str, Any]], Awaitable[None]]) -> None:
        body = json.dumps({"detail": f"the request body is larger than {self.max_body} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


def web_dir() -> Path:
    return Path(str(files("reelforge.service") / "web"))


# ---- the app ------------------------------------------------------------------------------------


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
    jobs: JobStore = store or SQLiteJobStore(svc.database_path())
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
    app.add_middleware(BodyLimit, max_body=svc.max_body)

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

    def artifact(job_id: str, *parts: str) -> Path:
        """A file of the job, only ever inside the job's artifact directory."""
        path = (job_dir(settings, job_id) / Path(*parts)).resolve()
        if not path.is_relative_to(artifact_root / job_id) or not path.is_file():
            raise HTTPException(404, "not available (yet)")
        return path

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
        request = VideoRequest.model_validate(body.model_dump(exclude={"backends", "storyboard"}))
        if body.storyboard is not None:
            request = request.model_copy(update={"duration": body.storyboard.duration})
        images = chosen.get("images") or settings.images
        job = Job(
            id=new_job_id(), owner=who.name, request=request.model_dump(mode="json"), backends=chosen,
            queue="gpu" if images in svc.gpu_backends else "cpu",
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
        return view(job)

    @app.get("/v1/videos", tags=["videos"])
    def list_videos(who: Who, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> JobList:
        now = time.time()
        return JobList(jobs=[view(j, now) for j in jobs.list_jobs(who.name, limit)])

    @app.get("/v1/videos/{job_id}", tags=["videos"])
    def get_video(job_id: JobId, who: Who) -> JobView:
        return view(load(job_id, who))

    @app.delete("/v1/videos/{job_id}", tags=["videos"], status_code=200)
    def delete_video(job_id: JobId, who: Who) -> Response:
        job = load(job_id, who)
        if job.status in ("queued", "running"):
            updated = jobs.request_cancel(job_id) or job
            runner.cancel(job_id)
            return JSONResponse(view(updated).model_dump(mode="json"), status_code=202)
        jobs.delete(job_id)
        shutil.rmtree(job_dir(settings, job_id), ignore_errors=True)
        return Response(status_code=204)

    @app.get("/v1/videos/{job_id}/events", tags=["videos"])
    async def events(
        job_id: JobId,
        who: Who,
        request: Request,
        last_event_id: Annotated[str | None, Header()] = None,
        after: Annotated[int, Query(ge=0)] = 0,
    ) -> StreamingResponse:
        """Server-Sent Events. ``event: progress`` carries the pipeline's ProgressEvent JSON (as the CLI
        gets it); ``status``, ``storyboard`` and ``segment`` (a playable HLS segment) follow the job;
        ``end`` closes the stream once the job is finished. Resumes after ``Last-Event-ID``."""
        await run_in_threadpool(load, job_id, who)
        start = int(last_event_id) if last_event_id and last_event_id.isdigit() else after

        async def stream() -> AsyncIterator[str]:
            seq, quiet = start, 0.0
            yield "retry: 2000\n\n"
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
                await asyncio.sleep(SSE_POLL)
                quiet += SSE_POLL
                if quiet >= SSE_KEEPALIVE:
                    quiet = 0.0
                    yield ": keep-alive\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip

    # -- files ----------------------------------------------------------------------------------

    @app.get("/v1/videos/{job_id}/stream.m3u8", tags=["files"])
    def playlist(job_id: JobId, who: Who) -> Response:
        job = load(job_id, who)
        path = job_dir(settings, job_id) / PLAYLIST
        text = path.read_text(encoding="utf-8") if path.is_file() else None
        if text is None:
            if job.terminal:
                raise HTTPException(404, "this video has no stream")
            text = playlist_text([], 10.0, ended=False)
        return Response(
            text, media_type="application/vnd.apple.mpegurl", headers={"Cache-Control": "no-cache"}
        )

    @app.get("/v1/videos/{job_id}/hls/{name}", tags=["files"])
    def hls_segment(job_id: JobId, name: str, who: Who) -> FileResponse:
        load(job_id, who)
        if not SEGMENT_NAME.match(name):
            raise HTTPException(404, "no such segment")
        return FileResponse(artifact(job_id, "hls", name), media_type="video/mp2t")

    @app.get("/v1/videos/{job_id}/video.mp4", tags=["files"])
    def video(job_id: JobId, who: Who, download: bool = False) -> FileResponse:
        """The finished MP4 (Range requests: 206 partial content). ``?download=1`` names the file."""
        job = load(job_id, who)
        path = artifact(job_id, "video.mp4")
        name = f"{slug(str(job.request.get('prompt', 'video')))}.mp4" if download else None
        return FileResponse(path, media_type="video/mp4", filename=name)

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
            for field in ("narration", "visual"):
                value = getattr(e, field)
                if value is not None:
                    data["scenes"][e.index][field] = value
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
            return JSONResponse(view(job).model_dump(mode="json"), status_code=200)
        updated = jobs.requeue_edited(job_id, new)
        if updated is None:
            raise HTTPException(409, "the video is being made again already")
        try:
            runner.submit(updated)
        except Exception as exc:  # it stays queued; the executor sends queued jobs again when it starts
            log.error("cannot queue job %s: %s", job_id, exc)
            raise HTTPException(
                503, "the edit is saved, but the job queue cannot be reached right now"
            ) from None
        return view(updated)

    @app.get("/v1/videos/{job_id}/subtitles.vtt", tags=["files"])
    def subtitles_vtt(job_id: JobId, who: Who) -> FileResponse:
        load(job_id, who)
        return FileResponse(artifact(job_id, "video.vtt"), media_type="text/vtt; charset=utf-8")

    @app.get("/v1/videos/{job_id}/subtitles.srt", tags=["files"])
    def subtitles_srt(job_id: JobId, who: Who) -> FileResponse:
        load(job_id, who)
        return FileResponse(artifact(job_id, "video.srt"), media_type="application/x-subrip; charset=utf-8")

    @app.get("/v1/videos/{job_id}/poster.png", tags=["files"])
    def poster(job_id: JobId, who: Who) -> FileResponse:
        load(job_id, who)
        return FileResponse(artifact(job_id, "video.poster.png"), media_type="image/png")

    @app.get("/v1/videos/{job_id}/scenes/{index}/thumbnail.jpg", tags=["files"])
    def thumbnail(
        job_id: JobId, index: Annotated[int, PathParam(ge=0, lt=MAX_SCENES)], who: Who
    ) -> FileResponse:
        load(job_id, who)
        return FileResponse(artifact(job_id, "thumbs", f"{index}.jpg"), media_type="image/jpeg",
                            headers={"Cache-Control": "no-cache"})  # fmt: skip

    # -- web UI ---------------------------------------------------------------------------------

    web = web_dir()

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(web / "index.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})  # fmt: skip

    app.mount("/static", StaticFiles(directory=web), name="static")
    return app
