"""Scenes as a stream: each scene is spoken, drawn and rendered as soon as its text exists.

The script writer streams its storyboard (:mod:`reelforge.script.base`): first the head (the title and every
scene's planned length, which are cheap), then each scene as it is written. While the writer writes scene
*k + 1*, scene *k* is planned (its picture's layout), spoken and drawn, and its segment is rendered from a
*provisional* timeline: the real assets of the scenes that exist, placeholders (planned lengths, nothing
said) for the rest. Every scene keeps its planned slot, so the segment rendered now is, pixel for pixel and
cache key for cache key, the one the final timeline asks for; the final render then finds it in the cache.
(A scene whose first sentence alone overruns its slot borrows time from others in the final fit; only then
does the final render redo segments.)

Each rendered segment is announced as a ``preview`` progress event with its provisional sound: the
segment's window of a mix of what is known so far (the music is made first; it is quick). Progressive
playback (HLS) plays those while later scenes are still being written. The final MP4's sound is the whole
video's mix, measured and levelled as before.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .compose.audio import preview_mix
from .compose.timeline import build_timeline, overscan_size
from .errors import ScriptError
from .models import (
    ImageRequest,
    MusicTrack,
    ProgressEvent,
    Request,
    Scene,
    SceneAssets,
    SceneClip,
    SceneNarration,
    SceneVisual,
    Storyboard,
    Timeline,
)
from .script.base import ScriptHead, StoryPart

if TYPE_CHECKING:
    from .pipeline import Pipeline

log = logging.getLogger("reelforge.pipeline")

#: what a scene not written yet says, in a provisional storyboard
PLACEHOLDER = "(not written yet)"


class SceneRunner(Protocol):
    """Has a scene's work done elsewhere (another machine of a cluster) and returns when it is in the shared
    cache, or when it gave up (then this process does the work itself). Raises ``Cancelled`` on ``cancel``."""

    def __call__(self, head: ScriptHead, scene: Scene, cancel: threading.Event) -> None: ...


@dataclass
class StreamResult:
    storyboard: Storyboard
    assets: list[SceneAssets]
    music: MusicTrack | None
    title_visual: SceneVisual | None
    #: when each segment's preview was ready, seconds after the stream started (segment index -> s)
    previews: dict[int, float]


class SceneStream:
    """Runs one video's scenes through narration, visuals and a preview render as they are written.

    ``composer`` previews segments when it has ``render_preview`` (the ffmpeg composer); without it the
    scenes still flow (speech and pictures while the writer writes) and the segments are rendered by the
    final pass only. ``sound``: each preview comes with its provisional mix (for progressive playback; a
    one-shot ``make`` has no one to play it to). ``remote``: has another machine do each scene's work first
    (see :class:`SceneRunner`); this process then finds it in the shared cache."""

    def __init__(
        self,
        pipe: Pipeline,
        request: Request,
        *,
        composer: Any,
        work: Path,
        clips: list[SceneClip | None] | None = None,
        sound: bool = False,
        remote: SceneRunner | None = None,
        revisable: bool = False,
    ) -> None:
        self.pipe = pipe
        self.request = request
        self.composer = composer
        self.work = work
        self.clips = list(clips or [])
        self.preview = hasattr(composer, "render_preview")
        self.sound = sound
        self.remote = remote
        self.revisable = (
            revisable  # the writer will rewrite overrunning scenes (``Pipeline.shorten_overruns``)
        )
        st = pipe.settings
        self.narrator = pipe.backend("narration", st.tts, voice=request.voice)
        self.images = pipe.images()
        self.n_ident = self.narrator.identity()
        self.i_ident = self.images.identity()
        self.lock = threading.Lock()
        self.t0 = time.perf_counter()
        self.previews: dict[int, float] = {}
        self.counts = {"narration": 0, "visuals": 0, "preview": 0}
        # set as they exist
        self.head: ScriptHead | None = None
        self.skeleton: list[Scene] = []
        self.scenes: dict[int, Scene] = {}
        self.assets: dict[int, SceneAssets] = {}
        self.title_visual: SceneVisual | None = None
        self.music: MusicTrack | None = None
        #: segment j's inputs are final (j = 0 is the title card when there is one)
        self.ready: list[threading.Event] = []
        self._title_inputs: set[str] = set()
        #: segments not previewed (their scene will be rewritten shorter; nobody watches the previews)
        self.deferred: set[int] = set()
        self._title_started = False

    # -- helpers ----------------------------------------------------------------------------------

    def _emit(self, stage: str, scene: int | None, **extra: Any) -> None:
        total = len(self.ready) if stage == "preview" else len(self.skeleton)
        with self.lock:  # counted and told in one step: a listener never sees 3 of 6 after 4 of 6
            self.counts[stage] += 1
            self.pipe.progress(ProgressEvent(stage=stage, done=self.counts[stage], total=total, scene=scene,
                                             **extra))  # fmt: skip

    @property
    def has_title(self) -> bool:
        return self.head is not None and self.head.title_duration > 0

    def segment_of(self, k: int) -> int:
        """The timeline segment of scene ``k`` (the title card is segment 0 when there is one)."""
        return k + 1 if self.has_title else k

    def _storyboard(self, scenes: list[Scene]) -> Storyboard:
        assert self.head is not None
        r = self.request
        return Storyboard(title=self.head.title, prompt=r.prompt, duration=r.duration,
                          title_duration=self.head.title_duration, scenes=tuple(scenes),
                          writer=self.head.writer)  # fmt: skip

    def _image_request(self, scene: Scene) -> ImageRequest:
        r = self.request
        w, h = overscan_size(*r.size)
        assert self.head is not None
        return ImageRequest(scene=scene, title=self.head.title, style=r.style, width=w, height=h, seed=r.seed,
                            frame_width=r.size[0], frame_height=r.size[1])  # fmt: skip

    def provisional(self, upto: int) -> Timeline:
        """The timeline as segment ``upto`` sees it: the real assets of its scene and the ones before,
        placeholders after (whether or not they exist yet: the same segment is the same every run)."""
        with self.lock:
            own_card = self.title_visual is not None and bool(self.title_visual.layers)
            last = upto - 1 if self.has_title else upto  # the last scene whose assets count
            if upto == 0 and self.has_title and not own_card:
                last = 0  # the title is written over scene 1's picture
            assets = {i: a for i, a in self.assets.items() if i <= last}
            title_visual, music = self.title_visual, self.music
        if title_visual is not None:
            stand_in = title_visual
        elif assets:
            stand_in = next(iter(assets.values())).visual
        else:
            raise AssertionError("a provisional timeline needs one picture")
        filled: list[SceneAssets] = []
        for i, scene in enumerate(self.skeleton):
            a = assets.get(i)
            if a is None:
                visual = stand_in.model_copy(update={"index": i, "layers": (), "credits": ()})
                a = SceneAssets(scene=scene, narration=SceneNarration(index=i, sentences=()), visual=visual)
            filled.append(a)
        st = self.pipe.settings
        timeline, _ = build_timeline(
            self.request, self._storyboard([a.scene for a in filled]), filled, music,
            music_gain_db=st.music_volume_db, duck_db=st.duck_db, loudness=st.loudness, true_peak=st.true_peak,
            scene_clips=self.clips, clip_layout=st.clip_layout, title_visual=title_visual,
            transition=st.transition, borrow=False,
        )  # fmt: skip
        return timeline

    # -- per-segment work ---------------------------------------------------------------------------

    def _preview(self, j: int, scene: int | None, music_f: Future[MusicTrack | None]) -> None:
        """Render segment ``j`` as it will play, once the segment before it is final (its transition needs
        that one's tail: rendered here if its own task has not got to it), with its sound."""
        if j > 0:
            while not self.ready[j - 1].wait(0.2):
                self.pipe._check_cancel()
        music = music_f.result()
        with self.lock:
            self.music = music
        self.pipe._check_cancel()
        tl = self.provisional(j)
        seg = tl.segments[j]
        t0 = time.perf_counter()
        with self.lock:
            after_deferred = j - 1 in self.deferred
        if after_deferred:  # the scene before is rendered in its final form later: so is the transition
            self.composer.prepare_segment(tl, j, self.work, self.pipe.cache, self.pipe.cancel)
            return
        path, hit = self.composer.render_preview(tl, j, self.work, self.pipe.cache, self.pipe.cancel)
        sound: Path | None = None
        if self.sound:
            folder = self.work / "preview"
            scratch = folder / f"mix-{j}"
            scratch.mkdir(parents=True, exist_ok=True)
            sound = folder / f"segment-{j}.wav"
            preview_mix(self.composer.ffmpeg, tl.audio, seg.start_frame / tl.fps, seg.frames / tl.fps, scratch,
                        sound, self.pipe.cancel)  # fmt: skip
        self.pipe._timed("render", t0)
        with self.lock:
            self.previews[j] = time.perf_counter() - self.t0
        self._emit("preview", scene, message=f"segment {j}", artifact=str(path), cached=hit,
                   audio=str(sound) if sound else None)  # fmt: skip

    def prepare_scene(self, head: ScriptHead, scene: Scene) -> bool:
        """A cluster worker's share of one streamed scene: its speech, its picture and its segment, into the
        cache (shared through object storage), so the job's own process finds them there. The segment
        depends only on its scene and the planned slots, so it is the one the job's timeline asks for.
        Returns whether the segment was cached already."""
        self._start(head)
        k = scene.index
        pipe = self.pipe
        narration = pipe._narrate_scene(self.narrator, self.n_ident, self._storyboard_with(k, scene), k)
        visual = pipe._draw_scene(self.images, self.i_ident, self._image_request(scene))
        with self.lock:
            self.assets[k] = SceneAssets(scene=scene, narration=narration, visual=visual)
        if not self.preview:
            return False
        tl = self.provisional(self.segment_of(k))
        hit: bool = self.composer.prepare_segment(tl, self.segment_of(k), self.work, pipe.cache, pipe.cancel)
        return hit

    def _scene_task(self, k: int, scene: Scene, music_f: Future[MusicTrack | None]) -> SceneAssets:
        pipe = self.pipe
        if self.remote is not None and self.head is not None:
            self.remote(self.head, scene, pipe.cancel)  # then everything below is found in the cache
            pipe._check_cancel()
        narration = pipe._narrate_scene(self.narrator, self.n_ident, self._storyboard_with(k, scene), k)
        self._emit("narration", k)
        visual = pipe._draw_scene(self.images, self.i_ident, self._image_request(scene))
        self._emit("visuals", k)
        asset = SceneAssets(scene=scene, narration=narration, visual=visual)
        with self.lock:
            self.assets[k] = asset
        if k == 0:
            self._title_input("scene", music_f)
        j = self.segment_of(k)
        # a scene that will be rewritten shorter is rendered once, in its final form, unless someone is
        # watching (progressive playback): on 2 cores a third of a video's scenes rendered twice cost 10 s
        defer = self.revisable and not self.sound and pipe.revision_words(asset) is not None
        if defer:
            with self.lock:
                self.deferred.add(j)
        self.ready[j].set()  # before the render: the next segment's preview may render this one itself
        if self.preview and not defer:
            self._preview(j, k, music_f)
        return asset

    def _title_input(self, which: str, music_f: Future[MusicTrack | None]) -> None:
        """The title card's segment is final when its picture is drawn and, unless it is a card of its own,
        scene 1's picture too (the title is then written over it): whichever comes last renders it."""
        if not self.has_title:
            return
        with self.lock:
            self._title_inputs.add(which)
            own_card = self.title_visual is not None and bool(self.title_visual.layers)
            final = "title" in self._title_inputs and (own_card or "scene" in self._title_inputs)
            if not final or self._title_started:
                return
            self._title_started = True
        self.ready[0].set()
        if self.preview:
            self._preview(0, None, music_f)

    def _storyboard_with(self, k: int, scene: Scene) -> Storyboard:
        """A storyboard whose scene ``k`` is ``scene`` (what ``_narrate_scene`` reads)."""
        scenes = list(self.skeleton)
        scenes[k] = scene
        return self._storyboard(scenes)

    def _title_task(self, req: ImageRequest | None, music_f: Future[MusicTrack | None]) -> SceneVisual | None:
        """The title card's own picture, when the visuals backend draws one (a card with its own layers is
        playable before any scene is written)."""
        visual = self.pipe._draw_scene(self.images, self.i_ident, req) if req is not None else None
        with self.lock:
            self.title_visual = visual
        self._title_input("title", music_f)
        return visual

    # -- the stream ---------------------------------------------------------------------------------

    def run(
        self, parts: Iterator[StoryPart], on_script: Callable[[Storyboard], None] | None = None
    ) -> StreamResult:
        """Take the parts as they come; ``on_script`` is told the storyboard as soon as the last scene is
        written (while the last scenes are still being spoken, drawn and rendered)."""
        pipe, request = self.pipe, self.request
        # scenes done elsewhere only wait here: then as many at once as the cluster may take
        workers = pipe.settings.workers + 1 if self.remote is None else 32
        futures: list[Future[Any]] = []
        with ThreadPoolExecutor(max_workers=workers, initializer=_background) as pool:
            music_f: Future[MusicTrack | None] = pool.submit(pipe._music, request, request.duration)
            futures.append(music_f)
            title_f: Future[SceneVisual | None] | None = None
            scene_fs: dict[int, Future[SceneAssets]] = {}
            planner: Any = None
            try:
                for part in _timed_parts(parts, pipe):
                    if isinstance(part, ScriptHead):
                        self._start(part)
                        planner = _planner(self.images, part.title)
                        self.pipe.progress(ProgressEvent(stage="narration", done=0, total=len(self.skeleton)))
                        self.pipe.progress(ProgressEvent(stage="visuals", done=0, total=len(self.skeleton)))
                        title_req = pipe._title_request(self.images, request, self._storyboard(self.skeleton))
                        title_f = pool.submit(self._title_task, title_req, music_f)
                        futures.append(title_f)
                        continue
                    if self.head is None:
                        raise ScriptError("the script writer sent a scene before the title")
                    k = part.index
                    if planner is not None:  # the picture's plan, in order, as each scene comes
                        t0 = time.perf_counter()
                        with self.lock:
                            written = [self.scenes.get(i, s) for i, s in enumerate(self.skeleton)]
                        written[k] = part
                        part = planner.plan(self._storyboard(written), k)
                        pipe._timed("plan", t0)
                    with self.lock:
                        self.scenes[k] = part
                    pipe.progress(
                        ProgressEvent(stage="script", done=k + 1, total=len(self.skeleton), scene=k)
                    )
                    f = pool.submit(self._scene_task, k, part, music_f)
                    scene_fs[k] = f
                    futures.append(f)
                    _raise_failed(futures)  # a scene that failed stops the writer early
                    pipe._check_cancel()
                if self.head is None or len(scene_fs) != len(self.skeleton):
                    raise ScriptError("the script writer stopped before the storyboard was complete")
                if on_script is not None:
                    on_script(self._storyboard([self.scenes[k] for k in range(len(self.skeleton))]))
                assets = [scene_fs[k].result() for k in range(len(self.skeleton))]
                title_visual = title_f.result() if title_f is not None else None
                music = music_f.result()
            except BaseException:
                pipe._abort.set()  # stop sibling work early (not a user cancel: the job failed)
                for ev in self.ready:
                    ev.set()
                raise
        storyboard = self._storyboard([a.scene for a in assets])
        return StreamResult(storyboard=storyboard, assets=assets, music=music, title_visual=title_visual,
                            previews=dict(self.previews))  # fmt: skip

    def _start(self, head: ScriptHead) -> None:
        self.head = head
        self.skeleton = [
            Scene(index=i, narration=PLACEHOLDER, visual=PLACEHOLDER, duration=d)
            for i, d in enumerate(head.durations)
        ]
        segments = len(head.durations) + (1 if head.title_duration > 0 else 0)
        self.ready = [threading.Event() for _ in range(segments)]


#: how much lower the scenes' work runs than the writer (``nice`` steps)
BACKGROUND_NICE = 10


def _background() -> None:
    """Run this pool thread (and the ffmpeg processes it starts, which inherit it) below the writer: the
    writer is the critical path, the scenes fill the cores it leaves. Measured on 2 shared cores, the writer
    otherwise lost so much CPU to the scenes behind it that the whole video took longer than without
    streaming. Linux sets priorities per thread; elsewhere this does nothing."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICE))
    except (AttributeError, OSError):  # pragma: no cover - not Linux, or not allowed
        pass


def _planner(images: Any, title: str) -> Any:
    make: Callable[[str], Any] | None = getattr(images, "scene_planner", None)
    return make(title) if make is not None else None


def _timed_parts(parts: Iterator[StoryPart], pipe: Pipeline) -> Iterator[StoryPart]:
    """The parts, with the time spent waiting for each counted as the script stage's."""
    while True:
        t0 = time.perf_counter()
        try:
            part = next(parts)
        except StopIteration:
            pipe._timed("script", t0)
            return
        pipe._timed("script", t0)
        yield part


def _raise_failed(futures: list[Future[Any]]) -> None:
    for f in futures:
        if f.done() and f.exception() is not None:
            f.result()
