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


class Scene(Frozen):
    """One scene of the storyboard: what is said, what is shown, and for how long (planned)."""

    index: Annotated[int, Field(ge=0)]
    role: str = "point"
    narration: Annotated[str, Field(min_length=1, max_length=4000)]
    visual: Annotated[str, Field(min_length=1, max_length=1000)]
    keywords: tuple[str, ...] = ()
    duration: Annotated[float, Field(gt=0, le=MAX_DURATION)]

    @field_validator("narration", "visual")
    @classmethod
    def _clean(cls, v: str) -> str:
        v = clean(v)
        if not v:
            raise ValueError("must contain visible text")
        return v

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

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        v = clean(v)
        if not v:
            raise ValueError("the title is empty")
        return v

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


class SceneVisual(Frozen):
    index: int
    path: Path
    width: int
    height: int
    credits: tuple[str, ...] = ()


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
