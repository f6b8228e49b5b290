"""Turn a storyboard and its measured assets into a frame-exact ``Timeline``.

Duration fitting: every scene keeps its planned length (so editing one scene re-renders only that scene).
Speech is placed after a short lead-in. When a scene's speech does not fit, trailing whole sentences are
dropped (never a cut mid-word); if one sentence alone is still too long, the scene borrows spare time
from the others. The video always lasts exactly the requested duration.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from ..errors import ComposeError
from ..models import (
    TRANSITIONS,
    AudioClip,
    AudioPlan,
    Cue,
    Motion,
    MusicTrack,
    Request,
    SceneAssets,
    SceneClip,
    SceneNarration,
    SceneVisual,
    Segment,
    Storyboard,
    SubtitleStyle,
    Timeline,
    Transition,
)
from .animate import Word, timeline_layers
from .subtitles import sentence_cues, style_metrics

MAX_PAUSE = 0.6  # the longest silence left between two sentences of a scene (natural pauses, no dead air)

LEAD = 0.35  # seconds between a scene's first frame and its first word
TAIL = 0.30  # seconds kept after the last word
TIGHT = (0.15, 0.10)  # margins used only when the normal ones can't fit the speech
TITLE_MIN = 0.8  # a title card never gets shorter than this when scenes borrow its time
FADE = 0.25
OVERSCAN = 1.15  # stills are drawn this much larger than the frame, for Ken Burns room
STILL = Motion(zoom_from=1.0, zoom_to=1.0)  # no Ken Burns: the whole still, scaled to the frame
TRANSITION = 0.5  # seconds an overlapping transition lasts (at most a third of either scene)
#: the transition ``auto`` picks for each style (``fade`` is the fade through black)
STYLE_TRANSITIONS: dict[str, Transition] = {
    "calm": "crossfade", "ambient": "crossfade", "cinematic": "crossfade", "upbeat": "slide",
    "playful": "slide", "corporate": "wipe", "dramatic": "zoom",
}  # fmt: skip


def overscan_size(width: int, height: int) -> tuple[int, int]:
    return round(width * OVERSCAN / 2) * 2, round(height * OVERSCAN / 2) * 2


@dataclass(frozen=True)
class Fit:
    durations: list[float]
    narrations: list[SceneNarration]
    dropped: int  # sentences dropped to fit
    lead: float = LEAD
    title: float = 0.0  # the title card's length after fitting (it can give time to a scene that needs it)


SLACK = 0.002  # an overrun this small (rounding) is not worth moving any boundary for


def fit_scenes(storyboard: Storyboard, narrations: Sequence[SceneNarration], *, borrow: bool = True) -> Fit:
    """Fit the narration to the planned scene lengths. The lengths come back on a millisecond grid that
    sums exactly to the video's duration, so the storyboard saved from them fits again to the very same
    timeline (an edit of one scene must not move another scene's frames or fades).

    ``borrow=False`` keeps every scene in its planned slot even when its first sentence alone is too long
    (that sentence then runs past the slot): a streamed scene is rendered before the scenes after it
    exist, so it can't take their time."""
    try:
        fit = _fit(storyboard, narrations, LEAD, TAIL, borrow)
    except ComposeError:
        fit = _fit(storyboard, narrations, *TIGHT, borrow)
    title = round(fit.title, 3)
    durations = [round(d, 3) for d in fit.durations]
    if durations:  # the rounding error goes to the last scene, so the sum stays exact
        durations[-1] = round(storyboard.duration - title - sum(durations[:-1]), 3)
    return replace(fit, title=title, durations=durations)


def _fit(
    storyboard: Storyboard,
    narrations: Sequence[SceneNarration],
    lead: float,
    tail: float,
    borrow: bool = True,
) -> Fit:
    planned = [s.duration for s in storyboard.scenes]
    fitted: list[SceneNarration] = []
    dropped = 0
    for scene_len, narr in zip(planned, narrations, strict=True):
        sentences = list(narr.sentences)
        while len(sentences) > 1 and narr.model_copy(update={"sentences": tuple(sentences)}).duration > (
            scene_len - lead - tail
        ):
            sentences.pop()
            dropped += 1
        fitted.append(narr.model_copy(update={"sentences": tuple(sentences)}))
    need = [lead + n.duration + tail for n in fitted]
    durations = list(planned)
    over = [need[i] - planned[i] if need[i] - planned[i] > SLACK else 0.0 for i in range(len(planned))]
    title = storyboard.title_duration
    if not borrow and sum(over) > 1e-9 and lead == TIGHT[0]:
        return Fit(durations=durations, narrations=fitted, dropped=dropped, lead=lead, title=title)
    if not borrow and sum(over) > 1e-9:
        raise ComposeError("a sentence overruns its scene")  # try the tight margins first
    if sum(over) > 1e-9:  # some single sentence is too long: borrow from other scenes, then the title card
        spare = [max(0.0, planned[i] - need[i]) for i in range(len(planned))]
        title_spare = max(0.0, title - TITLE_MIN) if title > 0 else 0.0
        available = sum(spare) + title_spare
        if available + 1e-6 < sum(over):
            worst = max(range(len(over)), key=lambda i: over[i])
            raise ComposeError(
                f"the narration does not fit the duration: scene {worst + 1} needs {need[worst]:.1f} s "
                f"but only {planned[worst]:.1f} s is planned and no other scene has time to spare",
                hint="shorten that scene's first sentence or ask for a longer --duration",
            )
        # other scenes' spare time first; the title card gives only what they can't
        from_scenes = min(sum(over), sum(spare))
        take = from_scenes / sum(spare) if sum(spare) > 0 else 0.0
        durations = [planned[i] + over[i] - spare[i] * take for i in range(len(planned))]
        title -= sum(over) - from_scenes
    return Fit(durations=durations, narrations=fitted, dropped=dropped, lead=lead, title=title)


def _motion(seed: int, index: int, title: bool = False) -> Motion:
    rnd = random.Random(int(hashlib.sha256(f"{seed}:{index}:motion".encode()).hexdigest()[:12], 16))
    if title:
        return Motion(zoom_from=1.0, zoom_to=1.04)
    zoom_in = index % 2 == 0
    z = (1.0, 1.1) if zoom_in else (1.1, 1.0)
    p0 = (rnd.uniform(0.25, 0.75), rnd.uniform(0.3, 0.7))
    p1 = (rnd.uniform(0.25, 0.75), rnd.uniform(0.3, 0.7))
    return Motion(zoom_from=z[0], zoom_to=z[1], pan_from=p0, pan_to=p1)


BLURFILL_RATIO = 2.0  # a clip this much wider (or taller) than its cell is shown whole over a blurred fill


def _clip_fields(clip: SceneClip | None, layout: str, width: int, height: int) -> dict[str, Any]:
    """A scene's clip, layout and fit: ``blurfill`` when cropping to cover would cut away too much (a
    landscape clip in a portrait video), else ``cover``."""
    if clip is None:
        return {}
    cell_w = width - (width // 2) // 2 * 2 if layout == "split" else width
    cell = cell_w / height
    ratio = (clip.width / clip.height) / cell if clip.width and clip.height else 1.0
    fit = "blurfill" if ratio > BLURFILL_RATIO or ratio < 1 / BLURFILL_RATIO else "cover"
    return {"clip": clip.path, "clip_start": clip.start, "layout": layout, "fit": fit}


def fitted_storyboard(storyboard: Storyboard, fit: Fit) -> Storyboard:
    """The storyboard as rendered: dropped sentences removed, final scene durations."""
    scenes = []
    for scene, narr, dur in zip(storyboard.scenes, fit.narrations, fit.durations, strict=True):
        text = " ".join(s.text for s in narr.sentences) or scene.narration
        scenes.append(scene.model_copy(update={"narration": text, "duration": dur}))
    return storyboard.model_copy(update={"scenes": tuple(scenes), "title_duration": fit.title})


def apply_transitions(segments: Sequence[Segment], transition: Transition, fps: int) -> list[Segment]:
    """Every boundary (title -> first scene, scene -> scene) becomes ``transition``: an overlap of
    ``D = min(TRANSITION·fps, F_prev // 3, F // 3)`` frames at the start of the later segment, without the
    fades through black on either side of it. ``fade`` (or ``D`` < 2 frames) keeps the fades."""
    out = list(segments)
    if transition == "fade":
        return out
    for k in range(1, len(out)):
        prev, cur = out[k - 1], out[k]
        d = min(round(TRANSITION * fps), prev.frames // 3, cur.frames // 3)
        if d < 2:
            continue
        out[k - 1] = prev.model_copy(update={"fade_out": 0.0})
        out[k] = cur.model_copy(update={"fade_in": 0.0, "transition": transition, "transition_frames": d})
    return out


def _transition(name: str, style: str) -> Transition:
    if name == "auto":
        return STYLE_TRANSITIONS.get(style, "crossfade")
    if name not in TRANSITIONS:
        raise ComposeError(f"unknown transition '{name}'; choose one of: auto, {', '.join(TRANSITIONS)}")
    return cast(Transition, name)


def build_timeline(
    request: Request,
    storyboard: Storyboard,
    assets: Sequence[SceneAssets],
    music: MusicTrack | None,
    *,
    music_gain_db: float = -8.0,
    duck_db: float = -16.0,
    loudness: float = -14.0,
    true_peak: float = -1.0,
    credits: Sequence[str] = (),
    scene_clips: Sequence[SceneClip | None] = (),
    clip_layout: str = "clip",
    transition: str = "auto",  # auto: by the request's style (STYLE_TRANSITIONS), else one of TRANSITIONS
    title_visual: SceneVisual | None = None,  # the title card's own picture (and layers), when drawn
    borrow: bool = True,  # False: every scene in its planned slot (see ``fit_scenes``)
) -> tuple[Timeline, Storyboard]:
    width, height = request.size
    fps = request.fps
    fit = fit_scenes(storyboard, [a.narration for a in assets], borrow=borrow)
    style = SubtitleStyle(burn=request.subtitles, karaoke=request.karaoke)
    _, _, max_chars = style_metrics(width, height, style)

    total_frames = round(storyboard.duration * fps)
    title_len = fit.title
    bounds = [0, round(title_len * fps)] if title_len > 0 else [0]
    t = title_len
    for d in fit.durations:
        t += d
        bounds.append(round(t * fps))
    bounds[-1] = total_frames

    segments: list[Segment] = []
    clips: list[AudioClip] = []
    speech: list[tuple[float, float]] = []
    all_cues: list[Cue] = []
    k = 0
    if title_len > 0:
        card = title_visual is not None and bool(title_visual.layers)  # the title is drawn as layers
        segments.append(
            Segment(
                kind="title",
                index=-1,
                start_frame=0,
                frames=bounds[1] - bounds[0],
                image=title_visual.path if card and title_visual else assets[0].visual.path,
                motion=STILL if card else _motion(request.seed, -1, title=True),
                fade_in=min(FADE, round(title_len / 4, 3)),
                fade_out=min(FADE, round(title_len / 4, 3)),
                text=None if card else storyboard.title,
                dim=0.0 if card else 0.45,
                blur=0.0 if card else max(4.0, height / 60),
                layers=timeline_layers(title_visual, (), title_len, width, height, 0.15)
                if card and title_visual
                else (),
            )
        )
        k = 1
    for i, a in enumerate(assets):
        f0, f1 = bounds[k + i], bounds[k + i + 1]
        if f1 - f0 < 2:
            raise ComposeError(f"scene {i + 1} is too short to render ({(f1 - f0) / fps:.2f} s)")
        start, end = f0 / fps, f1 / fps
        narr = fit.narrations[i]
        cues: list[Cue] = []
        cursor = start + fit.lead
        spoken: list[Word] = []
        for s in narr.sentences:
            spoken.extend(Word(w.word, round(cursor + w.start - start, 4)) for w in s.words)
            clips.append(AudioClip(path=s.path, start=round(cursor, 4)))
            speech.append((round(cursor, 4), round(cursor + s.duration, 4)))
            if s.words:
                cues.extend(sentence_cues(s.words, cursor, max_chars, hard_end=end - FADE / 2,
                                          timed=request.karaoke))  # fmt: skip
            cursor += s.duration + min(narr.pause, MAX_PAUSE)
        all_cues.extend(cues)
        # full-frame footage tells the story itself: the plan's layers go over stills only
        footage = clip_layout == "clip" and i < len(scene_clips) and scene_clips[i] is not None
        layers = () if footage else timeline_layers(a.visual, spoken, end - start, width, height, fit.lead)
        segments.append(
            Segment(
                kind="scene",
                index=i,
                start_frame=f0,
                frames=f1 - f0,
                image=a.visual.path,
                # a plan's backdrop stays still: its layers carry the motion (and x264 finds nothing moving
                # under them, which keeps the render as fast per frame as the Ken Burns stills were)
                motion=STILL if layers else _motion(request.seed, i),
                fade_in=FADE,
                fade_out=FADE,
                cues=tuple(cues) if request.subtitles else (),
                **_clip_fields(scene_clips[i] if i < len(scene_clips) else None, clip_layout, width, height),
                layers=layers,
            )
        )
    audio = AudioPlan(
        narration=tuple(clips),
        music=music.path if music else None,
        music_gain_db=music_gain_db,
        duck_db=duck_db,
        speech=tuple(speech),
        loudness=loudness,
        true_peak=true_peak,
    )
    timeline = Timeline(
        width=width,
        height=height,
        fps=fps,
        frames=total_frames,
        title=storyboard.title,
        segments=tuple(apply_transitions(segments, _transition(transition, request.style), fps)),
        cues=tuple(all_cues),
        subtitles=style,
        audio=audio,
        credits=tuple(credits),
    )
    return timeline, fitted_storyboard(storyboard, fit)
