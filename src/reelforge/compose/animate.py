"""From a scene's sprite layers and its spoken words to keyframed timeline layers.

Each element comes in when the narration names it: its cue's words are looked for among the scene's timed
words (the head noun first, then any other word of the cue), and it starts a beat before that word.
Elements whose words are not said (or that have no cue) come in at their turn, spread over the first part
of the speech. Arrows and connectors draw themselves just before the element they lead to. Counters count
up over 1.2 s. Nothing starts in the last ``HOLD`` seconds of a scene, so every element is seen settled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..models import Keyframe, Layer, SceneVisual, SpriteLayer

ANTICIPATE = 0.12  # an element starts this long before its word
POP = 0.35  # seconds an entrance lasts
RISE = 0.4
FADE = 0.3
DRAW = 0.45
COUNT = 1.2  # seconds a counter takes to reach its number
HOLD = 0.8  # no entrance starts later than this before the scene's end
STEP = 0.35  # seconds between elements that come in at their turn
ARROW_LEAD = 0.4  # an arrow starts drawing this long before the element it leads to

_WORD = re.compile(r"[a-z0-9]+")
_SKIP = frozenset(
    {"the", "a", "an", "of", "and", "or", "to", "in", "on", "for", "with", "its", "their", "is"}
)


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # seconds from the segment's start


def _norm(word: str) -> str:
    w = word.lower()
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("es") and w[:-2].endswith(("ch", "sh", "ss", "x")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def cue_time(cue: str | None, words: Sequence[Word]) -> float | None:
    """When ``cue`` is said: the first time its head word (its last) is spoken, else any other of its words."""
    if not cue or not words:
        return None
    wanted = [_norm(w) for w in _WORD.findall(cue.lower()) if w not in _SKIP]
    if not wanted:
        return None
    spoken = [(_norm(t), w.start) for w in words for t in _WORD.findall(w.text.lower())[:1]]
    for target in [wanted[-1], *wanted[:-1]]:
        for text, start in spoken:
            if text == target or (
                len(target) >= 5 and text.startswith(target[:5]) and abs(len(text) - len(target)) <= 3
            ):
                return start
    return None


def entry_times(
    layers: Sequence[SpriteLayer], words: Sequence[Word], duration: float, lead: float
) -> list[float]:
    """When each layer starts coming in (seconds from the segment's start)."""
    latest = max(0.05, duration - HOLD)
    said = [cue_time(layer.cue, words) for layer in layers]
    spoken_end = words[-1].start if words else lead
    # an element that is not named comes in at its turn: after the named ones of lower order, spread over
    # the first part of the speech
    orders = sorted({layer.order for layer in layers})
    turn = {o: lead + STEP * k for k, o in enumerate(orders)}
    span = max(0.0, min(spoken_end, duration * 0.6) - lead)
    if len(orders) > 1 and span > STEP * len(orders):
        turn = {o: lead + span * k / (len(orders) - 1) * 0.5 for k, o in enumerate(orders)}
    times: list[float] = []
    first = orders[0] if orders else 0
    for layer, t in zip(layers, said, strict=True):
        start = (t - ANTICIPATE) if t is not None else turn[layer.order]
        if layer.enter == "draw":
            start -= ARROW_LEAD if t is not None else 0.0
        if layer.order == first:  # the scene's first element is there from the start: never an empty frame
            start = min(start, lead)
        times.append(min(latest, max(0.05, start)))
    # a layer of the same order as an icon (its label) follows the icon a beat later
    by_order: dict[int, float] = {}
    for layer, t in zip(layers, times, strict=True):
        if layer.enter == "pop":
            by_order.setdefault(layer.order, t)
    for k, layer in enumerate(layers):
        if layer.enter == "rise" and layer.order in by_order and layer.name.startswith("label:"):
            times[k] = min(latest, by_order[layer.order] + 0.15)
    return times


def keyframes(
    layer: SpriteLayer, x: float, y: float, t0: float, unit: int
) -> tuple[tuple[Keyframe, ...], tuple[float, ...]]:
    """The keyframes of ``layer`` entering at ``t0`` at centre (x, y) pixels, and a counter's frame times."""
    if layer.enter == "pop":
        return (
            Keyframe(t=t0, x=x, y=y, scale=0.6, opacity=0, ease="out"),
            Keyframe(t=t0 + POP, x=x, y=y, scale=1.0, opacity=1),
        ), ()
    if layer.enter == "rise":
        dy = round(unit * 0.035)
        return (
            Keyframe(t=t0, x=x, y=y + dy, opacity=0, ease="out"),
            Keyframe(t=t0 + RISE, x=x, y=y, opacity=1),
        ), ()
    if layer.enter == "fade":
        return (Keyframe(t=t0, x=x, y=y, opacity=0), Keyframe(t=t0 + FADE, x=x, y=y, opacity=1)), ()
    if layer.enter == "draw":
        return (
            Keyframe(t=t0, x=x, y=y, reveal=0.0, ease="inout"),
            Keyframe(t=t0 + DRAW, x=x, y=y, reveal=1.0),
        ), ()
    if layer.enter == "count":
        n = max(1, len(layer.frames))
        times = tuple(round(t0 + COUNT * k / max(1, n - 1), 4) for k in range(n))
        return (Keyframe(t=t0, x=x, y=y, opacity=0), Keyframe(t=t0 + 0.2, x=x, y=y, opacity=1)), times
    return (Keyframe(t=0.0, x=x, y=y),), ()


def timeline_layers(visual: SceneVisual, words: Sequence[Word], duration: float, width: int, height: int,
                    lead: float) -> tuple[Layer, ...]:  # fmt: skip
    """The visual's sprite layers as timeline layers for a segment of ``duration`` seconds."""
    if not visual.layers:
        return ()
    folder = Path(visual.path).parent
    unit = min(width, height)
    starts = entry_times(visual.layers, words, duration, lead)
    out = []
    for layer, t0 in zip(visual.layers, starts, strict=True):
        x, y = round(layer.x * width, 2), round(layer.y * height, 2)
        kfs, times = keyframes(layer, x, y, round(t0, 4), unit)
        out.append(
            Layer(
                image=folder / layer.file,
                width=layer.width,
                height=layer.height,
                keyframes=kfs,
                reveal_axis=layer.reveal_axis,
                frames=tuple(folder / f for f in layer.frames) if times else (),
                frame_times=times,
                name=layer.name,
            )
        )
    return tuple(out)
