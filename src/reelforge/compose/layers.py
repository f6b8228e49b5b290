"""Keyframed layers as ffmpeg filter graph text: icons, labels, arrows and counters over a segment.

Every layer image is decoded once, converted to BT.709 YUVA once and looped (no per-frame decode or
conversion), then moved by per-frame expressions of ``t``: ``overlay`` places it (``x``, ``y``), ``scale``
with ``eval=frame`` sizes it (only when its scale changes), ``fade`` with ``alpha=1`` ramps its opacity,
``crop`` windows a padded copy to reveal it in place (an arrow drawing itself) or picks a counter's
current image from a vertical strip of them. ``overlay``'s ``enable`` skips a layer while it is hidden.
The maths is the timeline document's (``docs/timeline-schema.md``, "Layers"); :func:`layer_state` is the
same maths in Python, for tests and for anyone who draws a timeline another way.

Graph text holds only numbers, fixed names and input indexes: no user text reaches ffmpeg here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from ..models import Keyframe, Layer

_EASE = {
    "linear": "{u}",
    "in": "pow({u},3)",
    "out": "(1-pow(1-{u},3))",
    "inout": "({u}*{u}*(3-2*{u}))",
}


def ease(kind: str, u: float) -> float:
    """The easing curves of the timeline document."""
    u = min(1.0, max(0.0, u))
    if kind == "in":
        return u**3
    if kind == "out":
        return 1 - (1 - u) ** 3
    if kind == "inout":
        return u * u * (3 - 2 * u)
    return u


def _num(v: float) -> str:
    return f"{v:.4f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))


def property_expr(keyframes: Sequence[Keyframe], prop: str) -> str:
    """``prop`` (x, y, scale or reveal) as an ffmpeg expression of ``t``: piecewise, eased, held outside."""
    values = [float(getattr(k, prop)) for k in keyframes]
    if max(values) - min(values) < 1e-9:
        return _num(values[0])
    expr = _num(values[-1])
    for a, b in reversed(list(pairwise(keyframes))):
        va, vb = float(getattr(a, prop)), float(getattr(b, prop))
        span = b.t - a.t
        if span <= 1e-9:
            seg = _num(vb)
        else:
            u = f"((t-{_num(a.t)})/{_num(span)})"
            seg = f"{_num(va)}+{_num(vb - va)}*{_EASE[a.ease].format(u=u)}" if va != vb else _num(va)
        expr = f"if(lt(t,{_num(b.t)}),{seg},{expr})"
    return f"if(lt(t,{_num(keyframes[0].t)}),{_num(values[0])},{expr})"


@dataclass(frozen=True)
class Ramp:
    start: float
    duration: float
    up: bool


def opacity_ramps(keyframes: Sequence[Keyframe], fps: int) -> tuple[float, list[Ramp]]:
    """The opacity before the first keyframe and the ramps after it (a step is a one-frame ramp)."""
    ramps = []
    for a, b in pairwise(keyframes):
        if a.opacity != b.opacity:
            ramps.append(Ramp(a.t, max(b.t - a.t, 1.0 / fps), b.opacity > a.opacity))
    return keyframes[0].opacity, ramps


def visible_span(keyframes: Sequence[Keyframe], fps: int) -> tuple[float, float] | None:
    """``(from, to)`` seconds in which the layer may be seen (``to`` is inf when it stays): ``None`` if never."""
    first, ramps = opacity_ramps(keyframes, fps)
    if first == 0 and not ramps:
        return None
    start = 0.0 if first > 0 else min((r.start for r in ramps if r.up), default=math.inf)
    if start == math.inf:
        return None
    end = math.inf
    if ramps and not ramps[-1].up:
        end = ramps[-1].start + ramps[-1].duration
    return start, end


def layer_inputs(layers: Sequence[Layer]) -> list[str]:
    """The ``-i`` arguments of the layers' images, in the order :func:`layers_graph` numbers them."""
    args: list[str] = []
    for layer in layers:
        for path in layer.frames or (layer.image,):
            args += ["-i", str(path)]
    return args


def layer_files(layers: Sequence[Layer]) -> list[Path]:
    """Every image file the layers read (for cache keys and asset lists)."""
    return [p for layer in layers for p in (*layer.frames, layer.image)]


def _even(v: float) -> int:
    return max(2, 2 * math.floor(v / 2))


def layers_graph(layers: Sequence[Layer], base: str, first_input: int, total: int, fps: int) -> str:
    """Filter graph text that draws ``layers`` over the stream labelled ``base``, reading the layers' images
    from input ``first_input`` on. The last overlay has no output label, so a chain can follow it."""
    parts: list[str] = []
    current = base
    idx = first_input
    drawn = 0
    for n, layer in enumerate(layers):
        inputs = list(range(idx, idx + len(layer.frames or (layer.image,))))
        idx += len(inputs)
        span = visible_span(layer.keyframes, fps)
        if span is None:
            continue
        kf = layer.keyframes
        w, h = layer.width, layer.height
        conv = "scale=out_color_matrix=bt709:out_range=tv,format=yuva420p"
        label = f"l{n}"
        chain: list[str] = []
        if len(inputs) > 1:  # a counter: its images stacked top to bottom, one crop window moved by time
            for k, i in enumerate(inputs):
                parts.append(f"[{i}:v]{conv}[{label}f{k}]")
            stack = "".join(f"[{label}f{k}]" for k in range(len(inputs)))
            chain.append(f"{stack}vstack=inputs={len(inputs)}")
        else:
            chain.append(f"[{inputs[0]}:v]{conv}")
        scales = {k.scale for k in kf}
        reveals = {k.reveal for k in kf}
        revealing = len(reveals) > 1 or min(reveals) < 1  # a constant partial reveal is cropped too
        static_scale = kf[0].scale if len(scales) == 1 else 1.0
        sw, sh = (_even(w * static_scale), _even(h * static_scale)) if len(scales) == 1 else (w, h)
        if len(inputs) > 1:
            if (sw, sh) != (w, h):
                chain.append(f"scale={sw}:{sh * len(inputs)}:flags=bilinear")
        elif (sw, sh) != (w, h) and len(scales) == 1:
            chain.append(f"scale={sw}:{sh}:flags=bilinear")
        if revealing:
            if layer.reveal_axis == "x":
                chain.append(f"pad=w={2 * sw}:h={sh}:x={sw}:y=0:color=black@0")
            else:
                chain.append(f"pad=w={sw}:h={2 * sh}:x=0:y={sh}:color=black@0")
        chain += [f"loop=loop={total - 1}:size=1:start=0", f"settb=1/{fps}", "setpts=N"]
        if len(inputs) > 1:
            times = layer.frame_times
            index = "+".join(f"gte(t,{_num(ft)})" for ft in times[1:]) or "0"
            chain.append(f"crop=w={sw}:h={sh}:x=0:y='{sh}*({index})'")
        rx = ry = "0"
        if revealing:
            size = sw if layer.reveal_axis == "x" else sh
            shown = f"(2*floor({size}*({property_expr(kf, 'reveal')})/2))"
            if layer.reveal_axis == "x":
                chain.append(f"crop=w={sw}:h={sh}:x='{shown}':y=0")
                rx = f"({shown}-{sw})"
            else:
                chain.append(f"crop=w={sw}:h={sh}:x=0:y='{shown}'")
                ry = f"({shown}-{sh})"
        if len(scales) > 1:
            s_expr = property_expr(kf, "scale")
            chain.append(
                f"scale=w='max(2,2*floor({w}*({s_expr})/2))':h='max(2,2*floor({h}*({s_expr})/2))'"
                ":eval=frame:flags=bilinear"
            )
        _, ramps = opacity_ramps(kf, fps)
        for r in ramps:
            kind = "in" if r.up else "out"
            chain.append(f"fade=t={kind}:st={r.start:.4f}:d={r.duration:.4f}:alpha=1")
        parts.append(",".join(chain) + f"[{label}]")
        x, y = property_expr(kf, "x"), property_expr(kf, "y")
        start, end = span
        enable = "1" if start <= 0 and end == math.inf else (
            f"gte(t,{start:.4f})" if end == math.inf else f"between(t,{start:.4f},{end:.4f})"
        )  # fmt: skip
        out = f"[o{n}]"
        parts.append(
            f"[{current}][{label}]overlay=x='({x})-w/2+{rx}':y='({y})-h/2+{ry}':eval=frame:"
            f"enable='{enable}':format=yuv420{out}"
        )
        current = f"o{n}"
        drawn += 1
    if drawn == 0:
        return f"[{base}]null"
    # the last overlay's output label is dropped, so the caller's chain continues from it
    last = parts[-1]
    parts[-1] = last[: last.rindex("[")]
    return ";".join(parts)


# ---- the same maths in Python (tests, previews) ---------------------------------------------------


@dataclass(frozen=True)
class LayerState:
    visible: bool
    opacity: float
    x0: int  # top-left corner in output pixels
    y0: int
    width: int  # drawn size
    height: int
    shown: int  # columns (axis x) or rows (axis y) drawn
    frame: int  # counter image index


def _trunc_even(v: float) -> int:
    return int(v) & ~1


def layer_state(layer: Layer, t: float, fps: int = 30) -> LayerState:
    """Where and how ``layer`` is drawn at segment time ``t``, by the rules of the timeline document."""
    kf = layer.keyframes

    def prop(name: str) -> float:
        if t <= kf[0].t:
            return float(getattr(kf[0], name))
        for a, b in pairwise(kf):
            if t < b.t:
                span = b.t - a.t
                u = (t - a.t) / span if span > 0 else 1.0
                va, vb = float(getattr(a, name)), float(getattr(b, name))
                return va + (vb - va) * ease(a.ease, u)
        return float(getattr(kf[-1], name))

    first, ramps = opacity_ramps(kf, fps)
    op = float(first)
    for r in ramps:
        f = min(1.0, max(0.0, (t - r.start) / r.duration))
        op = f if r.up else op * (1 - f)
    scale = prop("scale")
    sw, sh = _even(layer.width * scale), _even(layer.height * scale)
    reveal = prop("reveal")
    size = sw if layer.reveal_axis == "x" else sh
    shown = 2 * math.floor(size * reveal / 2)
    frame = sum(1 for ft in layer.frame_times[1:] if ft <= t) if layer.frames else 0
    return LayerState(
        visible=op > 0,
        opacity=op,
        x0=_trunc_even(prop("x") - sw / 2),
        y0=_trunc_even(prop("y") - sh / 2),
        width=sw,
        height=sh,
        shown=shown,
        frame=frame,
    )
