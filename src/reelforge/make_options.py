"""The options of one video, as ``reelforge make`` takes them and as a row of a ``reelforge batch`` file
gives them, checked and turned into what the pipeline runs: a ``Request``, ``Settings``, an optional
storyboard and the output path.

Both commands go through ``prepare``, so a batch row is checked exactly as the same flags on ``make``
would be, before any video is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from .audio_cli import apply_audio_flags
from .config import Settings, load_settings
from .console import validation_message
from .errors import ReelforgeError
from .models import ASPECTS, RESOLUTIONS, STYLES, TRANSITIONS, Request, Storyboard
from .registry import Registry, default_registry


class MakeOptions(BaseModel):
    """What one video can be given: ``make``'s per-video flags (a batch row's columns), by field name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str | None = None
    duration: float = 30.0
    output: Path | None = None
    style: str = "calm"
    aspect: str = "16:9"
    resolution: str = "720p"
    fps: int = 30
    voice: str | None = None
    length_scale: float | None = None
    sentence_pause: float | None = None
    voice_volume: float | None = None
    karaoke: bool = False
    seed: int = 0
    no_subtitles: bool = False
    no_music: bool = False
    music_volume: float | None = None
    writer: str | None = None
    images: str | None = None
    image_model: str | None = None
    music: str | None = None
    music_dir: Path | None = None
    tts: str | None = None
    llm_model: str | None = None
    storyboard: Path | None = None
    library: str | None = None
    clip_layout: str | None = None
    transition: str | None = None


#: the option names a batch row may use (``make``'s flags with ``_`` for ``-``)
OPTION_NAMES: tuple[str, ...] = tuple(MakeOptions.model_fields)


@dataclass(frozen=True)
class Prepared:
    """One checked video: everything ``Pipeline.make`` needs."""

    request: Request
    settings: Settings
    storyboard: Storyboard | None
    output: Path | None  # None: ``<slug of the prompt>.mp4``


def check_choice(value: str | None, choices: tuple[str, ...], what: str) -> None:
    if value is not None and value not in choices:
        raise ReelforgeError(f"unknown {what} '{value}'; choose one of: {', '.join(choices)}")


def load_storyboard(path: Path) -> Storyboard:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReelforgeError(f"cannot read storyboard {path}: {exc.strerror}") from None
    if len(raw) > 1_000_000:
        raise ReelforgeError(f"storyboard {path} is larger than 1 MB")
    try:
        return Storyboard.model_validate_json(raw)
    except ValidationError as exc:
        raise ReelforgeError(f"invalid storyboard {path}: {validation_message(exc)}") from None


def prepare(
    o: MakeOptions,
    *,
    config: Path | None = None,
    jobs: int | None = None,
    no_cache: bool = False,
    registry: Registry | None = None,
) -> Prepared:
    """Check the options (choices, the request's rules, backends, a clip library, a local model's name)
    and resolve them into settings; a problem is a ``ReelforgeError`` with one clear message."""
    for value, choices, what in ((o.style, STYLES, "style"), (o.aspect, ASPECTS, "aspect"),
                                 (o.resolution, RESOLUTIONS, "resolution"),
                                 (o.transition, ("auto", *TRANSITIONS), "transition")):  # fmt: skip
        check_choice(value, choices, what)
    prompt, duration = o.prompt, o.duration
    sb: Storyboard | None = None
    if o.storyboard is not None:
        sb = load_storyboard(o.storyboard)
        prompt = prompt or sb.prompt
        duration = sb.duration
    if prompt is None:
        raise ReelforgeError("give a PROMPT (what the video is about) or --storyboard FILE")
    try:
        request = Request.model_validate(
            {"prompt": prompt, "duration": duration, "style": o.style, "aspect": o.aspect,
             "resolution": o.resolution, "fps": o.fps, "voice": o.voice, "seed": o.seed,
             "subtitles": not o.no_subtitles, "karaoke": o.karaoke}
        )  # fmt: skip
    except ValidationError as exc:
        raise ReelforgeError(validation_message(exc)) from None
    settings = load_settings(config, writer=o.writer, images=o.images, music=o.music, tts=o.tts, jobs=jobs,
                             llm_model=o.llm_model,
                             no_music=o.no_music or None, music_volume_db=o.music_volume,
                             cache=False if no_cache else None, library=o.library,
                             clip_layout=o.clip_layout, transition=o.transition)  # fmt: skip
    if o.image_model:  # --image-model implies the diffusion backend unless --images says otherwise
        from .hub import image_model_id

        if o.images is None and settings.images != "diffusion":
            settings = settings.model_copy(update={"images": "diffusion"})
        model = image_model_id(o.image_model)  # a pulled model's short name: its Hub id
        opts: dict[str, Any] = {**settings.options,
                                "diffusion": {**settings.options_for("diffusion"), "model": model}}  # fmt: skip
        settings = settings.model_copy(update={"options": opts})
    settings = apply_audio_flags(settings, length_scale=o.length_scale, sentence_pause=o.sentence_pause,
                                 voice_volume=o.voice_volume, music_dir=o.music_dir,
                                 music_chosen=o.music is not None)  # fmt: skip
    registry = registry or default_registry()
    for stage, name in (("script", settings.writer), ("narration", settings.tts),
                        ("visuals", settings.images), ("music", settings.music),
                        ("compose", settings.composer)):  # fmt: skip
        registry.get(stage, name)  # unknown backends fail before any work
    if settings.library:  # so does a missing clip library
        from .library.names import check_library

        check_library(settings.library, settings.library_dir)
    if (
        settings.writer == "local"
        and settings.llm_model
        and not Path(settings.llm_model).expanduser().is_file()
    ):
        from .errors import ScriptError
        from .hub import find_gguf  # and a model name that was never pulled

        if find_gguf(settings.llm_model) is None:
            raise ScriptError(
                f"the model file {settings.llm_model} does not exist",
                hint="pass a .gguf file or a name from `reelforge models list` with --llm-model",
            )
    return Prepared(request, settings, sb, o.output)
