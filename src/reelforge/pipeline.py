"""The pipeline: ``Request -> Storyboard -> scene assets -> Timeline -> render``.

Every stage goes through the content-addressed cache, so re-running a command reuses all work, and
editing one scene redoes only that scene's speech, still and segment. Per-scene work runs in parallel.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .cache import Cache, cache_key
from .compose.subtitles import to_srt, to_vtt
from .compose.timeline import LEAD, TAIL, build_timeline, overscan_size
from .config import Settings
from .errors import Cancelled, NarrationError, OutputError
from .models import (
    ImageRequest,
    MusicRequest,
    MusicTrack,
    ProgressEvent,
    Request,
    Scene,
    SceneAssets,
    SceneNarration,
    SceneVisual,
    SpokenSentence,
    Storyboard,
    Timeline,
)
from .narration.base import sentence_pause
from .registry import Registry, default_registry
from .script.base import ScriptHead, StoryPart, assemble, parts_of
from .script.plan import CALIBRATION_TEXT, speaking_rate
from .streaming import SceneRunner, SceneStream
from .text import split_sentences, word_count

log = logging.getLogger("reelforge.pipeline")

Progress = Callable[[ProgressEvent], None]
TTS_ATTEMPTS = 3


def speak(narrator: Any, text: str, out: Path) -> SpokenSentence:
    """One TTS call; a crashed engine is retried, then reported as a ``NarrationError``."""
    for attempt in range(1, TTS_ATTEMPTS + 1):
        try:
            spoken: SpokenSentence = narrator.execute(text, out)
            return spoken
        except Exception as exc:
            if attempt == TTS_ATTEMPTS:
                if isinstance(exc, NarrationError):
                    raise
                raise NarrationError(f"speech synthesis failed for {text[:60]!r}: {exc}") from None
            log.warning("TTS failed (attempt %d of %d): %s; retrying", attempt, TTS_ATTEMPTS, exc)
    raise AssertionError("unreachable")


@dataclass
class RunResult:
    video: Path
    storyboard: Storyboard
    timeline: Timeline
    sidecars: dict[str, Path]
    duration: float
    size: int
    elapsed: float
    stages: dict[str, float] = field(default_factory=dict)
    cache: dict[str, dict[str, int]] = field(default_factory=dict)


def check_output(path: Path) -> Path:
    """Fail early (before any work) when the output can't be written."""
    path = Path(path).expanduser()
    if path.suffix.lower() != ".mp4":
        raise OutputError(f"output '{path}' must end in .mp4", hint="e.g. -o bees.mp4")
    if path.is_dir():
        raise OutputError(f"output '{path}' is a directory", hint="give a file name such as out/video.mp4")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".reelforge-write-test-", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(
            f"cannot write to '{path.parent}': {exc.strerror}", hint="choose another -o path"
        ) from None
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"'{path}' exists and is not writable", hint="choose another -o path")
    return path.resolve()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def sidecar_paths(video: Path) -> dict[str, Path]:
    stem = video.with_suffix("")
    return {
        "storyboard": Path(f"{stem}.storyboard.json"),
        "config": Path(f"{stem}.config.json"),
        "srt": Path(f"{stem}.srt"),
        "vtt": Path(f"{stem}.vtt"),
        "poster": Path(f"{stem}.poster.png"),
        "credits": Path(f"{stem}.credits.txt"),
    }


class _NotCached(Exception):
    """Raised out of a cache build to hand back a result that must not be stored under that key."""

    def __init__(self, storyboard: Storyboard) -> None:
        super().__init__("not cached")
        self.storyboard = storyboard


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        *,
        registry: Registry | None = None,
        cache: Cache | None = None,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry or default_registry()
        if cache is None:
            from .storage import remote_for

            remote = remote_for(settings)  # a service on several machines shares the cache through S3
            cache = Cache(settings.cache_dir, enabled=settings.cache, remote=remote,
                          max_bytes=settings.service.local_cache_max_bytes if remote is not None else None)  # fmt: skip
        self.cache = cache
        self.progress = progress or (lambda e: None)
        self.cancel = cancel or threading.Event()
        self._abort = threading.Event()
        self.timings: dict[str, float] = {}
        self._writer: Any = None  # the script writer of the last write_storyboard (for revisions)
        self._footage: Any = None  # the online footage source (``stock``, ``auto``), once looked up
        self._footage_checked = False

    # -- backends -------------------------------------------------------------------------------

    def backend(self, stage: str, name: str, **extra: Any) -> Any:
        opts = self.settings.options_for(name)
        opts.update({k: v for k, v in extra.items() if v is not None})
        return self.registry.create(stage, name, opts)

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("cancelled")
        if self._abort.is_set():  # a sibling task failed: stop early, that failure is what gets reported
            raise Cancelled("stopped because another part of the job failed")

    def _timed(self, stage: str, start: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start

    # -- script writer --------------------------------------------------------------------------

    def voice_rate(self, voice: str | None = None) -> float:
        """The narrator's speaking rate (words/s): a fixed paragraph spoken once per voice, cached."""
        narrator = self.backend("narration", self.settings.tts, voice=voice)
        pause = sentence_pause(narrator)
        key = cache_key("voice-rate", narrator.identity(), CALIBRATION_TEXT, pause)

        def build(d: Path) -> None:
            sentences = split_sentences(CALIBRATION_TEXT)
            spoken = [speak(narrator, s, d / f"{k}.wav").duration for k, s in enumerate(sentences)]
            seconds = sum(spoken) + pause * (len(spoken) - 1)
            rate = speaking_rate(word_count(CALIBRATION_TEXT), seconds)
            for wav in d.glob("*.wav"):
                wav.unlink()
            (d / "rate.json").write_text(json.dumps({"words_per_second": rate, "seconds": seconds}))

        entry, _ = self.cache.get_or_build("voice-rate", key, build)
        return float(json.loads((entry / "rate.json").read_text(encoding="utf-8"))["words_per_second"])

    def script_writer(self, request: Request) -> Any:
        """The configured writer, given the ``llm_*`` settings and the voice's measured speaking rate
        for the options it declares (explicit ``[options.<writer>]`` values for the rate win)."""
        st = self.settings
        fields = getattr(self.registry.get("script", st.writer).Options, "model_fields", {})
        extra: dict[str, Any] = {"base_url": st.llm_base_url, "api_key": st.llm_api_key,
                                 "model": st.llm_model, "timeout": st.llm_timeout}  # fmt: skip
        extra.update(
            {n: st.options_for(n) or None for n in ("openai", "local", "template") if n != st.writer}
        )
        if "words_per_second" in fields and "words_per_second" not in st.options_for(st.writer):
            try:
                extra["words_per_second"] = self.voice_rate(request.voice)
            except Exception as exc:  # the narration stage will report a broken voice itself
                log.warning("could not measure the voice's speaking rate (%s); using the default", exc)
        return self.backend("script", st.writer, **{k: v for k, v in extra.items() if k in fields})

    def revision_words(self, asset: SceneAssets) -> int | None:
        """How many words the writer is asked to say a scene in when its speech overruns its slot (it is
        then rewritten shorter: ``shorten_overruns``), or None when it fits or can't be rewritten."""
        if getattr(self._writer, "revise", None) is None:
            return None
        spoken, words = asset.narration.duration, word_count(asset.scene.narration)
        slack = asset.scene.duration - LEAD - TAIL
        if spoken <= slack or slack <= 0:
            return None
        max_words = min(words - 1, math.floor(words * slack / spoken * 0.95))
        return max_words if max_words >= 3 else None

    def shorten_overruns(
        self, request: Request, storyboard: Storyboard, assets: list[SceneAssets]
    ) -> tuple[Storyboard, list[SceneAssets]]:
        """A scene whose speech overruns its slack is rewritten shorter by the writer (``revise``), and
        only that scene is narrated again; what still overruns is then fitted by dropping sentences."""
        revise = getattr(self._writer, "revise", None)
        if revise is None:
            return storyboard, assets
        out = list(assets)
        narrator: Any = None
        for i, a in enumerate(assets):
            max_words = self.revision_words(a)
            if max_words is None:
                continue
            spoken = a.narration.duration
            slack = a.scene.duration - LEAD - TAIL
            t0 = time.perf_counter()
            key = cache_key("script-revise", self._writer.identity(), a.scene, max_words,
                            request.model_dump(include={"prompt", "duration", "style", "seed"}))  # fmt: skip

            def build(d: Path, scene: Scene = a.scene, n: int = max_words) -> None:
                (d / "scene.json").write_text(revise(scene, n, request).model_dump_json(), encoding="utf-8")

            entry, _ = self.cache.get_or_build("script-revise", key, build)
            scene = Scene.model_validate_json((entry / "scene.json").read_text(encoding="utf-8"))
            self._timed("script", t0)
            if scene.narration == a.scene.narration:
                continue
            log.info(
                "scene %d: speech ran %.1f s over; rewritten in %d words", i + 1, spoken - slack, max_words
            )
            storyboard = storyboard.with_scene(scene)
            if narrator is None:
                narrator = self.backend("narration", self.settings.tts, voice=request.voice)
            narration = self._narrate_scene(narrator, narrator.identity(), storyboard, i)
            out[i] = SceneAssets(scene=scene, narration=narration, visual=a.visual)
        return storyboard, out

    # -- stages ---------------------------------------------------------------------------------

    def write_storyboard(self, request: Request) -> Storyboard:
        t0 = time.perf_counter()
        writer = self._writer = self.script_writer(request)
        self.progress(ProgressEvent(stage="script", done=0, total=1))
        key = cache_key(
            "script", writer.identity(), request.model_dump(include={"prompt", "duration", "style", "seed"})
        )

        def build(d: Path) -> None:
            sb = writer.execute(request)
            if getattr(writer, "fell_back", False):  # a stand-in (the endpoint failed): not under its key
                raise _NotCached(sb)
            (d / "storyboard.json").write_text(sb.model_dump_json(indent=2), encoding="utf-8")

        try:
            entry, hit = self.cache.get_or_build("script", key, build)
            sb = Storyboard.model_validate_json((entry / "storyboard.json").read_text(encoding="utf-8"))
        except _NotCached as stand_in:
            sb, hit = stand_in.storyboard, False
        self._timed("script", t0)
        sb = self.plan_visuals(sb)  # the pictures' plans are part of the storyboard (saved, editable)
        self.progress(ProgressEvent(stage="script", done=1, total=1, cached=hit))
        return sb

    def script_parts(self, request: Request) -> Iterator[StoryPart]:
        """The storyboard as the writer writes it: the head, then each scene as soon as it exists (writers
        that write in one call give it all at once). A finished script is cached whole, like
        ``write_storyboard``'s, and a cached one is streamed from the cache."""
        writer = self._writer = self.script_writer(request)
        key = cache_key(
            "script", writer.identity(), request.model_dump(include={"prompt", "duration", "style", "seed"})
        )
        found = self.cache.lookup("script", key) if self.cache.enabled else None
        if found is not None:
            self.cache.hits["script"] += 1
            sb = Storyboard.model_validate_json((found / "storyboard.json").read_text(encoding="utf-8"))
            self.progress(ProgressEvent(stage="script", done=0, total=len(sb.scenes), cached=True))
            yield from parts_of(sb)
            return
        self.progress(ProgressEvent(stage="script", done=0, total=1))
        stream = getattr(writer, "stream", None)
        parts: Iterator[StoryPart] = (
            stream(request) if stream is not None else parts_of(writer.execute(request))
        )
        written: list[StoryPart] = []
        for part in parts:
            written.append(part)
            if isinstance(part, ScriptHead):
                self.progress(ProgressEvent(stage="script", done=0, total=len(part.durations)))
            yield part
        sb = assemble(request, written)
        if getattr(writer, "fell_back", False):  # a stand-in (the endpoint failed): not under its key
            return

        def build(d: Path) -> None:
            (d / "storyboard.json").write_text(sb.model_dump_json(indent=2), encoding="utf-8")

        self.cache.get_or_build("script", key, build)

    def _speak(self, narrator: Any, ident: dict[str, Any], text: str) -> SpokenSentence:
        self._check_cancel()
        key = cache_key("narration", ident, text)

        def build(d: Path) -> None:
            s = speak(narrator, text, d / "audio.wav")
            (d / "meta.json").write_text(s.model_dump_json(exclude={"path"}), encoding="utf-8")

        entry, _ = self.cache.get_or_build("narration", key, build)
        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        return SpokenSentence(path=entry / "audio.wav", **meta)

    def _narrate_scene(
        self, narrator: Any, ident: dict[str, Any], storyboard: Storyboard, i: int
    ) -> SceneNarration:
        t0 = time.perf_counter()
        sentences = tuple(self._speak(narrator, ident, s) for s in storyboard.scenes[i].sentences)
        self._timed("narration", t0)
        return SceneNarration(index=i, sentences=sentences, pause=sentence_pause(narrator))

    @staticmethod
    def _visual_key(images: Any, ident: dict[str, Any], req: ImageRequest) -> str:
        # a still depends on what the scene shows, not on for how long; on what is said only as far as the
        # backend says (``narration_key``): the saved storyboard's narration may lose trailing sentences to
        # duration fitting, and a re-render must still find the picture it drew from the written text
        body = req.model_dump(mode="json", exclude={"scene": {"narration", "duration"}})
        narration_key = getattr(images, "narration_key", None)
        if narration_key is not None:
            body["scene"]["narration"] = narration_key(req.scene.narration)
        return cache_key("visuals", ident, body)

    def _draw_scene(
        self, images: Any, ident: dict[str, Any], req: ImageRequest, prebuilt: SceneVisual | None = None
    ) -> SceneVisual:
        self._check_cancel()
        t0 = time.perf_counter()
        key = self._visual_key(images, ident, req)

        def build(d: Path) -> None:
            if prebuilt is not None:  # drawn by execute_batch: move it into the entry
                shutil.move(prebuilt.path, d / "image.png")
                v = prebuilt
            else:
                v = images.execute(req, d / "image.png")
            (d / "meta.json").write_text(v.model_dump_json(exclude={"path"}), encoding="utf-8")

        entry, _ = self.cache.get_or_build("visuals", key, build)
        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        self._timed("visuals", t0)
        return SceneVisual(path=entry / "image.png", **meta)

    def _draw_batch(
        self, images: Any, ident: dict[str, Any], reqs: list[ImageRequest], report: Callable[[int], None]
    ) -> list[SceneVisual]:
        """Backends with ``execute_batch(requests, out_paths)`` (e.g. diffusion) draw every cache miss in
        one call; each still is still cached per scene."""
        t0 = time.perf_counter()
        missing = [
            i for i, r in enumerate(reqs)
            if not (self.cache.enabled and self.cache.lookup("visuals", self._visual_key(images, ident, r)))
        ]  # fmt: skip
        tmp = Path(tempfile.mkdtemp(prefix="reelforge-visuals-"))
        try:
            drawn: dict[int, SceneVisual] = {}
            if missing:
                self._check_cancel()
                outs = [tmp / f"scene{i}.png" for i in missing]
                drawn = dict(
                    zip(missing, images.execute_batch([reqs[i] for i in missing], outs), strict=True)
                )
            self._timed("visuals", t0)
            visuals = []
            for i, r in enumerate(reqs):
                visuals.append(self._draw_scene(images, ident, r, prebuilt=drawn.get(i)))
                report(i)
            return visuals
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _music(self, request: Request, duration: float) -> MusicTrack | None:
        if self.settings.no_music:
            return None
        t0 = time.perf_counter()
        gen = self.backend("music", self.settings.music)
        req = MusicRequest(style=request.style, duration=duration, seed=request.seed)
        key = cache_key("music", gen.identity(), req)

        def build(d: Path) -> None:
            m = gen.execute(req, d / "music.wav")
            (d / "meta.json").write_text(m.model_dump_json(exclude={"path"}), encoding="utf-8")

        entry, _ = self.cache.get_or_build("music", key, build)
        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        self._timed("music", t0)
        return MusicTrack(path=entry / "music.wav", **meta)

    def footage(self) -> Any:
        """The online footage source when ``images`` names one (``stock``; ``auto``), else None: it finds a
        clip per scene (``find_clips``), and its ``stills`` backend draws the pictures."""
        if not self._footage_checked:
            make = getattr(self.registry.get("visuals", self.settings.images), "from_settings", None)
            self._footage = make(self.settings) if make is not None else None
            self._footage_checked = True
        return self._footage

    def images(self) -> Any:
        """The visuals backend that draws the stills: the configured one, or the ``stills`` of an online
        footage source (given the cache's folder for its embeddings, if it wants one)."""
        footage = self.footage()
        name = footage.stills if footage is not None else self.settings.images
        images_cls = self.registry.get("visuals", name)
        wants_dir = "cache_dir" in getattr(images_cls.Options, "model_fields", {})  # e.g. icon embeddings
        wants_dir = wants_dir and "cache_dir" not in self.settings.options_for(name)
        return self.backend("visuals", name,
                            cache_dir=str(self.settings.cache_dir / "embeddings") if wants_dir else None)  # fmt: skip

    def plan_visuals(self, storyboard: Storyboard, images: Any = None) -> Storyboard:
        """The storyboard with a visual plan for every scene, when the visuals backend makes plans: scenes
        without one are planned from what they say, given plans are checked and repaired."""
        plan = getattr(images or self.images(), "plan_storyboard", None)
        if plan is None:
            return storyboard
        t0 = time.perf_counter()
        planned: Storyboard = plan(storyboard)
        self._timed("plan", t0)
        return planned

    def _title_request(self, images: Any, request: Request, storyboard: Storyboard) -> ImageRequest | None:
        """What the visuals backend draws for the title card, when it draws one (``title_plan``)."""
        title_plan = getattr(images, "title_plan", None)
        if title_plan is None or storyboard.title_duration <= 0:
            return None
        plan = title_plan(storyboard)
        if plan is None:
            return None
        scene = Scene(index=0, role="title", narration=storyboard.title, visual=storyboard.title,
                      duration=storyboard.title_duration, plan=plan)  # fmt: skip
        w, h = overscan_size(*request.size)
        return ImageRequest(scene=scene, title=storyboard.title, style=request.style, width=w, height=h,
                            seed=request.seed, frame_width=request.size[0], frame_height=request.size[1])  # fmt: skip

    def assets(
        self, request: Request, storyboard: Storyboard
    ) -> tuple[list[SceneAssets], MusicTrack | None, SceneVisual | None]:
        """Speech, stills and music, in parallel across scenes (and the title card's picture, when the
        visuals backend draws one)."""
        narrator = self.backend("narration", self.settings.tts, voice=request.voice)
        images = self.images()
        n_ident, i_ident = narrator.identity(), images.identity()
        w, h = overscan_size(*request.size)
        n = len(storyboard.scenes)
        done = {"narration": 0, "visuals": 0}
        lock = threading.Lock()

        def reporter(stage: str, i: int) -> Callable[[Future[Any]], None]:
            def report(fut: Future[Any]) -> None:
                if fut.exception() is None:
                    with lock:
                        done[stage] += 1
                        self.progress(ProgressEvent(stage=stage, done=done[stage], total=n, scene=i))

            return report

        self.progress(ProgressEvent(stage="narration", done=0, total=n))
        self.progress(ProgressEvent(stage="visuals", done=0, total=n))
        with ThreadPoolExecutor(max_workers=self.settings.workers + 1) as pool:
            music_f = pool.submit(self._music, request, storyboard.duration)
            narr_fs, vis_fs, reqs = [], [], []
            batch = hasattr(images, "execute_batch")
            for i, scene in enumerate(storyboard.scenes):
                f = pool.submit(self._narrate_scene, narrator, n_ident, storyboard, i)
                f.add_done_callback(reporter("narration", i))
                narr_fs.append(f)
                req = ImageRequest(scene=scene, title=storyboard.title, style=request.style, width=w, height=h,
                                   seed=request.seed, frame_width=request.size[0],
                                   frame_height=request.size[1])  # fmt: skip
                reqs.append(req)
                if not batch:
                    g = pool.submit(self._draw_scene, images, i_ident, req)
                    g.add_done_callback(reporter("visuals", i))
                    vis_fs.append(g)

            def report_visual(i: int) -> None:
                with lock:
                    done["visuals"] += 1
                    self.progress(ProgressEvent(stage="visuals", done=done["visuals"], total=n, scene=i))

            batch_f = pool.submit(self._draw_batch, images, i_ident, reqs, report_visual) if batch else None
            title_req = self._title_request(images, request, storyboard)
            title_f = pool.submit(self._draw_scene, images, i_ident, title_req) if title_req else None
            try:
                narrations = [f.result() for f in narr_fs]
                visuals = batch_f.result() if batch_f is not None else [g.result() for g in vis_fs]
                music = music_f.result()
                title_visual = title_f.result() if title_f is not None else None
            except BaseException:
                self._abort.set()  # stop sibling work early (not a user cancel: the job failed)
                raise
        assets = [
            SceneAssets(scene=s, narration=narrations[i], visual=visuals[i])
            for i, s in enumerate(storyboard.scenes)
        ]
        return assets, music, title_visual

    # -- the whole thing ------------------------------------------------------------------------

    def composer(self) -> Any:
        st = self.settings
        return self.backend("compose", st.composer, ffmpeg=st.ffmpeg,
                            font_file=str(st.font_file) if st.font_file else None, preset=st.x264_preset,
                            crf=st.crf, workers=st.jobs or None)  # fmt: skip

    def prepare_scene(self, request: Request, head: ScriptHead, scene: Scene) -> bool:
        """One streamed scene's speech, picture and segment into the cache (a cluster worker's share of a
        job; see ``SceneStream.prepare_scene``). Returns whether its segment was cached already."""
        work = Path(tempfile.mkdtemp(prefix="reelforge-scene-"))
        try:
            return SceneStream(self, request, composer=self.composer(), work=work).prepare_scene(head, scene)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def make(
        self,
        request: Request,
        out_path: Path,
        *,
        storyboard: Storyboard | None = None,
        keep_work: bool = False,
        release_models: bool = False,
        on_storyboard: Callable[[Storyboard], None] | None = None,
        preview_sound: bool = False,
        scene_runner: SceneRunner | None = None,
    ) -> RunResult:
        """Make the video: scenes flow from the writer through speech, pictures and a preview render as each
        is written (:mod:`reelforge.streaming`); then the final timeline, its audio mix and the MP4.
        ``on_storyboard`` is told a storyboard it writes as soon as it is written (and again if scenes are
        then rewritten shorter), so a job that is run again need not write it again; ``preview_sound``: each
        segment's ``preview`` event comes with a provisional mix (progressive playback); ``scene_runner``:
        has other machines do each scene's work first (a cluster's fan-out). ``release_models``: a
        one-shot run lets the loaded voice and embedder go once the scene assets exist, so the render's
        ffmpeg processes have the memory (a service keeps them)."""
        t_start = time.perf_counter()
        out_path = check_output(out_path)
        composer = self.composer()  # finds ffmpeg and the font before any work
        footage = self.footage()  # an online footage source without a key fails here, before any work
        written = storyboard is None
        if storyboard is not None and abs(storyboard.duration - request.duration) > 1e-6:
            request = request.model_copy(update={"duration": storyboard.duration})
        if keep_work:
            work = out_path.with_suffix(".work")
            work.mkdir(exist_ok=True)
        else:
            work = Path(tempfile.mkdtemp(prefix="reelforge-"))
        try:
            return self._make(request, out_path, composer, footage, storyboard, written, work, keep_work,
                              release_models, on_storyboard, preview_sound, scene_runner, t_start)  # fmt: skip
        finally:
            if not keep_work:
                shutil.rmtree(work, ignore_errors=True)

    def _make(
        self,
        request: Request,
        out_path: Path,
        composer: Any,
        footage: Any,
        storyboard: Storyboard | None,
        written: bool,
        work: Path,
        keep_work: bool,
        release_models: bool,
        on_storyboard: Callable[[Storyboard], None] | None,
        preview_sound: bool,
        scene_runner: SceneRunner | None,
        t_start: float,
    ) -> RunResult:
        st = self.settings
        clips: list[Any] = []
        if footage is not None or st.library:
            # clips are chosen for the whole storyboard at once (no clip twice): the script comes first
            if storyboard is None:
                storyboard = self.write_storyboard(request)
            else:
                storyboard = self.plan_visuals(storyboard)
            self._check_cancel()
            t0 = time.perf_counter()
            if (
                footage is not None
            ):  # stock footage per scene, before the heavy work: a refused key stops early
                clips = footage.find_clips(request, storyboard, cache=self.cache, library_dir=st.library_dir,
                                           progress=self.progress)  # fmt: skip
            if (
                st.library
            ):  # per-scene clips from a library (each scene's own query; cached by library version)
                from .library.retrieve import scene_clips
                from .library.stock import merge_clips

                clips = merge_clips(clips, scene_clips(st, self.cache, storyboard, self.progress))
            self._timed("clips", t0)
            self._check_cancel()
        parts = self.script_parts(request) if storyboard is None else parts_of(storyboard)
        stream = SceneStream(self, request, composer=composer, work=work, clips=clips, sound=preview_sound,
                             remote=scene_runner, revisable=written)  # fmt: skip
        streamed = stream.run(parts, on_script=on_storyboard if written else None)
        storyboard, assets, music = streamed.storyboard, streamed.assets, streamed.music
        title_visual = streamed.title_visual
        if written:  # a storyboard the user gave is rendered as written
            shortened, assets = self.shorten_overruns(request, storyboard, assets)
            if shortened != storyboard and on_storyboard is not None:
                on_storyboard(shortened)
            storyboard = shortened
        self._check_cancel()

        if release_models:
            from .resources import release_models as release

            release()
        credits = sorted({c for a in assets for c in a.visual.credits} | set(music.credits if music else ())
                         | {c.credit for c in clips if c is not None and c.credit})  # fmt: skip
        timeline, fitted = build_timeline(
            request, storyboard, assets, music,
            music_gain_db=self.settings.music_volume_db, duck_db=self.settings.duck_db,
            loudness=self.settings.loudness, true_peak=self.settings.true_peak, credits=credits,
            scene_clips=clips, clip_layout=st.clip_layout, title_visual=title_visual,
            transition=st.transition,
        )  # fmt: skip

        t0 = time.perf_counter()
        metadata = {"title": fitted.title, "comment": f"Made with reelforge {__version__}"}
        if credits:
            metadata["copyright"] = "; ".join(credits)
        composer.execute(timeline, out_path, work, self.progress, cache=self.cache, cancel=self.cancel,
                         metadata=metadata)  # fmt: skip
        self._timed("render", t0)
        side = sidecar_paths(out_path)
        poster_at = timeline.segments[0].frames / timeline.fps / 2
        composer.poster(out_path, poster_at, side["poster"])
        _write_atomic(side["storyboard"], fitted.model_dump_json(indent=2))
        _write_atomic(side["srt"], to_srt(timeline.cues))
        _write_atomic(side["vtt"], to_vtt(timeline.cues))
        config = {
            "reelforge": __version__,
            "request": request.model_dump(mode="json"),
            "settings": self.settings.public_dump(),
            "backends": {
                "script": fitted.writer,
                "narration": self.settings.tts,
                "visuals": self.settings.images,
                **({"stills": footage.stills} if footage is not None else {}),
                "music": None if self.settings.no_music else self.settings.music,
                "compose": composer.identity(),
            },
        }
        _write_atomic(side["config"], json.dumps(config, indent=2, ensure_ascii=False))
        if credits:
            _write_atomic(side["credits"], "\n".join(credits) + "\n")
        else:
            side.pop("credits").unlink(missing_ok=True)
        if keep_work:
            (work / "timeline.json").write_text(timeline.model_dump_json(indent=2, by_alias=True))
        return RunResult(
            video=out_path,
            storyboard=fitted,
            timeline=timeline,
            sidecars=side,
            duration=timeline.duration,
            size=out_path.stat().st_size,
            elapsed=time.perf_counter() - t_start,
            stages=dict(self.timings),
            cache=self.cache.stats(),
        )
