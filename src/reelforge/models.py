"""The immutable data that flows one way through the pipeline:

``Request -> Storyboard -> SceneAssets -> Timeline -> render``.

Every model is frozen; change one with ``model.model_copy(update=...)`` (or the ``with_*`` helpers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .text import clean, split_sentences

Style = Literal["upbeat", "calm", "dramatic", "corporate", "ambient", "cinematic", "playful"]
Aspect = Literal["16:9", "9:16", "1:1"]
Resolution = Literal["480p", "720p", "1080p"]

STYLES: tuple[str, ...] = ("upbeat", "calm", "dramatic", "corporate", "ambient", "cinematic", "playful")
ASPECTS: tuple[str, ...] = ("16:9", "9:16", "1:1")
RESOLUTIONS: tuple[str, ...] = ("480p", "720p", "1080p")

MIN_DURATION = 5.0
MAX_DURATION = 1800.0
MAX_PROMPT = 2000


def visible(text: str, empty: str = "must contain visible text") -> str:
    """``text`` cleaned (see ``text.clean``); a ``ValueError`` saying ``empty`` when nothing visible is left."""
    text = clean(text)
    if not text:
        raise ValueError(empty)
    return text


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def frame_size(aspect: str, resolution: str) -> tuple[int, int]:
    """Even pixel size for an aspect ratio at a resolution class (the short side is the class)."""
    short = {"480p": 480, "720p": 720, "1080p": 1080}[resolution]
    long_side = round(short * 16 / 9 / 2) * 2
    if aspect == "16:9":
        return long_side, short
    if aspect == "9:16":
        return short, long_side
    return short, short


class Request(Frozen):
    """What the user asked for."""

    prompt: str
    duration: float
    style: Style = "calm"
    aspect: Aspect = "16:9"
    resolution: Resolution = "720p"
    fps: Annotated[int, Field(ge=12, le=60)] = 30
    voice: str | None = None
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    subtitles: bool = True
    karaoke: bool = False  # highlight each word of the burnt-in subtitles as it is spoken

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        v = clean(v)
        if not v:
            raise ValueError("the prompt is empty: describe the video, e.g. 'How bees make honey'")
        if len(v) > MAX_PROMPT:
            raise ValueError(
                f"the prompt is {len(v)} characters; the limit is {MAX_PROMPT}. Shorten it to the topic"
            )
        return v

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: float) -> float:
        if not (MIN_DURATION <= v <= MAX_DURATION):
            raise ValueError(
                f"duration {v:g} s is out of range: use {MIN_DURATION:g} to {MAX_DURATION:g} seconds"
            )
        return float(v)

    @property
    def size(self) -> tuple[int, int]:
        return frame_size(self.aspect, self.resolution)


# ---- visual plans ---------------------------------------------------------------------------

#: how a scene's picture is laid out: ``hero`` one subject with its context; ``process`` A -> B -> C;
#: ``comparison`` A vs B; ``list`` numbered points; ``stat`` a big number that counts up; ``phrase`` the
#: scene's key term set large; ``closing`` the title and a one-line takeaway (the last scene)
Layout = Literal["hero", "process", "comparison", "list", "stat", "phrase", "closing"]
LAYOUTS: tuple[str, ...] = ("hero", "process", "comparison", "list", "stat", "phrase", "closing")


class PlanItem(Frozen):
    """One element of a visual plan: a label, the icon that shows it, and the words that bring it in."""

    label: Annotated[str, Field(min_length=1, max_length=60)]
    #: an OpenMoji code (``1F41D``), or ``None`` to pick one by the label's meaning, or ``""`` for no icon
    icon: str | None = None
    #: the words of the narration at which it appears (default: the label's own words)
    cue: Annotated[str, Field(max_length=80)] | None = None

    _label = field_validator("label")(lambda v: visible(v))


class VisualPlan(Frozen):
    """What a scene shows and how: a layout filled with items (icons with labels), and for ``stat`` a
    number. Written by the planner (or a writer, then checked); saved in the storyboard; editable."""

    layout: Layout = "hero"
    items: Annotated[tuple[PlanItem, ...], Field(max_length=5)] = ()
    #: ``stat``: the number shown and counted up to, as written ("10", "3.5", "60,000", "1817")
    number: Annotated[str, Field(max_length=20)] | None = None
    #: ``stat``: what the number counts ("times", "litres"), shown beside it
    unit: Annotated[str, Field(max_length=40)] = ""
    #: ``phrase`` / ``closing``: the line set large (the key term, or the takeaway)
    text: Annotated[str, Field(max_length=120)] | None = None
    #: how the layout is framed: 0 or 1 (mirror, or a different arrangement), chosen for variety
    variant: Annotated[int, Field(ge=0, le=3)] = 0


class Scene(Frozen):
    """One scene of the storyboard: what is said, what is shown, and for how long (planned)."""

    index: Annotated[int, Field(ge=0)]
    role: str = "point"
    narration: Annotated[str, Field(min_length=1, max_length=4000)]
    visual: Annotated[str, Field(min_length=1, max_length=1000)]
    keywords: tuple[str, ...] = ()
    duration: Annotated[float, Field(gt=0, le=MAX_DURATION)]
    #: the picture's plan (layout and elements); ``None``: the planner makes one
    plan: VisualPlan | None = None

    _clean = field_validator("narration", "visual")(lambda v: visible(v))

    @field_validator("keywords")
    @classmethod
    def _kw(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(k for k in (clean(x)[:60] for x in v) if k)[:16]

    @property
    def sentences(self) -> list[str]:
        return split_sentences(self.narration)


class Storyboard(Frozen):
    """Title + scenes. Saved beside every output; users may edit it and render it again."""

    version: Literal[1] = 1
    title: Annotated[str, Field(min_length=1, max_length=200)]
    prompt: str
    duration: Annotated[float, Field(ge=MIN_DURATION, le=MAX_DURATION)]
    title_duration: Annotated[float, Field(ge=0, le=10)]
    scenes: Annotated[tuple[Scene, ...], Field(min_length=1, max_length=120)]
    writer: str = "unknown"

    _title = field_validator("title")(lambda v: visible(v, "the title is empty"))

    @model_validator(mode="after")
    def _consistent(self) -> Storyboard:
        for i, s in enumerate(self.scenes):
            if s.index != i:
                raise ValueError(f"scenes[{i}].index is {s.index}; scenes must be numbered 0, 1, 2, ...")
        total = self.title_duration + sum(s.duration for s in self.scenes)
        if abs(total - self.duration) > 0.05:
            raise ValueError(
                f"title_duration + scene durations = {total:.2f} s but duration is {self.duration:.2f} s; "
                "make them add up (or remove the per-scene durations and let reelforge plan them)"
            )
        return self

    def with_scene(self, scene: Scene) -> Storyboard:
        scenes = list(self.scenes)
        scenes[scene.index] = scene
        return self.model_copy(update={"scenes": tuple(scenes)})


# ---- stage inputs/outputs -------------------------------------------------------------------


class WordTiming(Frozen):
    word: str
    start: float
    end: float


class SpokenSentence(Frozen):
    """One synthesized sentence: its audio file and measured length (seconds)."""

    text: str
    path: Path
    duration: float
    sample_rate: int
    words: tuple[WordTiming, ...] = ()  # relative to the sentence start


class SceneNarration(Frozen):
    index: int
    sentences: tuple[SpokenSentence, ...]
    pause: float = 0.25  # silence between sentences

    @property
    def duration(self) -> float:
        if not self.sentences:
            return 0.0
        return sum(s.duration for s in self.sentences) + self.pause * (len(self.sentences) - 1)


class ImageRequest(Frozen):
    """What a visuals backend is asked to draw for one scene."""

    scene: Scene
    title: str
    style: str
    width: int
    height: int
    seed: int
    #: the video frame's size (``width`` x ``height`` is the still, drawn larger for Ken Burns room);
    #: layers are drawn for the frame. 0 = the same as the still
    frame_width: int = 0
    frame_height: int = 0


Entrance = Literal["pop", "rise", "fade", "draw", "count", "none"]


class SpriteLayer(Frozen):
    """A picture element drawn by a visuals backend, to be animated over the still: an RGBA PNG beside the
    still (``file``), where it sits in the frame, and what brings it in. The timeline turns it into
    keyframes from the narration's word times."""

    file: str  # a file name in the still's folder
    x: float  # centre, as a fraction of the frame width
    y: float  # centre, as a fraction of the frame height
    width: int  # pixels, at the frame size the backend was asked for
    height: int
    #: the words of the narration that bring it in; ``None``: it comes in at its turn (``order``)
    cue: str | None = None
    order: int = 0  # entry order among the scene's layers (0 first)
    enter: Entrance = "pop"
    #: ``count``: the counter's images, shown in turn as it counts up (the last is the final value)
    frames: tuple[str, ...] = ()
    #: ``draw``: the direction it draws itself in
    reveal_axis: Literal["x", "y"] = "x"
    #: what it shows (for people and tests)
    name: str = ""


class SceneVisual(Frozen):
    index: int
    path: Path
    width: int
    height: int
    credits: tuple[str, ...] = ()
    #: animated elements over the still, in drawing order (the first is drawn first, under the others)
    layers: tuple[SpriteLayer, ...] = ()


class MusicRequest(Frozen):
    style: str
    duration: float
    seed: int
    sample_rate: int = 44100


class MusicTrack(Frozen):
    path: Path
    duration: float
    sample_rate: int
    tempo: float = 0.0
    key: str = ""
    credits: tuple[str, ...] = ()


class SceneAssets(Frozen):
    scene: Scene
    narration: SceneNarration
    visual: SceneVisual


# ---- timeline ------------------------------------------------------------------------------


class Motion(Frozen):
    """Ken Burns move: zoom factor and pan position (0..1 of the spare room) from start to end."""

    zoom_from: float = 1.0
    zoom_to: float = 1.1
    pan_from: tuple[float, float] = (0.5, 0.5)
    pan_to: tuple[float, float] = (0.5, 0.5)


Ease = Literal["linear", "in", "out", "inout"]


class Keyframe(Frozen):
    """A layer's state at segment time ``t`` (seconds). Between two keyframes, position, scale and reveal move
    from one to the next along the first one's ``ease``; opacity ramps linearly. Before the first keyframe a
    layer holds the first one's state, after the last the last one's."""

    t: Annotated[float, Field(ge=0)]
    x: float  # the layer's centre, output pixels
    y: float
    scale: Annotated[float, Field(gt=0, le=8)] = 1.0
    #: 0 hidden or 1 shown (partial transparency is in the layer's image)
    opacity: float = 1.0
    #: how much of the image is drawn, from its left (``reveal_axis`` x) or top (y) edge: 0..1
    reveal: Annotated[float, Field(ge=0, le=1)] = 1.0
    ease: Ease = "linear"

    @field_validator("opacity")
    @classmethod
    def _opacity(cls, v: float) -> float:
        if v not in (0.0, 1.0):
            raise ValueError("opacity is 0 (hidden) or 1 (shown); bake partial transparency into the image")
        return float(v)


class Layer(Frozen):
    """An image moved over a segment by keyframes: icons, labels, arrows, counters."""

    image: Path  # RGBA PNG, drawn at scale 1 as ``width`` x ``height`` pixels
    width: Annotated[int, Field(ge=2)]
    height: Annotated[int, Field(ge=2)]
    keyframes: Annotated[tuple[Keyframe, ...], Field(min_length=1)]
    reveal_axis: Literal["x", "y"] = "x"
    #: a counter: these images (each ``width`` x ``height``) are shown in turn, ``frames[k]`` from segment
    #: time ``frame_times[k]`` until the next; before ``frame_times[0]``, ``frames[0]``
    frames: tuple[Path, ...] = ()
    frame_times: tuple[float, ...] = ()
    name: str = ""

    @model_validator(mode="after")
    def _check(self) -> Layer:
        times = [k.t for k in self.keyframes]
        if times != sorted(times):
            raise ValueError("keyframes must be in time order")
        if len(self.frames) != len(self.frame_times):
            raise ValueError("frames and frame_times must have the same length")
        if list(self.frame_times) != sorted(self.frame_times):
            raise ValueError("frame_times must be in time order")
        if len({k.scale for k in self.keyframes}) > 1 and len({k.reveal for k in self.keyframes}) > 1:
            raise ValueError("a layer may animate its scale or its reveal, not both")
        changes = [b.opacity - a.opacity for a, b in zip(self.keyframes, self.keyframes[1:], strict=False)]
        changes = [c for c in changes if c]
        if changes not in ([], [1.0], [-1.0], [1.0, -1.0]):
            raise ValueError("a layer is shown at most once: its opacity may go up, then down, once each")
        return self


Transition = Literal["fade", "crossfade", "slide", "wipe", "zoom"]
TRANSITIONS: tuple[str, ...] = ("fade", "crossfade", "slide", "wipe", "zoom")


class Cue(Frozen):
    """A subtitle cue; times are seconds from the start of the video."""

    start: float
    end: float
    text: str
    words: tuple[WordTiming, ...] = ()  # timed words (absolute times), for karaoke highlighting


class Segment(Frozen):
    """A contiguous run of frames rendered as one independently cached video segment."""

    kind: Literal["title", "scene"]
    index: int
    start_frame: int
    frames: int
    image: Path
    motion: Motion = Motion()
    fade_in: float = 0.25
    fade_out: float = 0.25
    text: str | None = None  # title text drawn on a title card
    dim: float = 0.0  # 0..1 darkening of the image (title cards)
    blur: float = 0.0  # gaussian sigma in output pixels (title cards)
    cues: tuple[Cue, ...] = ()  # cues shown in this segment (absolute times)
    #: a video clip for this scene and how it is combined with the still:
    #: ``clip`` full frame, ``blend`` still over clip at 50 %, ``pip`` clip inset, ``split`` side by side
    clip: Path | None = None
    clip_start: float = 0.0  # seconds into the clip file
    layout: Literal["still", "clip", "blend", "pip", "split"] = "still"
    #: how the clip fills its cell: ``cover`` scales and centre-crops; ``blurfill`` shows the whole clip over
    #: a blurred, cropped copy of itself (a landscape clip in a portrait video)
    fit: Literal["cover", "blurfill"] = "cover"
    #: animated layers over the picture (after the clip layout, before fades and subtitles)
    layers: tuple[Layer, ...] = ()
    #: how this segment comes in after the previous one: ``fade`` through black (``fade_in``/``fade_out``),
    #: or over the first ``transition_frames`` frames of this segment, from the previous segment's picture
    #: continued past its end: ``crossfade``, ``slide`` (pushed in from the right), ``wipe`` (an edge sweeping
    #: from right to left), ``zoom`` (into the previous picture's centre, then a fade); docs/timeline-schema.md
    transition: Transition = "fade"
    transition_frames: Annotated[int, Field(ge=0)] = 0


class SceneClip(Frozen):
    """A library clip chosen for a scene: which file, where to start in it, and how well it matched."""

    path: Path
    start: float  # seconds into the file
    end: float  # the end of the chosen shot (the scene may run past it)
    score: float
    width: int
    height: int
    segment_id: int = 0
    credit: str | None = None


class AudioClip(Frozen):
    path: Path
    start: float  # seconds from the start of the video


class AudioPlan(Frozen):
    narration: tuple[AudioClip, ...] = ()
    music: Path | None = None
    music_gain_db: float = -8.0  # music level relative to the voice when nobody speaks
    duck_db: float = -16.0  # extra attenuation of the music while the voice speaks
    speech: tuple[tuple[float, float], ...] = ()  # intervals where the voice speaks
    loudness: float = -14.0  # LUFS, integrated
    true_peak: float = -1.0  # dBTP


class SubtitleStyle(Frozen):
    font: str = "DejaVu Sans"
    size: int = 0  # 0 = derived from the frame height
    margin_v: int = 0  # 0 = derived (larger for portrait)
    max_chars: int = 42
    burn: bool = True
    karaoke: bool = False  # highlight the current word (ASS \k tags from the cue's timed words)


class Timeline(Frozen):
    """Everything the renderer needs, in frames. The server and browser renderers consume the same document."""

    schema_: Literal["reelforge.timeline/1"] = Field("reelforge.timeline/1", alias="schema")
    width: int
    height: int
    fps: int
    frames: int
    title: str
    segments: tuple[Segment, ...]
    cues: tuple[Cue, ...] = ()
    subtitles: SubtitleStyle = SubtitleStyle()
    audio: AudioPlan = AudioPlan()
    credits: tuple[str, ...] = ()

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @property
    def duration(self) -> float:
        return self.frames / self.fps


class ProgressEvent(Frozen):
    """A progress report; the CLI draws it with Rich and the service streams it as SSE."""

    stage: str
    done: int
    total: int
    scene: int | None = None
    message: str = ""
    cached: bool = False
    #: a finished artifact, when the event announces one (e.g. a rendered segment's file)
    artifact: str | None = None
    #: a ``preview`` segment's provisional sound (WAV, exactly the segment's length): progressive playback
    audio: str | None = None
