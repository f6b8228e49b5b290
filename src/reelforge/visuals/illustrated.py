"""The ``illustrated`` image backend: an explainer-style illustration per scene, offline, from real icons.

Each scene's ``visual`` description and ``keywords`` pick 1-4 OpenMoji icons by MiniLM similarity (see
``icons.py``); they are laid out on the ``procedural`` backdrop of the video's style as a designed frame:
a large hero icon on a lit disc with an orbit ring, smaller supporting icons on their own discs joined to
it by dotted connectors, soft drop shadows for depth, and the bottom fifth of the frame kept free of
icons for subtitles. The backdrop's glow picks up the hero icon's own colour.

Deterministic: the same request gives the same PNG. After the icon embeddings are cached (once per
machine; about 10-30 s on two cores), a 2208x1242 still takes well under half a second.

OpenMoji is CC BY-SA 4.0: every visual carries its attribution in ``SceneVisual.credits``.
"""

from __future__ import annotations

import colorsys
import math
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from pydantic import Field

from ..backend import Backend, BackendOptions
from ..embed import default_embedder
from ..errors import VisualsError
from ..models import ImageRequest, SceneVisual, SpriteLayer, Storyboard, VisualPlan
from ..text import split_sentences
from .icons import CREDIT, Icon, Pick, choose_icons, font_path, icon_index, openmoji_version
from .layouts import Frame, Palette, write_layers
from .layouts import draw_plan as draw_layouts
from .plan import StoryPlanner, plan_storyboard, plan_title
from .procedural import (
    LO_DIV,
    MAX_SIDE,
    RGB,
    _background,
    _family,
    _far_shapes,
    _luma,
    _mix,
    _Rng,
    _vignette,
    _waves,
    palette_for,
)

# ---- icons as sprites ---------------------------------------------------------------------------

_font_lock = threading.Lock()
_sprites: OrderedDict[tuple[str, int], Image.Image] = OrderedDict()
_SPRITE_CACHE = 48
_extents: dict[str, float] = {}


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path()), size, layout_engine=ImageFont.Layout.RAQM)


def _ink_extent(icon: Icon) -> float:
    """The icon's longer ink side per pixel of font size (glyphs carry padding; measured once)."""
    found = _extents.get(icon.code)
    if found is None:
        probe = 96
        font = _font(probe)
        x0, y0, x1, y1 = (int(v) for v in font.getbbox(icon.text))
        canvas = Image.new("RGBA", (x1 - x0 + 8, y1 - y0 + 8), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text((4 - x0, 4 - y0), icon.text, font=font, embedded_color=True)
        box = canvas.getchannel("A").getbbox()
        found = max(box[2] - box[0], box[3] - box[1]) / probe if box else 1.0
        _extents[icon.code] = found
    return found


def icon_sprite(icon: Icon, size: int) -> Image.Image:
    """The icon as an RGBA image cropped to its ink, its longer side about ``size`` pixels."""
    size = max(8, int(size))
    key = (icon.code, size)
    with _font_lock:
        found = _sprites.get(key)
        if found is not None:
            _sprites.move_to_end(key)
            return found
        fs = max(8, round(size / max(_ink_extent(icon), 0.05)))
        font = _font(fs)
        bx0, by0, bx1, by1 = (int(v) for v in font.getbbox(icon.text))
        pad = max(2, fs // 16)
        canvas = Image.new("RGBA", (bx1 - bx0 + 2 * pad, by1 - by0 + 2 * pad), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text((pad - bx0, pad - by0), icon.text, font=font, embedded_color=True)
        box = canvas.getchannel("A").getbbox()
        sprite = canvas.crop(box) if box else canvas
        _sprites[key] = sprite
        while len(_sprites) > _SPRITE_CACHE:
            _sprites.popitem(last=False)
        return sprite


def dominant_color(sprite: Image.Image) -> RGB:
    """The icon's main colour: the mean of its saturated pixels (not the black outline, not white)."""
    small = np.asarray(sprite.resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
    rgb, alpha = small[..., :3], small[..., 3]
    mx, mn = rgb.max(axis=-1), rgb.min(axis=-1)
    sat = (mx - mn) / np.maximum(mx, 1e-6)
    pick = (alpha > 0.6) & (sat > 0.25) & (mx > 0.35)
    if not pick.any():
        pick = (alpha > 0.6) & (mx > 0.3)
    if not pick.any():
        return (150, 150, 150)
    weights = sat[pick] + 0.05
    mean = (rgb[pick] * weights[:, None]).sum(axis=0) / weights.sum()
    r, g, b = (round(float(c) * 255) for c in mean)
    return r, g, b


# ---- layout -----------------------------------------------------------------------------------

#: (cx, cy, diameter) per icon, hero first: centres as fractions of width/height, diameters as
#: fractions of the short side. Nothing reaches below 80 % of the height (subtitles live there) and
#: nothing comes closer than ~7 % to an edge (Ken Burns crops up to ~5 %).
Slot = tuple[float, float, float]
_LANDSCAPE: dict[int, tuple[tuple[Slot, ...], ...]] = {
    1: (((0.5, 0.43, 0.62),), ((0.38, 0.43, 0.6),)),
    2: (((0.36, 0.43, 0.56), (0.68, 0.42, 0.36)), ((0.4, 0.44, 0.58), (0.72, 0.36, 0.32))),
    3: (
        ((0.37, 0.43, 0.54), (0.69, 0.27, 0.3), (0.72, 0.6, 0.3)),
        ((0.5, 0.4, 0.5), (0.21, 0.52, 0.3), (0.79, 0.52, 0.3)),
    ),
    4: (
        ((0.34, 0.43, 0.5), (0.64, 0.21, 0.24), (0.75, 0.43, 0.24), (0.64, 0.65, 0.24)),
        ((0.5, 0.4, 0.48), (0.2, 0.3, 0.25), (0.8, 0.3, 0.25), (0.79, 0.63, 0.22)),
    ),
}
_PORTRAIT: dict[int, tuple[tuple[Slot, ...], ...]] = {
    1: (((0.5, 0.4, 0.8),),),
    2: (((0.5, 0.3, 0.66), (0.5, 0.6, 0.4)), ((0.42, 0.29, 0.62), (0.64, 0.6, 0.4))),
    3: (((0.5, 0.3, 0.64), (0.28, 0.6, 0.38), (0.72, 0.6, 0.38)),),
    4: (((0.5, 0.28, 0.6), (0.2, 0.58, 0.27), (0.5, 0.6, 0.27), (0.8, 0.58, 0.27)),),
}
_SQUARE: dict[int, tuple[tuple[Slot, ...], ...]] = {
    1: (((0.5, 0.42, 0.6),),),
    2: (((0.36, 0.37, 0.46), (0.75, 0.62, 0.3)),),
    3: (((0.36, 0.38, 0.46), (0.74, 0.26, 0.28), (0.72, 0.62, 0.28)),),
    4: (((0.5, 0.32, 0.42), (0.2, 0.67, 0.22), (0.5, 0.67, 0.22), (0.8, 0.67, 0.22)),),
}


def layout(n: int, w: int, h: int, rng: _Rng) -> list[tuple[float, float, float]]:
    """Pixel centres and radii for ``n`` icons (hero first), with a little per-scene jitter."""
    n = max(1, min(4, n))
    ratio = w / h
    table = _LANDSCAPE if ratio > 1.2 else _PORTRAIT if ratio < 1 / 1.2 else _SQUARE
    slots = rng.choice(table[n])
    mirror = ratio >= 1 / 1.2 and rng.chance(0.5)
    unit = min(w, h)
    out = []
    for cx, cy, d in slots:
        cx = (1.0 - cx if mirror else cx) + rng.uniform(-0.012, 0.012)
        cy += rng.uniform(-0.01, 0.01)
        r = d * unit / 2 * rng.uniform(0.97, 1.03)
        out.append((cx * w, cy * h, r))
    return out


# ---- drawing ----------------------------------------------------------------------------------


def _region(image: Image.Image, cx: float, cy: float, extent: float) -> tuple[int, int, int, int] | None:
    x0, y0 = max(0, math.floor(cx - extent)), max(0, math.floor(cy - extent))
    x1, y1 = min(image.width, math.ceil(cx + extent)), min(image.height, math.ceil(cy + extent))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _coverage(d: np.ndarray, r: float, alpha: float, inner: float | None = None) -> Image.Image:
    """An antialiased disc (or ring, when ``inner`` is given) as an "L" mask, from a distance field."""
    cover = np.clip(r - d + 0.5, 0.0, 1.0)
    if inner is not None:
        cover *= np.clip(d - inner + 0.5, 0.0, 1.0)
    return Image.fromarray((cover * (255.0 * alpha) + 0.5).astype(np.uint8))


def _gradient(size: tuple[int, int], lit: RGB, shade: RGB, light_angle: float) -> Image.Image:
    """A linear lit-to-shaded gradient (drawn small, stretched: it is smooth anyway)."""
    n = 24
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float32) / (n - 1) - 0.5
    t = np.clip(0.5 - (xs * math.cos(light_angle) + ys * math.sin(light_angle)), 0.0, 1.0)[..., None]
    a, b = np.asarray(lit, dtype=np.float32), np.asarray(shade, dtype=np.float32)
    small = Image.fromarray(np.clip(a + (b - a) * t + 0.5, 0, 255).astype(np.uint8))
    return small.resize(size, Image.Resampling.BILINEAR)


def drop_shadow(image: Image.Image, cx: float, cy: float, r: float, dark: RGB, strength: float) -> None:
    """A soft disc shadow, drawn and blurred at a quarter of the size, then stretched."""
    blur = r * 0.16
    box = _region(image, cx, cy, r + blur * 3)
    if box is None:
        return
    x0, y0, x1, y1 = box
    q = 1.0 / LO_DIV
    small = Image.new("L", (max(1, round((x1 - x0) * q)), max(1, round((y1 - y0) * q))), 0)
    sx, sy, sr = (cx - x0) * q, (cy - y0) * q, r * q
    ImageDraw.Draw(small).ellipse((sx - sr, sy - sr, sx + sr, sy + sr), fill=round(255 * strength))
    mask = small.filter(ImageFilter.GaussianBlur(blur * q)).resize(
        (x1 - x0, y1 - y0), Image.Resampling.BILINEAR
    )
    image.paste(dark, box, mask)


def badge(
    image: Image.Image,
    cx: float,
    cy: float,
    r: float,
    *,
    lit: RGB,
    shade: RGB,
    dark: RGB,
    shadow: float,
    offset: tuple[float, float],
    light_angle: float,
    halo: RGB | None = None,
    ring: RGB | None = None,
    ring_radius: float = 0.0,
    ring_width: float = 2.0,
) -> None:
    """A lit disc on a soft drop shadow, optionally inside a halo disc and a thin orbit ring.

    Masks are analytic (a distance field: clean antialiased edges at any size); compositing is Pillow's.
    """
    drop_shadow(image, cx + offset[0], cy + offset[1], r, dark, shadow)
    ring_radius = ring_radius or r * 1.3
    reach = max(r * (1.1 if halo is not None else 1.0), ring_radius if ring is not None else 0.0) + 2
    box = _region(image, cx, cy, reach)
    if box is None:
        return
    x0, y0, x1, y1 = box
    size = (x1 - x0, y1 - y0)
    ys, xs = np.ogrid[y0:y1, x0:x1]
    dx, dy = xs.astype(np.float32) + 0.5 - cx, ys.astype(np.float32) + 0.5 - cy
    d = np.sqrt(dx * dx + dy * dy)
    if halo is not None:
        image.paste(
            _gradient(size, halo, _mix(halo, dark, 0.2), light_angle), box, _coverage(d, r * 1.1, 0.55)
        )
    if ring is not None:
        image.paste(ring, box, _coverage(d, ring_radius, 0.55, inner=ring_radius - ring_width))
    image.paste(_gradient(size, lit, shade, light_angle), box, _coverage(d, r, 0.96))


def dotted_arc(
    image: Image.Image, p0: tuple[float, float], p1: tuple[float, float], bend: float, color: RGB, dot: float
) -> None:
    """Dots along a quadratic curve from ``p0`` to ``p1`` (an explainer 'connector'), fading at the ends."""
    (x0, y0), (x1, y1) = p0, p1
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    nx, ny = -(y1 - y0), x1 - x0
    length = math.hypot(nx, ny) or 1.0
    qx, qy = mx + nx / length * bend, my + ny / length * bend
    steps = max(2, int(length / (dot * 3.4)))
    pts = []
    for k in range(1, steps):
        u = k / steps
        x = (1 - u) ** 2 * x0 + 2 * (1 - u) * u * qx + u * u * x1
        y = (1 - u) ** 2 * y0 + 2 * (1 - u) * u * qy + u * u * y1
        pts.append((x, y, 0.55 + 0.4 * math.sin(math.pi * u)))
    box = _region(image, (min(p[0] for p in pts) + max(p[0] for p in pts)) / 2,
                  (min(p[1] for p in pts) + max(p[1] for p in pts)) / 2,
                  max(max(p[0] for p in pts) - min(p[0] for p in pts),
                      max(p[1] for p in pts) - min(p[1] for p in pts)) / 2 + dot * 2)  # fmt: skip
    if box is None:
        return
    ss = 3  # supersampled, then reduced: round, antialiased dots
    mask = Image.new("L", ((box[2] - box[0]) * ss, (box[3] - box[1]) * ss), 0)
    draw = ImageDraw.Draw(mask)
    for x, y, a in pts:
        px, py, pr = (x - box[0]) * ss, (y - box[1]) * ss, dot * ss
        draw.ellipse((px - pr, py - pr, px + pr, py + pr), fill=round(255 * a))
    image.paste(color, box, mask.reduce(ss))


def paste_icon(
    image: Image.Image, sprite: Image.Image, cx: float, cy: float, dark: RGB, light_angle: float
) -> None:
    """The icon centred on (cx, cy) with a soft contact shadow under it."""
    w, h = sprite.size
    x, y = round(cx - w / 2), round(cy - h / 2)
    off = max(w, h) * 0.045
    sx, sy = -math.cos(light_angle) * off, -math.sin(light_angle) * off
    blur = max(w, h) * 0.035
    pad = math.ceil(blur * 2.5)
    q = 1.0 / LO_DIV
    full = (w + 2 * pad, h + 2 * pad)
    small = Image.new("L", (max(1, round(full[0] * q)), max(1, round(full[1] * q))), 0)
    alpha = sprite.getchannel("A").resize((max(1, round(w * q)), max(1, round(h * q))), Image.Resampling.BOX)
    small.paste(alpha, (round(pad * q), round(pad * q)))
    shadow = small.filter(ImageFilter.GaussianBlur(blur * q)).point(lambda v: round(v * 0.32))
    image.paste(
        dark, (round(x - pad + sx), round(y - pad + sy)), shadow.resize(full, Image.Resampling.BILINEAR)
    )
    image.paste(sprite, (x, y), sprite)


def _strong(c: RGB) -> RGB:
    """``c`` saturated and deep enough to carry white text (number discs, underlines)."""
    h, s, v = colorsys.rgb_to_hsv(c[0] / 255, c[1] / 255, c[2] / 255)
    r, g, b = colorsys.hsv_to_rgb(h, max(s, 0.6), min(max(v, 0.55), 0.78))
    return round(r * 255), round(g * 255), round(b * 255)


def _hsv_push(c: RGB, sat: float, val: float) -> RGB:
    h, s, v = colorsys.rgb_to_hsv(c[0] / 255, c[1] / 255, c[2] / 255)
    r, g, b = colorsys.hsv_to_rgb(h, min(1.0, s * sat), min(1.0, v * val))
    return round(r * 255), round(g * 255), round(b * 255)


def _colors(request: ImageRequest) -> tuple[list[RGB], list[RGB], RGB, RGB, bool]:
    pal = palette_for(request)
    stops, accents, dark, light = pal[0:3], pal[3:6], pal[6], pal[7]
    return stops, accents, dark, light, sum(_luma(s) for s in stops) / 3 < 110


def backdrop(request: ImageRequest, tint: RGB, rng: _Rng, *, detail: int = 2) -> Image.Image:
    """The style's gradient, glows (one in ``tint``), far shapes and soft waves, at the request's size."""
    w, h = request.width, request.height
    fam = _family(request.style)
    stops, accents, dark, light, darkish = _colors(request)
    hero_tint = _hsv_push(_mix(accents[0], tint, 0.55), 1.0, 1.0 if darkish else 1.05)
    lw, lh = max(4, -(-w // LO_DIV)), max(4, -(-h // LO_DIV))
    lo = _background(lw, lh, stops, [hero_tint, *accents[1:]], light, rng, fam.glow)
    if fam.tonal_mid:
        _far_shapes(lo, [_mix(c, light, 0.2) for c in stops], fam, rng, detail)
        _waves(lo, [_mix(c, light, 0.12) for c in stops] + [_mix(stops[0], dark, 0.5)], dark, rng, detail)
    else:
        _far_shapes(lo, [hero_tint, *accents[1:], light], fam, rng, detail)
        _waves(lo, [*stops, *accents], dark, rng, detail)
    if fam.vignette > 0:  # at low resolution: it is smooth, and the icons stay clear of the edges
        lo = _vignette(lo, lw, lh, dark, fam.vignette * 0.8)
    return lo.resize((w, h), Image.Resampling.BILINEAR)  # soft content: bilinear is enough, and cheaper


def render(request: ImageRequest, picks: list[Pick], *, detail: int = 2) -> Image.Image:
    """Draw the illustration for ``request`` with ``picks`` (hero first) at exactly the requested size: all
    icons on the still (the look before visual plans; kept for ``plans = false``)."""
    w, h = request.width, request.height
    unit = min(w, h)
    _, accents, dark, light, darkish = _colors(request)
    scene = request.scene
    rng = _Rng("reelforge.illustrated/1", request.style, request.seed, request.title, scene.index,
               scene.visual, "|".join(scene.keywords), "|".join(p.icon.code for p in picks))  # fmt: skip
    light_angle = rng.uniform(-2.5, -0.65)  # light from the top
    slots = layout(len(picks), w, h, rng)
    sprites = [icon_sprite(p.icon, round(r * 2 * (0.7 if k == 0 else 0.68))) for k, (p, (_, _, r)) in
               enumerate(zip(picks, slots, strict=False))]  # fmt: skip
    colors = [dominant_color(s) for s in sprites]
    image = backdrop(request, colors[0], rng, detail=detail)

    # connectors first (under the discs)
    hx, hy, hr = slots[0]
    for k, (x, y, r) in enumerate(slots[1:], start=1):
        ang = math.atan2(y - hy, x - hx)
        p0 = (hx + math.cos(ang) * hr * 1.2, hy + math.sin(ang) * hr * 1.2)
        p1 = (x - math.cos(ang) * r * 1.2, y - math.sin(ang) * r * 1.2)
        bend = unit * 0.05 * (1 if k % 2 else -1)
        dotted_arc(image, p0, p1, bend, _mix(light, colors[k], 0.2), max(1.5, unit * 0.005))

    # discs, rings and icons: the hero last so it sits on top
    sx, sy = -math.cos(light_angle) * unit * 0.02, -math.sin(light_angle) * unit * 0.02
    order = [*range(1, len(slots)), 0]
    for k in order:
        x, y, r = slots[k]
        tint = colors[k]
        face = _mix(light, tint, 0.16 if darkish else 0.22)
        if not darkish:
            face = _mix(face, (255, 255, 255), 0.35)
        lit, shade = _mix(face, (255, 255, 255), 0.35), _mix(face, tint, 0.18)
        hero = k == 0
        halo = _mix(accents[0], tint, 0.5)
        # the orbit ring stays clear of the supporting discs (drawn only where it has room)
        gap = min((math.hypot(sx_ - x, sy_ - y) - sr for sx_, sy_, sr in slots[1:]), default=r * 2)
        ring_r = min(r * 1.3, gap - unit * 0.025)
        badge(image, x, y, r, lit=lit, shade=shade, dark=dark, shadow=0.42 if darkish else 0.3,
              offset=(sx, sy), light_angle=light_angle, halo=halo if hero else None,
              ring=_mix(light, halo, 0.4) if hero and ring_r > r * 1.16 else None, ring_radius=ring_r,
              ring_width=max(2.0, unit * 0.004))  # fmt: skip
        paste_icon(image, sprites[k], x, y, dark, light_angle)

    return image


# ---- the backend --------------------------------------------------------------------------------


class IllustratedImages(Backend):
    """Explainer illustrations from OpenMoji icons matched to each scene by MiniLM similarity."""

    name: ClassVar[str] = "illustrated"
    # 2: no word-arrow icons (BACK, TOP); 3: colour words (muted) are style; 4: an icon from the narration;
    # 5: ... only when it relates to the scene; 6: supporting icons too; 7: from the opening sentence only;
    # 8: the icons must fit the video's title; colour-only keywords and prohibition signs are out
    # 9: visual plans: a layout per scene, drawn as animated layers over a backdrop
    version: ClassVar[str] = "9"

    @staticmethod
    def narration_key(narration: str) -> str:
        """The part of the narration a picture depends on: its opening sentence (duration fitting drops
        trailing sentences, never the first, so a re-render of the saved storyboard finds the same picture)."""
        sentences = split_sentences(narration)
        return sentences[0] if sentences else ""

    description: ClassVar[str] = (
        "explainer illustrations: OpenMoji icons picked by meaning (MiniLM) on styled backdrops; offline"
    )

    class Options(BackendOptions):
        #: at most this many icons per scene (the hero plus supporting icons)
        max_icons: Annotated[int, Field(ge=1, le=4)] = 4
        #: how well a term must match an icon (cosine, plus small word-match bonuses) to show it
        min_score: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
        #: icons that may come from what the scene says rather than its visual description (0 = none)
        narration_icons: Annotated[int, Field(ge=0, le=2)] = 1
        #: backdrop detail (far shapes and waves), as in ``procedural``
        detail: Annotated[int, Field(ge=1, le=6)] = 2
        #: draw each scene's visual plan as animated layers (icons, labels, arrows, counters); ``false``:
        #: one still with every icon on it, as before plans existed
        plans: bool = True
        #: PNG zlib level: 1 is fast, 9 is small
        compress_level: Annotated[int, Field(ge=0, le=9)] = 1
        #: where the icon embeddings are cached (the pipeline passes ``<cache>/embeddings``); not part
        #: of the identity. Default: ``$REELFORGE_CACHE_DIR/embeddings`` or ``~/.cache/reelforge/embeddings``
        cache_dir: str | None = None

    options: Options

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        ident["options"].pop("cache_dir", None)
        ident["icons"] = f"openmoji-{openmoji_version()}"
        ident["embedder"] = default_embedder().name
        return ident

    def _index(self) -> Any:
        cache_dir = Path(self.options.cache_dir).expanduser() if self.options.cache_dir else None
        return icon_index(default_embedder(), cache_dir)

    def plan_storyboard(self, storyboard: Storyboard) -> Storyboard:
        """Every scene with a visual plan (scenes that have one keep it, repaired where it cannot be drawn)."""
        if not self.options.plans:
            return storyboard
        return plan_storyboard(storyboard, self._index())

    def scene_planner(self, title: str) -> StoryPlanner | None:
        """Plans a streamed storyboard scene by scene (``None`` when plans are off)."""
        return StoryPlanner(self._index(), title) if self.options.plans else None

    def title_plan(self, storyboard: Storyboard) -> VisualPlan | None:
        """The title card's plan (``None`` when plans are off: the renderer writes the title itself)."""
        return plan_title(storyboard, self._index()) if self.options.plans else None

    def pick(self, request: ImageRequest) -> list[Pick]:
        """The icons this backend draws for ``request`` without a plan (hero first)."""
        return choose_icons(
            self._index(),
            request.scene.visual,
            request.scene.keywords,
            max_icons=self.options.max_icons,
            min_score=self.options.min_score,
            narration=self.narration_key(request.scene.narration),
            narration_icons=self.options.narration_icons,
            topic=request.title,
        )

    def draw_plan(
        self, request: ImageRequest, plan: VisualPlan, folder: Path
    ) -> tuple[Image.Image, tuple[SpriteLayer, ...]]:
        """The backdrop and the plan's layers (written into ``folder``) for ``request``."""
        index = self._index()
        icons = {icon.code: icon for icon in index.icons}
        fw, fh = request.frame_width or request.width, request.frame_height or request.height
        _, accents, dark, light, _ = _colors(request)
        first = next((icons[i.icon] for i in plan.items if i.icon in icons), None)
        tint = dominant_color(icon_sprite(first, 96)) if first is not None else accents[0]
        scene = request.scene
        rng = _Rng("reelforge.illustrated/2", request.style, request.seed, request.title, scene.index, scene.role,
                   plan.model_dump_json())  # fmt: skip
        image = backdrop(request, tint, rng, detail=self.options.detail)
        ink = _mix(dark, (0, 0, 0), 0.35)
        pal = Palette(light=_mix(light, (255, 255, 255), 0.55), dark=dark, accent=_strong(accents[0]),
                      accent2=_strong(accents[1]), ink=ink)  # fmt: skip
        placed = draw_layouts(plan, Frame(fw, fh), pal, icons, icon_sprite, title=request.title, tint=tint,
                              card=scene.role == "title")  # fmt: skip
        return image, write_layers(placed, folder, self.options.compress_level)

    def _plan_alone(self, request: ImageRequest) -> VisualPlan:
        """A scene asked for on its own (no plan in it): planned as a one-scene video."""
        length = max(5.0, request.scene.duration)
        scene = request.scene.model_copy(update={"index": 0, "duration": length})
        alone = Storyboard(title=request.title, prompt=request.title, duration=length, title_duration=0,
                           scenes=(scene,))  # fmt: skip
        plan = self.plan_storyboard(alone).scenes[0].plan
        return plan if plan is not None else VisualPlan()

    def execute(self, request: ImageRequest, out_path: Path) -> SceneVisual:
        w, h = request.width, request.height
        if not (16 <= w <= MAX_SIDE and 16 <= h <= MAX_SIDE):
            raise VisualsError(
                f"cannot draw a {w}x{h} image for scene {request.scene.index}",
                hint=f"each side must be 16 to {MAX_SIDE} pixels",
            )
        layers: tuple[SpriteLayer, ...] = ()
        try:
            if self.options.plans:
                plan = request.scene.plan or self._plan_alone(request)
                image, layers = self.draw_plan(request, plan, out_path.parent)
            else:
                image = render(request, self.pick(request), detail=self.options.detail)
            image.save(out_path, format="PNG", compress_level=self.options.compress_level)
        except OSError as exc:
            raise VisualsError(
                f"could not write the image for scene {request.scene.index} to {out_path}: {exc}"
            ) from None
        return SceneVisual(index=request.scene.index, path=out_path, width=w, height=h, credits=(CREDIT,),
                           layers=layers)  # fmt: skip
