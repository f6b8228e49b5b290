"""The ``procedural`` image backend: abstract "explainer video" backdrops drawn with Pillow + numpy.

No network, no model, no text: a smooth multi-stop gradient, a few soft far shapes (blurred),
mid-distance waves and crisp near shapes with soft shadows, a light vignette and (optionally) a
very light dither. Everything is derived from the request through ``hashlib``, so the same request
always gives a byte-identical PNG, and the scenes of one video share a palette family (the style)
while differing in accents and composition.

Speed: the blurry layers are drawn at a quarter of the output size and upscaled once (bicubic);
only the near shapes (inside their bounding boxes), the vignette and the dither touch full-size
pixels. A 2208x1242 still takes well under half a second on one core.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, ClassVar, TypeVar

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter
from pydantic import Field

from ..backend import Backend, BackendOptions
from ..errors import VisualsError
from ..models import ImageRequest, SceneVisual

RGB = tuple[int, int, int]
T = TypeVar("T")

#: where the near shapes cluster (fractions of width, height); the rest of the frame stays calm
_FOCI: tuple[tuple[float, float], ...] = ((0.78, 0.3), (0.22, 0.7), (0.8, 0.75), (0.2, 0.25), (0.5, 0.82))

#: the soft layers (background, far shapes, waves) are drawn at 1/LO_DIV of the output size
LO_DIV = 4
#: the largest image this backend agrees to draw (pixels per side)
MAX_SIDE = 8192


class _Family:
    """A style's palette family: background stops and accent colours, plus a few look knobs.

    The first three accents are the signature colours: the hero shape takes one of them.
    """

    def __init__(
        self,
        background: tuple[str, ...],
        accents: tuple[str, ...],
        *,
        dark: str,
        light: str,
        vignette: float,
        shape_alpha: float = 0.9,
        far_alpha: float = 0.55,
        hue_jitter: float = 1.0,
        glow: float = 1.0,
        tonal_mid: bool = False,
    ) -> None:
        self.background = tuple(_hex(c) for c in background)
        self.accents = tuple(_hex(c) for c in accents)
        self.dark = _hex(dark)
        self.light = _hex(light)
        self.vignette = vignette
        self.shape_alpha = shape_alpha
        self.far_alpha = far_alpha
        self.hue_jitter = hue_jitter
        self.glow = glow
        #: far shapes and waves use only tones of the background (accents stay on the near shapes)
        self.tonal_mid = tonal_mid


def _hex(value: str) -> RGB:
    v = value.lstrip("#")
    return int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16)


FAMILIES: dict[str, _Family] = {
    # warm yellow / orange, sunny and bright
    "upbeat": _Family(
        ("#FF9A3C", "#FFC24B", "#FFDD7A", "#FF7B54", "#FFB26B"),
        ("#FF5E3A", "#FFE9A8", "#F9C80E", "#E8476A", "#FFFFFF", "#FF8C42"),
        dark="#8A2E0E",
        light="#FFF6DC",
        vignette=0.12,
    ),
    # soft blues and greens, airy
    "calm": _Family(
        ("#9CCFE0", "#BFE6DD", "#DDF2EE", "#86BCD1", "#A9D9C6"),
        ("#5FA8A0", "#7FB7DB", "#E9F7F3", "#8FCB9E", "#4E8FB8", "#C7E8F2"),
        dark="#2C5663",
        light="#F4FBF9",
        vignette=0.10,
        shape_alpha=0.8,
    ),
    # deep reds into near-black, ember accents
    "dramatic": _Family(
        ("#12040A", "#2B0710", "#4A0B16", "#1C0509", "#62101C"),
        ("#B3122E", "#E0453A", "#FF8C42", "#8E1024", "#D62839", "#FF6B3D"),
        dark="#050103",
        light="#FF9F6B",
        vignette=0.45,
        far_alpha=0.6,
        hue_jitter=0.6,
        glow=0.55,
        tonal_mid=True,
    ),
    # navy / teal / cool grey, tidy
    "corporate": _Family(
        ("#0F2A47", "#173B5F", "#1E5375", "#12304F", "#2A6784"),
        ("#1FB5A8", "#C9D3DD", "#3E7CB8", "#5FD3C6", "#E8EDF2", "#7A8A9C"),
        dark="#06121F",
        light="#DDE7EF",
        vignette=0.25,
        hue_jitter=0.6,
        glow=0.7,
    ),
    # muted purples, hazy
    "ambient": _Family(
        ("#2B2340", "#3E325A", "#5A4A7A", "#463A66", "#6F5E92"),
        ("#B7A6D6", "#E3B3C9", "#D9C6E8", "#8E7BB8", "#6C5D94", "#A99BC9"),
        dark="#140F22",
        light="#E6DCF2",
        vignette=0.30,
        shape_alpha=0.75,
    ),
    # teal shadows, orange highlights, strong vignette
    "cinematic": _Family(
        ("#06232B", "#0C3640", "#14505A", "#0A2E38", "#1C6068"),
        ("#F29E4C", "#FFB86B", "#E76F51", "#2A9D8F", "#F4D35E", "#0E7C86"),
        dark="#02090C",
        light="#FFD3A1",
        vignette=0.55,
        hue_jitter=0.4,
        glow=0.8,
        tonal_mid=True,
    ),
    # saturated candy colours
    "playful": _Family(
        ("#FF8CC6", "#8AD8FF", "#FFE66D", "#B79CFF", "#7EF0C4"),
        ("#FF3F8E", "#2EC4B6", "#FFD23F", "#5B6CFF", "#FF7A45", "#FFFFFF"),
        dark="#4B2A7A",
        light="#FFFFFF",
        vignette=0.06,
        shape_alpha=0.95,
    ),
}

#: topic words that give the second accent their hue (degrees) when they appear in the scene
_HUE_HINTS: dict[str, float] = {
    "ocean": 200,
    "sea": 200,
    "water": 195,
    "river": 195,
    "rain": 205,
    "ice": 190,
    "sky": 205,
    "forest": 130,
    "tree": 125,
    "plant": 120,
    "leaf": 115,
    "grass": 110,
    "nature": 120,
    "fire": 18,
    "sun": 40,
    "energy": 35,
    "heat": 15,
    "gold": 45,
    "money": 140,
    "night": 245,
    "space": 250,
    "star": 50,
    "love": 340,
    "heart": 350,
    "blood": 355,
    "honey": 42,
    "bee": 45,
}


class _Rng:
    """A hashlib-seeded stream of numbers (stable across Python versions, unlike ``hash()``)."""

    def __init__(self, *parts: object) -> None:
        digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
        self.seed = int.from_bytes(digest[:8], "big")
        self._r = random.Random(self.seed)

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self._r.random()

    def randint(self, a: int, b: int) -> int:
        return a + int(self._r.random() * (b - a + 1)) if b > a else a

    def choice(self, seq: Sequence[T]) -> T:
        return seq[int(self._r.random() * len(seq)) % len(seq)]

    def sample(self, seq: tuple[RGB, ...], k: int) -> list[RGB]:
        pool = list(seq)
        out: list[RGB] = []
        for _ in range(min(k, len(pool))):
            out.append(pool.pop(int(self._r.random() * len(pool)) % len(pool)))
        return out

    def chance(self, p: float) -> bool:
        return self._r.random() < p


def _video_key(request: ImageRequest) -> tuple[object, ...]:
    return ("reelforge.procedural/1", request.style, request.seed, request.title)


def _scene_key(request: ImageRequest) -> tuple[object, ...]:
    scene = request.scene
    return (*_video_key(request), scene.index, scene.visual, "|".join(scene.keywords))


def _family(style: str) -> _Family:
    return FAMILIES.get(style, FAMILIES["calm"])


def _shift(color: RGB, hue_deg: float = 0.0, sat: float = 1.0, val: float = 1.0) -> RGB:
    h, s, v = colorsys.rgb_to_hsv(color[0] / 255, color[1] / 255, color[2] / 255)
    h = (h + hue_deg / 360.0) % 1.0
    s = min(1.0, max(0.0, s * sat))
    v = min(1.0, max(0.0, v * val))
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return round(r * 255), round(g * 255), round(b * 255)


def _with_hue(color: RGB, hue_deg: float) -> RGB:
    _, s, v = colorsys.rgb_to_hsv(color[0] / 255, color[1] / 255, color[2] / 255)
    r, g, b = colorsys.hsv_to_rgb((hue_deg / 360.0) % 1.0, max(s, 0.2), max(v, 0.3))
    return round(r * 255), round(g * 255), round(b * 255)


def _hint_hue(request: ImageRequest) -> float | None:
    words = " ".join((request.scene.visual, *request.scene.keywords)).lower()
    tokens = {w.strip(".,;:!?()'\"") for w in words.split()}
    for word in sorted(_HUE_HINTS):
        if word in tokens or f"{word}s" in tokens:
            return _HUE_HINTS[word]
    return None


def palette_for(request: ImageRequest) -> list[RGB]:
    """The colours of the still drawn for ``request``: 3 background stops (in gradient order),
    then 3 accents, then a dark and a light tone of the same family (8 colours in all).

    Deterministic (hashlib); scenes of one video share the style's family and the video's hue shift,
    and differ in which stops/accents they use plus a small per-scene hue shift.
    """
    fam = _family(request.style)
    video = _Rng(*_video_key(request), "palette")
    scene = _Rng(*_scene_key(request), "palette")
    hue = (video.uniform(-6.0, 6.0) + scene.uniform(-8.0, 8.0)) * fam.hue_jitter
    stops = [_shift(c, hue) for c in scene.sample(fam.background, 3)]
    # order the stops dark -> light -> mid so the gradient has a clear direction and a highlight
    stops.sort(key=_luma)
    stops = [stops[0], stops[2], stops[1]] if scene.chance(0.5) else stops
    # the first accent colours the hero shape: one of the family's first three (its signature colours)
    hero = scene.choice(fam.accents[:3])
    rest = tuple(c for c in fam.accents if c != hero)
    accents = [_shift(c, hue) for c in (hero, *scene.sample(rest, 2))]
    hint = _hint_hue(request)
    if hint is not None:  # a topic colour ("ocean", "forest", "fire") on the second accent
        accents[1] = _with_hue(accents[1], hint)
    return [*stops, *accents, _shift(fam.dark, hue), _shift(fam.light, hue)]


def _luma(c: RGB) -> float:
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


class ProceduralImages(Backend):
    """Abstract, text-free backdrops; fast, offline and deterministic."""

    name: ClassVar[str] = "procedural"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "abstract gradient-and-shapes backdrops drawn locally (Pillow + numpy); offline, deterministic"
    )

    class Options(BackendOptions):
        #: how many shapes are drawn (1 = minimal, 6 = busy)
        detail: Annotated[int, Field(ge=1, le=6)] = 3
        #: dither amplitude in 8-bit levels (0 = none); hides banding in smooth gradients
        grain: Annotated[int, Field(ge=0, le=2)] = 0
        #: PNG zlib level: 1 is fast, 9 is small
        compress_level: Annotated[int, Field(ge=0, le=9)] = 1

    options: Options

    def execute(self, request: ImageRequest, out_path: Path) -> SceneVisual:
        w, h = request.width, request.height
        if not (16 <= w <= MAX_SIDE and 16 <= h <= MAX_SIDE):
            raise VisualsError(
                f"cannot draw a {w}x{h} image for scene {request.scene.index}",
                hint=f"each side must be 16 to {MAX_SIDE} pixels",
            )
        image = render(request, detail=self.options.detail, grain=self.options.grain)
        try:
            image.save(out_path, format="PNG", compress_level=self.options.compress_level)
        except OSError as exc:
            raise VisualsError(
                f"could not write the image for scene {request.scene.index} to {out_path}: {exc}"
            ) from None
        return SceneVisual(index=request.scene.index, path=out_path, width=w, height=h, credits=())


# ---- drawing --------------------------------------------------------------------------------


def render(request: ImageRequest, *, detail: int = 3, grain: int = 0) -> Image.Image:
    """Draw the still for ``request`` as an RGB image of exactly ``request.width`` x ``request.height``."""
    w, h = request.width, request.height
    fam = _family(request.style)
    pal = palette_for(request)
    stops, accents, dark, light = pal[0:3], pal[3:6], pal[6], pal[7]
    rng = _Rng(*_scene_key(request), "layout")
    unit = min(w, h)
    focus = rng.choice(_FOCI)
    light_angle = rng.uniform(-2.6, -0.5)  # light from the top (screen y grows down)

    lw, lh = max(4, -(-w // LO_DIV)), max(4, -(-h // LO_DIV))
    lo = _background(lw, lh, stops, accents, light, rng, fam.glow)
    if fam.tonal_mid:
        tones = [_mix(c, light, 0.12) for c in stops] + [_mix(stops[0], dark, 0.5)]
        _far_shapes(lo, [_mix(c, light, 0.2) for c in stops], fam, rng, detail)
        _waves(lo, tones, dark, rng, detail)
    else:
        _far_shapes(lo, [*accents, light], fam, rng, detail)
        _waves(lo, stops + accents, dark, rng, detail)
    # BICUBIC is half the cost of LANCZOS here and indistinguishable on content this smooth
    image = lo.resize((w, h), Image.Resampling.BICUBIC)

    _near_shapes(image, accents, dark, light, fam, rng, detail, focus, light_angle, unit)
    if fam.vignette > 0:
        image = _vignette(image, lw, lh, dark, fam.vignette)
    if grain > 0:
        image = _dither(image, grain, rng.seed)
    return image


def _background(
    lw: int, lh: int, stops: list[RGB], accents: list[RGB], light: RGB, rng: _Rng, glow: float
) -> Image.Image:
    """Multi-stop linear gradient with two radial glows, at low resolution (numpy, float)."""
    aspect = lw / lh
    ys, xs = np.mgrid[0:lh, 0:lw].astype(np.float32)
    xs = (xs + 0.5) / lw * aspect
    ys = (ys + 0.5) / lh
    angle = rng.uniform(0.0, 2.0 * math.pi)
    dx, dy = math.cos(angle), math.sin(angle)
    t = xs * dx + ys * dy
    t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
    t = t * t * (3.0 - 2.0 * t)  # smoothstep: softer ends
    mid = rng.uniform(0.35, 0.65)
    pos = [0.0, mid, 1.0]
    arr = np.empty((lh, lw, 3), dtype=np.float32)
    for ch in range(3):
        arr[..., ch] = np.interp(t, pos, [float(s[ch]) for s in stops])
    # glows: on dark backgrounds they add light ("screen"), on light ones they tint ("mix")
    screen = sum(_luma(s) for s in stops) / len(stops) < 110
    for i, color in enumerate((light, accents[0])):
        cx, cy = rng.uniform(0.1, 0.9) * aspect, rng.uniform(0.1, 0.9)
        r = rng.uniform(0.35, 0.7) if i == 0 else rng.uniform(0.25, 0.5)
        strength = glow * (rng.uniform(0.22, 0.38) if i == 0 else rng.uniform(0.15, 0.3))
        g = (strength * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (r * r)))[..., None]
        col = np.asarray(color, dtype=np.float32)
        if screen:
            arr = 255.0 - (255.0 - arr) * (1.0 - g * col / 255.0)
        else:
            arr += g * (col - arr)
    return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))


def _blob_points(
    cx: float, cy: float, r: float, rng: _Rng, wobble: float, n: int = 72
) -> list[tuple[float, float]]:
    """A smooth closed blob: a circle whose radius is modulated by a few low harmonics."""
    harmonics = [(k, rng.uniform(0.0, wobble) / k, rng.uniform(0.0, 2 * math.pi)) for k in (2, 3, 4)]
    pts = []
    for i in range(n):
        a = 2 * math.pi * i / n
        rr = r * (1.0 + sum(amp * math.sin(k * a + ph) for k, amp, ph in harmonics))
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    return pts


def _far_shapes(lo: Image.Image, colors: list[RGB], fam: _Family, rng: _Rng, detail: int) -> None:
    """Large, heavily blurred blobs: the far depth layer."""
    lw, lh = lo.size
    unit = min(lw, lh)
    for _ in range(2 + detail // 2):
        mask = Image.new("L", (lw, lh), 0)
        cx, cy = rng.uniform(-0.1, 1.1) * lw, rng.uniform(-0.1, 1.1) * lh
        r = rng.uniform(0.25, 0.55) * unit
        alpha = rng.uniform(0.45, 1.0) * fam.far_alpha
        ImageDraw.Draw(mask).polygon(_blob_points(cx, cy, r, rng, 0.25, 48), fill=round(255 * alpha))
        mask = mask.filter(ImageFilter.GaussianBlur(unit * rng.uniform(0.06, 0.12)))
        lo.paste(rng.choice(colors), (0, 0), mask)


def _waves(lo: Image.Image, colors: list[RGB], dark: RGB, rng: _Rng, detail: int) -> None:
    """Layered translucent hills along one edge, or ribbons across the frame: the mid depth layer."""
    lw, lh = lo.size
    if rng.chance(0.35):
        _ribbons(lo, colors, rng, detail)
        return
    from_top = rng.chance(0.25)
    count = 1 + min(3, (detail + 1) // 2) + (1 if rng.chance(0.5) else 0)
    base = rng.uniform(0.6, 0.76)
    freq = rng.uniform(0.5, 1.4)
    phase0 = rng.uniform(0.0, 2 * math.pi)
    tilt = rng.uniform(-0.14, 0.14)
    first = rng.randint(0, len(colors) - 1)
    for i in range(count):
        level = base + i * rng.uniform(0.05, 0.085)
        amp = rng.uniform(0.025, 0.07)
        phase = phase0 + i * rng.uniform(0.6, 1.6)
        f = freq * rng.uniform(0.8, 1.25)
        pts = []
        steps = 96
        for s in range(steps + 1):
            u = s / steps
            y = level + tilt * (u - 0.5) * (1 if i % 2 else -1) + amp * math.sin(2 * math.pi * f * u + phase)
            y += amp * 0.3 * math.sin(2 * math.pi * f * 2.3 * u + phase * 1.7)
            y = 1.0 - y if from_top else y
            pts.append((u * lw, y * lh))
        edge = -2.0 if from_top else lh + 2.0
        pts += [(lw + 2.0, edge), (-2.0, edge)]
        alpha = min(0.75, 0.3 + 0.14 * i)
        mask = _smooth_mask((lw, lh), pts, alpha)
        if i < count - 1:  # farther waves are softer
            mask = mask.filter(ImageFilter.GaussianBlur(min(lw, lh) * 0.006 * (count - 1 - i)))
        color = colors[(first + i) % len(colors)]
        color = _mix(color, dark, 0.08 * i)  # nearer waves a touch darker for depth
        lo.paste(color, (0, 0), mask)


def _ribbons(lo: Image.Image, colors: list[RGB], rng: _Rng, detail: int) -> None:
    """Two or three translucent flowing bands crossing the frame diagonally."""
    lw, lh = lo.size
    count = 2 + (1 if detail >= 4 else 0)
    center = rng.uniform(0.3, 0.7)
    slope = rng.uniform(0.25, 0.6) * (1 if rng.chance(0.5) else -1)
    freq = rng.uniform(0.5, 1.1)
    phase0 = rng.uniform(0.0, 2 * math.pi)
    first = rng.randint(0, len(colors) - 1)
    for i in range(count):
        off = (i - (count - 1) / 2) * rng.uniform(0.06, 0.12)
        width = rng.uniform(0.05, 0.14)
        phase = phase0 + i * rng.uniform(0.3, 0.9)
        top: list[tuple[float, float]] = []
        bottom: list[tuple[float, float]] = []
        steps = 96
        for s in range(steps + 1):
            u = -0.05 + 1.1 * s / steps
            y = center + off + slope * (u - 0.5) + 0.08 * math.sin(2 * math.pi * freq * u + phase)
            thick = width * (0.55 + 0.45 * math.sin(math.pi * u + phase * 0.5) ** 2)
            top.append((u * lw, (y - thick / 2) * lh))
            bottom.append((u * lw, (y + thick / 2) * lh))
        mask = _smooth_mask((lw, lh), top + bottom[::-1], rng.uniform(0.25, 0.45))
        lo.paste(colors[(first + i) % len(colors)], (0, 0), mask)


def _smooth_mask(size: tuple[int, int], pts: list[tuple[float, float]], alpha: float) -> Image.Image:
    """An antialiased polygon mask (drawn 4x supersampled) with ``alpha`` as its fill."""
    ss = 4
    big = Image.new("L", (size[0] * ss, size[1] * ss), 0)
    ImageDraw.Draw(big).polygon([(x * ss, y * ss) for x, y in pts], fill=round(255 * alpha))
    return big.reduce(ss)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _gradient_fill(size: tuple[int, int], top: RGB, bottom: RGB, angle: float) -> Image.Image:
    """A small linear gradient (lit side -> shaded side) stretched to ``size``."""
    n = 32
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float32) / (n - 1) - 0.5
    t = np.clip(0.5 - (xs * math.cos(angle) + ys * math.sin(angle)), 0.0, 1.0)
    a = np.asarray(top, dtype=np.float32)
    b = np.asarray(bottom, dtype=np.float32)
    arr = a + (b - a) * t[..., None]
    small = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))
    return small.resize(size, Image.Resampling.BILINEAR)


def _near_shapes(
    image: Image.Image,
    accents: list[RGB],
    dark: RGB,
    light: RGB,
    fam: _Family,
    rng: _Rng,
    detail: int,
    focus: tuple[float, float],
    light_angle: float,
    unit: int,
) -> None:
    """Crisp shapes with soft drop shadows around ``focus``: the near depth layer.

    One large hero shape, a few satellites that do not overlap it (or each other), sometimes a thin
    orbit ring around the hero, and a small dot grid on the opposite side.
    """
    w, h = image.size
    shadow_dx = -math.cos(light_angle) * unit * 0.022
    shadow_dy = -math.sin(light_angle) * unit * 0.022

    def keep_in(c: float, r: float, size: int) -> float:
        return min(max(c, r * 0.35), size - r * 0.35)

    big_r = unit * rng.uniform(0.17, 0.27)
    bx = keep_in((focus[0] + rng.uniform(-0.06, 0.06)) * w, big_r, w)
    by = keep_in((focus[1] + rng.uniform(-0.06, 0.06)) * h, big_r, h)
    placed: list[tuple[float, float, float]] = [(bx, by, big_r)]
    shapes: list[tuple[float, float, float, RGB, bool]] = [(bx, by, big_r, accents[0], False)]
    for i in range((detail + 1) // 2 + 1):
        r = unit * rng.uniform(0.035, 0.1)
        for _ in range(10):
            a = rng.uniform(0.0, 2 * math.pi)
            dist = big_r + r + unit * rng.uniform(0.04, 0.22)
            x, y = bx + dist * math.cos(a), by + dist * math.sin(a)
            inside = r <= x <= w - r and r <= y <= h - r
            clear = all(math.hypot(x - px, y - py) > pr + r + unit * 0.03 for px, py, pr in placed)
            if inside and clear:
                placed.append((x, y, r))
                shapes.append((x, y, r, accents[(i + 1) % len(accents)], rng.chance(0.35)))
                break
    orbit = rng.chance(0.45)
    for k, (x, y, r, color, ring) in enumerate(shapes):
        wobble = 0.0 if k > 0 or rng.chance(0.6) else 0.08
        pts = _blob_points(x, y, r, rng, wobble, 128 if k == 0 else 72)
        thickness = max(2.0, r * rng.uniform(0.16, 0.26))
        _shadow(image, pts, dark, shadow_dx, shadow_dy, r, ring=ring, thickness=thickness)
        _solid(image, pts, color, light, dark, fam.shape_alpha, light_angle, ring=ring, thickness=thickness)
        if k == 0 and orbit:
            ro = r * rng.uniform(1.22, 1.45)
            opts = _blob_points(x, y, ro, rng, 0.0, 160)
            _solid(
                image,
                opts,
                _mix(light, color, 0.35),
                light,
                dark,
                0.5,
                light_angle,
                ring=True,
                thickness=max(1.5, unit * 0.004),
            )
    if detail >= 2:
        cols = rng.randint(2, 4)
        n = cols * rng.randint(2, 3)
        step = unit * rng.uniform(0.03, 0.045)
        cx = keep_in((1.0 - focus[0] + rng.uniform(-0.06, 0.06)) * w, step * cols * 1.6, w)
        cy = keep_in((1.0 - focus[1] + rng.uniform(-0.06, 0.06)) * h, step * cols * 1.6, h)
        color = _mix(light, accents[1], 0.3)
        rows = n // cols
        for k in range(n):
            px = cx + (k % cols - (cols - 1) / 2) * step
            py = cy + (k // cols - (rows - 1) / 2) * step
            pts = _blob_points(px, py, step * 0.2, rng, 0.0, 24)
            _solid(image, pts, color, light, dark, 0.6, light_angle, ring=False, thickness=0.0)


def _bbox(pts: list[tuple[float, float]], pad: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    x0 = max(0, math.floor(min(xs) - pad))
    y0 = max(0, math.floor(min(ys) - pad))
    x1 = min(size[0], math.ceil(max(xs) + pad))
    y1 = min(size[1], math.ceil(max(ys) + pad))
    return x0, y0, x1, y1


def _shape_mask(
    pts: list[tuple[float, float]],
    box: tuple[int, int, int, int],
    fill: int,
    ring: bool,
    thickness: float,
    scale: float = 1.0,
) -> Image.Image:
    x0, y0, x1, y1 = box
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    mask = Image.new("L", size, 0)
    local = [((x - x0) * scale, (y - y0) * scale) for x, y in pts]
    draw = ImageDraw.Draw(mask)
    draw.polygon(local, fill=fill)
    if ring:
        cx = sum(p[0] for p in local) / len(local)
        cy = sum(p[1] for p in local) / len(local)
        t = thickness * scale / max(1e-6, _mean_radius(local, cx, cy))
        inner = [(cx + (x - cx) * (1 - t), cy + (y - cy) * (1 - t)) for x, y in local]
        draw.polygon(inner, fill=0)
    return mask


def _mean_radius(pts: list[tuple[float, float]], cx: float, cy: float) -> float:
    return sum(math.hypot(x - cx, y - cy) for x, y in pts) / len(pts)


def _shadow(
    image: Image.Image,
    pts: list[tuple[float, float]],
    dark: RGB,
    dx: float,
    dy: float,
    r: float,
    *,
    ring: bool,
    thickness: float,
) -> None:
    blur = max(2.0, r * 0.18)
    moved = [(x + dx, y + dy) for x, y in pts]
    box = _bbox(moved, blur * 2.5, image.size)
    if box[2] <= box[0] or box[3] <= box[1]:
        return
    # drawn and blurred at a quarter of the size: a shadow is soft anyway
    x0, y0, x1, y1 = box
    scale = 1.0 / LO_DIV
    mask = _shape_mask(moved, box, 255, ring, thickness, scale)
    mask = mask.filter(ImageFilter.GaussianBlur(blur * scale))
    mask = mask.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR)
    mask = mask.point(lambda v: round(v * 0.38))
    image.paste(dark, box, mask)


def _solid(
    image: Image.Image,
    pts: list[tuple[float, float]],
    color: RGB,
    light: RGB,
    dark: RGB,
    alpha: float,
    light_angle: float,
    *,
    ring: bool,
    thickness: float,
) -> None:
    box = _bbox(pts, 2, image.size)
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return
    mask = _shape_mask(pts, box, round(255 * alpha), ring, thickness)
    mask = mask.filter(ImageFilter.GaussianBlur(0.8))  # antialiased edge
    lit = _mix(color, light, 0.28)
    shade = _mix(color, dark, 0.18)
    fill = _gradient_fill((x1 - x0, y1 - y0), lit, shade, light_angle)
    image.paste(fill, box, mask)


def _vignette(image: Image.Image, lw: int, lh: int, dark: RGB, strength: float) -> Image.Image:
    ys, xs = np.mgrid[0:lh, 0:lw].astype(np.float32)
    u = (xs + 0.5) / lw * 2 - 1
    v = (ys + 0.5) / lh * 2 - 1
    d = np.sqrt(u * u * 0.85 + v * v * 0.85)
    fall = np.clip((d - 0.45) / 0.85, 0.0, 1.0)
    fall = fall * fall * (3 - 2 * fall)
    keep = 1.0 - strength * fall
    mask = Image.fromarray(np.clip(keep * 255 + 0.5, 0, 255).astype(np.uint8))
    mask = mask.resize(image.size, Image.Resampling.BILINEAR)
    return Image.composite(image, Image.new("RGB", image.size, dark), mask)


def _dither(image: Image.Image, amplitude: int, seed: int) -> Image.Image:
    """Add monochrome noise of +-``amplitude`` levels: hides 8-bit banding, but makes the PNG
    about 4x larger and twice as slow to encode, hence off by default."""
    w, h = image.size
    gen = np.random.Generator(np.random.PCG64(seed))
    noise = gen.integers(0, 2 * amplitude + 1, size=(h, w), dtype=np.uint8)
    n = Image.fromarray(noise)
    return ImageChops.add(image, Image.merge("RGB", (n, n, n)), scale=1.0, offset=-amplitude)
