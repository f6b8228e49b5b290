"""Drawing a visual plan: the sprites (icon badges, labels, arrows, counters, phrases) and where they sit.

Each layout is a small function that places sprites as fractions of the frame and says what brings each
one in (``SpriteLayer.cue``, ``order``, ``enter``); the timeline turns that into keyframes from the word
times, and the renderers move them. Everything is drawn for the frame size (not the larger still), clear
of the bottom fifth where the subtitles live.

Sprites are straight-alpha RGBA composed with ``Image.alpha_composite`` from solid fills and coverage
masks, so their edges carry no dark or light fringe when they are blended over the picture.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ..models import Entrance, PlanItem, SpriteLayer, VisualPlan
from ..tools import find_font
from .icons import Icon

RGB = tuple[int, int, int]
SS = 3  # supersampling of drawn shapes


@dataclass(frozen=True)
class Palette:
    light: RGB
    dark: RGB
    accent: RGB
    accent2: RGB
    ink: RGB  # text on light cards


@dataclass
class Placed:
    """A sprite and how it is placed and brought in (before it is written to disk)."""

    image: Image.Image
    x: float
    y: float
    cue: str | None
    order: int
    enter: Entrance
    name: str
    frames: tuple[Image.Image, ...] = ()
    reveal_axis: str = "x"


# ---- primitives ---------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _font(size: int, path: str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, max(6, size))


def _font_path() -> str:
    return str(find_font())


def solid(size: tuple[int, int], rgb: RGB, mask: Image.Image, opacity: float = 1.0) -> Image.Image:
    """A straight-alpha RGBA fill of ``rgb`` with ``mask`` (an "L" image) as its alpha."""
    alpha = mask if opacity >= 1.0 else mask.point(lambda v: round(v * opacity))
    return Image.merge("RGBA", (*(Image.new("L", size, c) for c in rgb), alpha))


def _over(base: Image.Image, top: Image.Image, at: tuple[int, int] = (0, 0)) -> Image.Image:
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    layer.paste(top, at)
    return Image.alpha_composite(base, layer)


def _shadow(
    mask: Image.Image, blur: float, opacity: float, dark: RGB, offset: tuple[int, int]
) -> Image.Image:
    """A soft drop shadow of ``mask`` (blurred at a quarter size: it is smooth anyway)."""
    w, h = mask.size
    small = mask.resize((max(1, w // 4), max(1, h // 4)), Image.Resampling.BOX)
    small = small.filter(ImageFilter.GaussianBlur(max(0.5, blur / 4)))
    soft = small.resize((w, h), Image.Resampling.BILINEAR)
    shifted = Image.new("L", (w, h), 0)
    shifted.paste(soft, offset)
    return solid((w, h), dark, shifted, opacity)


def _disc_mask(size: int, r: float, cx: float, cy: float) -> Image.Image:
    ys, xs = np.ogrid[0:size, 0:size]
    d = np.sqrt((xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2)
    return Image.fromarray((np.clip(r - d + 0.5, 0, 1) * 255 + 0.5).astype(np.uint8))


def _gradient(size: tuple[int, int], top: RGB, bottom: RGB) -> Image.Image:
    t = np.linspace(0.0, 1.0, size[1], dtype=np.float32)[:, None, None]
    a, b = np.asarray(top, np.float32), np.asarray(bottom, np.float32)
    col = np.clip(a + (b - a) * t + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(np.repeat(col, size[0], axis=1))


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def badge(icon: Icon | None, diameter: int, pal: Palette, tint: RGB | None = None,
          sprite: Callable[[Icon, int], Image.Image] | None = None, ring: bool = False) -> Image.Image:  # fmt: skip
    """An icon on a lit disc with a soft shadow (and an orbit ring for a hero)."""
    d = max(8, int(diameter))
    pad = max(4, round(d * 0.14))
    size = d + 2 * pad
    c = size / 2
    out = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    disc = _disc_mask(size, d / 2, c, c)
    out = Image.alpha_composite(out, _shadow(disc, d * 0.08, 0.38, pal.dark, (0, round(d * 0.04))))
    face = _mix(pal.light, tint or pal.accent, 0.18)
    top, bottom = _mix(face, (255, 255, 255), 0.45), _mix(face, tint or pal.accent, 0.22)
    grad = _gradient((size, size), top, bottom)
    out = Image.alpha_composite(out, Image.merge("RGBA", (*grad.split(), disc)))
    if ring:
        ring_mask = np.asarray(_disc_mask(size, d / 2 + pad * 0.55, c, c), np.float32) - np.asarray(
            _disc_mask(size, d / 2 + pad * 0.55 - max(2.0, d * 0.012), c, c), np.float32
        )
        out = Image.alpha_composite(
            out,
            solid((size, size), pal.light, Image.fromarray(np.clip(ring_mask, 0, 255).astype(np.uint8)), 0.7),
        )
    if icon is not None and sprite is not None:
        ic = sprite(icon, round(d * 0.66))
        out = _over(out, ic, (round(c - ic.width / 2), round(c - ic.height / 2)))
    return out


def _wrap(text: str, font: ImageFont.FreeTypeFont, max_w: int, max_lines: int) -> list[str]:
    words = text.split()
    lines: list[str] = []
    cur = ""
    for w in words:
        trial = f"{cur} {w}".strip()
        if font.getlength(trial) <= max_w or not cur:
            cur = trial
        else:
            lines.append(cur)
            cur = w
    if cur:
        lines.append(cur)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], " ".join(lines[max_lines - 1 :])]
        while font.getlength(lines[-1] + "…") > max_w and " " in lines[-1]:
            lines[-1] = lines[-1].rsplit(" ", 1)[0]
        lines[-1] = lines[-1].rstrip(",;:") + "…"
    return lines


def fit_text(text: str, size: int, max_w: int, max_lines: int) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest font (from ``size`` down to half of it) at which ``text`` fits ``max_lines`` lines."""
    path = _font_path()
    s = size
    while True:
        font = _font(s, path)
        lines = _wrap(text, font, max_w, max_lines)
        fits = all(font.getlength(line) <= max_w for line in lines) and not lines[-1].endswith("…")
        if fits or s <= size // 2:
            return font, lines
        s = max(size // 2, round(s * 0.9))


def text_sprite(text: str, size: int, max_w: int, *, max_lines: int = 2, fill: RGB = (255, 255, 255),
                outline: RGB = (24, 24, 28), align: str = "center", shadow: float = 0.45,
                width: int | None = None) -> Image.Image:  # fmt: skip
    """Bold text with an outline and a soft shadow, on a transparent canvas (``width``: fixed canvas width)."""
    font, lines = fit_text(text, size, max_w, max_lines)
    stroke = max(1, round(font.size * 0.07))
    asc, desc = font.getmetrics()
    line_h = round((asc + desc) * 1.08)
    tw = max(round(font.getlength(line)) for line in lines) + 2 * stroke
    pad = stroke + max(2, round(font.size * 0.12))
    w = (width or tw) + 2 * pad
    h = line_h * len(lines) + 2 * pad
    fill_mask = Image.new("L", (w, h), 0)
    stroke_mask = Image.new("L", (w, h), 0)
    fd, sd = ImageDraw.Draw(fill_mask), ImageDraw.Draw(stroke_mask)
    for k, line in enumerate(lines):
        lw = font.getlength(line)
        x = pad + (((width or tw) - lw) / 2 if align == "center" else stroke)
        y = pad + k * line_h
        sd.text((x, y), line, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
        fd.text((x, y), line, font=font, fill=255)
    out = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    if shadow > 0:
        out = Image.alpha_composite(out, _shadow(stroke_mask, font.size * 0.12, shadow, (0, 0, 0),
                                                 (0, max(1, round(font.size * 0.05)))))  # fmt: skip
    out = Image.alpha_composite(out, solid((w, h), outline, stroke_mask))
    return Image.alpha_composite(out, solid((w, h), fill, fill_mask))


def _round_rect_mask(w: int, h: int, r: float) -> Image.Image:
    big = Image.new("L", (w * SS, h * SS), 0)
    ImageDraw.Draw(big).rounded_rectangle((0, 0, w * SS - 1, h * SS - 1), radius=r * SS, fill=255)
    return big.reduce(SS)


def pill(text: str, size: int, max_w: int, pal: Palette, *, lead: Image.Image | None = None,
         max_lines: int = 2, opacity: float = 0.92) -> Image.Image:  # fmt: skip
    """A label: dark text on a light rounded card (with an optional ``lead`` image at its left)."""
    font, lines = fit_text(text, size, max_w, max_lines)
    asc, desc = font.getmetrics()
    line_h = round((asc + desc) * 1.05)
    padx, pady = round(font.size * 0.7), round(font.size * 0.38)
    tw = max(round(font.getlength(line)) for line in lines)
    lead_w = lead.width + round(font.size * 0.45) if lead is not None else 0
    inner_h = max(line_h * len(lines), lead.height if lead is not None else 0)
    w, h = tw + lead_w + 2 * padx, inner_h + 2 * pady
    margin = max(3, round(font.size * 0.3))
    cw, ch = w + 2 * margin, h + 2 * margin
    card = Image.new("L", (cw, ch), 0)
    card.paste(_round_rect_mask(w, h, min(h / 2, font.size * 0.9)), (margin, margin))
    out = Image.new("RGBA", (cw, ch), (0, 0, 0, 0))
    out = Image.alpha_composite(
        out, _shadow(card, font.size * 0.25, 0.35, pal.dark, (0, max(1, int(font.size) // 8)))
    )
    out = Image.alpha_composite(out, solid((cw, ch), pal.light, card, opacity))
    x0, y0 = margin + padx, margin + pady
    if lead is not None:
        out = _over(out, lead, (x0, y0 + (inner_h - lead.height) // 2))
        x0 += lead_w
    text_mask = Image.new("L", (cw, ch), 0)
    draw = ImageDraw.Draw(text_mask)
    ty = y0 + (inner_h - line_h * len(lines)) // 2
    for k, line in enumerate(lines):
        draw.text((x0, ty + k * line_h), line, font=font, fill=255)
    return Image.alpha_composite(out, solid((cw, ch), pal.ink, text_mask))


def arrow(length: int, thickness: int, pal: Palette, vertical: bool = False) -> Image.Image:
    """A rounded arrow pointing right (or down), light with a soft shadow."""
    t = max(3, thickness)
    head = round(t * 2.6)
    w, h = length, head + 2 * t
    big = Image.new("L", (w * SS, h * SS), 0)
    d = ImageDraw.Draw(big)
    cy = h * SS / 2
    d.rounded_rectangle((t * SS, cy - t * SS / 2, (w - head * 0.8) * SS, cy + t * SS / 2), radius=t * SS / 2,
                        fill=255)  # fmt: skip
    d.polygon([((w - head * 1.05) * SS, cy - head * SS / 2), ((w - t * 0.4) * SS, cy),
               ((w - head * 1.05) * SS, cy + head * SS / 2)], fill=255)  # fmt: skip
    mask = big.reduce(SS)
    out = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    out = Image.alpha_composite(out, _shadow(mask, t * 0.8, 0.35, pal.dark, (0, max(1, t // 3))))
    out = Image.alpha_composite(out, solid((w, h), pal.light, mask, 0.95))
    return out.transpose(Image.Transpose.ROTATE_270) if vertical else out


def bar(length: int, thickness: int, color: RGB) -> Image.Image:
    mask = _round_rect_mask(length, thickness, thickness / 2)
    return solid((length, thickness), color, mask)


def number_disc(n: int, diameter: int, pal: Palette) -> Image.Image:
    size = max(8, diameter)
    out = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    out = Image.alpha_composite(
        out, solid((size, size), pal.accent, _disc_mask(size, size / 2, size / 2, size / 2))
    )
    font = _font(round(size * 0.56), _font_path())
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).text((size / 2, size / 2), str(n), font=font, fill=255, anchor="mm")
    return Image.alpha_composite(out, solid((size, size), (255, 255, 255), mask))


# ---- numbers ------------------------------------------------------------------------------------


def count_values(number: str, steps: int = 16) -> list[str]:
    """The values a counter shows on its way up to ``number`` (as written), ease-out, ending on it."""
    m = re.match(r"^\s*([\d,]*\.?\d+)(.*)$", number)
    if not m:
        return [number]
    digits, rest = m.group(1), m.group(2)
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    value = float(digits.replace(",", ""))
    grouped = "," in digits
    out: list[str] = []
    for k in range(steps):
        u = k / (steps - 1)
        v = value * (1 - (1 - u) ** 3)
        text = f"{v:,.{decimals}f}" if grouped else f"{v:.{decimals}f}"
        if not out or out[-1] != text + rest:
            out.append(text + rest)
    out[-1] = number
    return out


def pad_to(images: list[Image.Image]) -> list[Image.Image]:
    """The same canvas for every image (centred): a counter's frames must have one size."""
    w = max(i.width for i in images)
    h = max(i.height for i in images)
    w, h = w + w % 2, h + h % 2
    out = []
    for i in images:
        c = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        c.paste(i, ((w - i.width) // 2, (h - i.height) // 2))
        out.append(c)
    return out


# ---- layouts ------------------------------------------------------------------------------------


class Frame:
    """The frame's geometry: its size, the short side ``u``, portrait or not."""

    def __init__(self, width: int, height: int) -> None:
        self.w, self.h = width, height
        self.u = min(width, height)
        self.portrait = height > width * 1.2
        self.square = not self.portrait and width < height * 1.2


def _icon_for(item: PlanItem, icons: dict[str, Icon]) -> Icon | None:
    return icons.get(item.icon) if item.icon else None


def draw_plan(plan: VisualPlan, frame: Frame, pal: Palette, icons: dict[str, Icon],
              sprite: Callable[[Icon, int], Image.Image], *, title: str = "", tint: RGB | None = None,
              card: bool = False) -> list[Placed]:  # fmt: skip
    """The sprites of ``plan`` for a frame, in drawing order. ``card``: the title card."""
    fn = {
        "hero": _hero, "process": _process, "comparison": _comparison, "list": _list, "stat": _stat,
        "phrase": _phrase, "closing": _closing,
    }[plan.layout]  # fmt: skip
    if card:
        return _title_card(plan, frame, pal, icons, sprite, tint)
    return fn(plan, frame, pal, icons, sprite, tint, title)


Layout = Callable[..., list[Placed]]


def _label_below(item: PlanItem, f: Frame, pal: Palette, x: float, y: float, max_w: float,
                 order: int, size: float = 0.052) -> Placed:  # fmt: skip
    img = pill(item.label, round(f.u * size), round(max_w * f.w), pal)
    return Placed(
        img, x, y + img.height / 2 / f.h, item.cue or item.label, order, "rise", f"label:{item.label}"
    )


def _hero(plan: VisualPlan, f: Frame, pal: Palette, icons: dict[str, Icon], sprite: Callable[..., Image.Image],
          tint: RGB | None, title: str) -> list[Placed]:  # fmt: skip
    items = list(plan.items) or [PlanItem(label=title or "…", icon="")]
    hero, support = items[0], items[1:3]
    mirror = plan.variant % 2 == 1
    out: list[Placed] = []
    if f.portrait:
        hx, hy, hd = 0.5, 0.25, 0.52
        spots = [(0.27, 0.62), (0.73, 0.62)]
    elif support:
        hx, hy, hd = (0.62 if mirror else 0.38), 0.37, 0.46
        spots = [((0.2 if mirror else 0.8), 0.19), ((0.2 if mirror else 0.8), 0.55)]
    else:
        hx, hy, hd = (0.56 if mirror else 0.44), 0.36, 0.52
        spots = []
    hero_icon = _icon_for(hero, icons)
    sd = 0.22 if not f.portrait else 0.3
    # connectors first (under the discs), drawn from the hero towards each supporting icon
    for k, it in enumerate(support):
        sx, sy = spots[k]
        x0, y0 = hx * f.w, hy * f.h
        x1, y1 = sx * f.w, sy * f.h
        vertical = abs(y1 - y0) > abs(x1 - x0)
        gap = (hd + sd) / 2 * f.u * 0.62
        length = (abs(y1 - y0) if vertical else abs(x1 - x0)) - gap
        if length > f.u * 0.06:
            img = bar(round(length), max(3, round(f.u * 0.008)), _mix(pal.light, tint or pal.accent, 0.25))
            if vertical:
                img = img.rotate(90, expand=True)
            mx, my = (x0 + x1) / 2 / f.w, (y0 + y1) / 2 / f.h
            if vertical:
                mx = sx
            else:
                my = sy
            flip = (x1 < x0) if not vertical else (y1 < y0)
            if flip:
                img = img.transpose(
                    Image.Transpose.FLIP_LEFT_RIGHT if not vertical else Image.Transpose.FLIP_TOP_BOTTOM
                )
            out.append(Placed(img, mx, my, it.cue or it.label, 1 + 2 * k, "draw", f"link:{it.label}",
                              reveal_axis="y" if vertical else "x"))  # fmt: skip
    if hero_icon is not None:
        out.append(Placed(badge(hero_icon, round(hd * f.u), pal, tint, sprite, ring=True), hx, hy,
                          hero.cue or hero.label, 0, "pop", f"icon:{hero.label}"))  # fmt: skip
        out.append(_label_below(hero, f, pal, hx, hy + hd * f.u * 0.5 / f.h + 0.035, 0.4, 0))
    else:
        img = text_sprite(hero.label, round(f.u * 0.12), round(f.w * 0.7))
        out.append(Placed(img, hx, hy, hero.cue or hero.label, 0, "rise", f"text:{hero.label}"))
    for k, it in enumerate(support):
        sx, sy = spots[k]
        ic = _icon_for(it, icons)
        if ic is not None:
            out.append(Placed(badge(ic, round(sd * f.u), pal, None, sprite), sx, sy, it.cue or it.label, 2 + 2 * k,
                              "pop", f"icon:{it.label}"))  # fmt: skip
            out.append(_label_below(it, f, pal, sx, sy + sd * f.u * 0.5 / f.h + 0.01, 0.3, 2 + 2 * k, 0.042))
    return out


def _row_positions(n: int, f: Frame) -> list[tuple[float, float]]:
    if f.portrait:
        top, bottom = 0.14, 0.68
        return [(0.5, top + (bottom - top) * k / max(1, n - 1)) for k in range(n)]
    left, right = (0.16, 0.84) if n > 2 else (0.27, 0.73)
    return [(left + (right - left) * k / max(1, n - 1), 0.4) for k in range(n)]


def _process(plan: VisualPlan, f: Frame, pal: Palette, icons: dict[str, Icon], sprite: Callable[..., Image.Image],
             tint: RGB | None, title: str) -> list[Placed]:  # fmt: skip
    items = list(plan.items)[:4]
    n = len(items)
    pos = _row_positions(n, f)
    if f.portrait:
        step = (pos[1][1] - pos[0][1]) * f.h if n > 1 else f.h * 0.3
        d = min(0.3 * f.u, step * 0.62)
    else:
        step = (pos[1][0] - pos[0][0]) * f.w if n > 1 else f.w * 0.3
        d = min(0.3 * f.u, step * 0.6)
    # each step's main sprite first (a badge, or its words on a card when it has no icon): the arrows run
    # between their edges
    mains: list[Image.Image] = []
    for k, it in enumerate(items):
        ic = _icon_for(it, icons)
        if ic is not None:
            mains.append(badge(ic, round(d), pal, tint if k == 0 else None, sprite))
        else:
            mains.append(
                pill(it.label, round(f.u * 0.06), round(min(step * 0.9, f.w * 0.4)), pal, max_lines=3)
            )
    out: list[Placed] = []
    for k, it in enumerate(items):
        x, y = pos[k]
        ic = _icon_for(it, icons)
        order = 2 * k
        if k > 0:  # the arrow from the previous step draws itself just before this one comes in
            px, py = pos[k - 1]
            thick = max(3, round(f.u * 0.014))
            if f.portrait:
                reach = (mains[k - 1].height + mains[k].height) / 2 * 0.86
                img = arrow(max(8, round(step - reach - f.u * 0.03)), thick, pal, vertical=True)
                out.append(Placed(img, x, (py + y) / 2, it.cue or it.label, order - 1, "draw", f"arrow:{k}",
                                  reveal_axis="y"))  # fmt: skip
            else:
                reach = (mains[k - 1].width + mains[k].width) / 2 * 0.86
                img = arrow(max(8, round(step - reach - f.u * 0.03)), thick, pal)
                gap = (mains[k - 1].width - mains[k].width) / 4 / f.w  # centred between the two edges
                out.append(
                    Placed(img, (px + x) / 2 + gap, y, it.cue or it.label, order - 1, "draw", f"arrow:{k}")
                )
        if ic is not None:
            out.append(Placed(mains[k], x, y, it.cue or it.label, order, "pop", f"icon:{it.label}"))
            if f.portrait:
                img = pill(it.label, round(f.u * 0.05), round(f.w * 0.36), pal)
                lx = x + (d / 2 + f.u * 0.03 + img.width / 2) / f.w
                out.append(Placed(img, min(lx, 1 - img.width / 2 / f.w - 0.02), y, it.cue or it.label, order,
                                  "rise", f"label:{it.label}"))  # fmt: skip
            else:
                out.append(_label_below(it, f, pal, x, y + d * 0.5 / f.h + 0.03, min(0.3, step / f.w * 0.95), order,
                                        0.045))  # fmt: skip
        else:
            out.append(Placed(mains[k], x, y, it.cue or it.label, order, "pop", f"label:{it.label}"))
    return out


def _comparison(plan: VisualPlan, f: Frame, pal: Palette, icons: dict[str, Icon],
                sprite: Callable[..., Image.Image], tint: RGB | None, title: str) -> list[Placed]:  # fmt: skip
    items = list(plan.items)[:2]
    if f.portrait:
        pos = [(0.5, 0.19), (0.5, 0.62)]
        vs = (0.5, 0.43)
        d = 0.36 * f.u
    else:
        pos = [(0.26, 0.4), (0.74, 0.4)]
        vs = (0.5, 0.4)
        d = 0.4 * f.u
    out: list[Placed] = []
    for k, it in enumerate(items):
        x, y = pos[k]
        ic = _icon_for(it, icons)
        if ic is not None:
            out.append(Placed(badge(ic, round(d), pal, tint if k == 0 else None, sprite), x, y, it.cue or it.label,
                              2 * k, "pop", f"icon:{it.label}"))  # fmt: skip
            if f.portrait:
                img = pill(it.label, round(f.u * 0.05), round(f.w * 0.4), pal)
                out.append(Placed(img, x, y + (d * 0.5 + img.height * 0.2) / f.h, it.cue or it.label, 2 * k, "rise",
                                  f"label:{it.label}"))  # fmt: skip
            else:
                out.append(_label_below(it, f, pal, x, y + d * 0.5 / f.h + 0.03, 0.36, 2 * k))
        else:
            img = pill(it.label, round(f.u * 0.07), round(f.w * 0.38), pal, max_lines=3)
            out.append(Placed(img, x, y, it.cue or it.label, 2 * k, "pop", f"label:{it.label}"))
    vs_img = _vs_disc(round(f.u * 0.16), pal)
    out.append(Placed(vs_img, vs[0], vs[1], None, 1, "pop", "vs"))
    return out


def _vs_disc(size: int, pal: Palette) -> Image.Image:
    out = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    disc = _disc_mask(size, size / 2 - 1, size / 2, size / 2)
    out = Image.alpha_composite(out, solid((size, size), pal.accent, disc))
    font = _font(round(size * 0.42), _font_path())
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).text((size / 2, size / 2), "VS", font=font, fill=255, anchor="mm")
    return Image.alpha_composite(out, solid((size, size), (255, 255, 255), mask))


def _list(plan: VisualPlan, f: Frame, pal: Palette, icons: dict[str, Icon], sprite: Callable[..., Image.Image],
          tint: RGB | None, title: str) -> list[Placed]:  # fmt: skip
    items = list(plan.items)[:4]
    n = len(items)
    out: list[Placed] = []
    top = 0.1
    if plan.text:  # what the list is about, first
        head = text_sprite(plan.text, round(f.u * 0.075), round(f.w * 0.8), max_lines=1)
        out.append(Placed(head, 0.5, top + head.height / 2 / f.h, None, -1, "rise", f"heading:{plan.text}"))
        top += head.height / f.h + 0.03
    bottom = 0.74
    span = bottom - top
    row_h = span * f.h / max(n, 1)
    size = round(min(f.u * 0.078, row_h * 0.42))
    max_w = round(f.w * (0.7 if not f.portrait else 0.86))
    rows: list[Image.Image] = []
    for k, it in enumerate(items):
        lead_size = round(size * 1.5)
        gap = round(size * 0.3)
        lead = Image.new("RGBA", (lead_size * 2 + gap, lead_size), (0, 0, 0, 0))
        lead.paste(number_disc(k + 1, lead_size, pal), (0, 0))
        ic = _icon_for(it, icons)
        if ic is not None:
            glyph = sprite(ic, round(lead_size * 0.95))
            lead = _over(lead, glyph, (lead_size + gap + (lead_size - glyph.width) // 2,
                                       (lead_size - glyph.height) // 2))  # fmt: skip
        else:
            lead = lead.crop((0, 0, lead_size, lead_size))
        rows.append(pill(it.label, size, max_w - lead.width, pal, lead=lead, max_lines=1))
    width = max((r.width for r in rows), default=0)
    for k, (it, img) in enumerate(zip(items, rows, strict=True)):
        y = top + span * (k + 0.5) / max(n, 1)
        x = 0.5 - (width - img.width) / 2 / f.w  # left-aligned rows, centred as a block
        out.append(Placed(img, x, y, it.cue or it.label, k, "rise", f"row:{it.label}"))
    return out


def _stat(plan: VisualPlan, f: Frame, pal: Palette, icons: dict[str, Icon], sprite: Callable[..., Image.Image],
          tint: RGB | None, title: str) -> list[Placed]:  # fmt: skip
    number = plan.number or "?"
    out: list[Placed] = []
    subject = plan.items[0] if plan.items else None
    ic = _icon_for(subject, icons) if subject else None
    if f.portrait:
        bx, by, nx, ny = 0.5, 0.17, 0.5, 0.47
    elif ic is not None:
        bx, by, nx, ny = 0.24, 0.4, 0.62, 0.36
    else:
        bx, by, nx, ny = 0.5, 0.4, 0.5, 0.38
    if ic is not None and subject is not None:
        out.append(Placed(badge(ic, round(f.u * 0.36), pal, tint, sprite, ring=True), bx, by,
                          subject.cue or subject.label, 0, "pop", f"icon:{subject.label}"))  # fmt: skip
    max_w = round(f.w * (0.55 if ic is not None and not f.portrait else 0.85))
    values = count_values(number)
    big = round(f.u * 0.2)
    font, _ = fit_text(number, big, max_w, 1)
    frames = pad_to(
        [text_sprite(v, int(font.size), max_w, max_lines=1, fill=(255, 255, 255)) for v in values]
    )
    out.append(Placed(frames[-1], nx, ny, number, 1, "count" if len(frames) > 1 else "pop", f"number:{number}",
                      frames=tuple(frames) if len(frames) > 1 else ()))  # fmt: skip
    if plan.text:  # "up to", "over"
        img = text_sprite(plan.text, round(f.u * 0.05), max_w, max_lines=1)
        out.append(Placed(img, nx, ny - (frames[-1].height / 2 + img.height * 0.3) / f.h, None, 1, "fade",
                          f"prefix:{plan.text}"))  # fmt: skip
    if plan.unit:
        img = pill(plan.unit, round(f.u * 0.06), max_w, pal, max_lines=1)
        out.append(Placed(img, nx, ny + (frames[-1].height / 2 + img.height * 0.55) / f.h, plan.unit, 2, "rise",
                          f"unit:{plan.unit}"))  # fmt: skip
    return out


def _phrase(plan: VisualPlan, f: Frame, pal: Palette, icons: dict[str, Icon], sprite: Callable[..., Image.Image],
            tint: RGB | None, title: str) -> list[Placed]:  # fmt: skip
    text = plan.text or (plan.items[0].label if plan.items else title)
    out: list[Placed] = []
    subject = plan.items[0] if plan.items else None
    ic = _icon_for(subject, icons) if subject else None
    ty = 0.47 if ic is not None else 0.4
    if ic is not None and subject is not None:
        out.append(Placed(badge(ic, round(f.u * 0.26), pal, tint, sprite), 0.5, 0.21 if not f.portrait else 0.24,
                          None, 0, "pop", f"icon:{subject.label}"))  # fmt: skip
    img = text_sprite(text, round(f.u * 0.12), round(f.w * 0.8), max_lines=2)
    out.append(Placed(img, 0.5, ty, text, 1, "rise", f"text:{text}"))
    line = bar(round(min(img.width * 0.6, f.w * 0.5)), max(4, round(f.u * 0.012)), pal.accent)
    out.append(Placed(line, 0.5, ty + (img.height / 2 + f.u * 0.02) / f.h, text, 2, "draw", "underline"))
    return out


def _closing(plan: VisualPlan, f: Frame, pal: Palette, icons: dict[str, Icon], sprite: Callable[..., Image.Image],
             tint: RGB | None, title: str) -> list[Placed]:  # fmt: skip
    out: list[Placed] = []
    head = text_sprite(
        title, round(f.u * 0.05), round(f.w * 0.8), max_lines=1, fill=_mix(pal.light, (255, 255, 255), 0.5)
    )
    out.append(Placed(head, 0.5, 0.1 + head.height / 2 / f.h, None, 0, "fade", "title"))
    subject = plan.items[0] if plan.items else None
    ic = _icon_for(subject, icons) if subject else None
    y = 0.27 if not f.portrait else 0.25
    if ic is not None and subject is not None:
        out.append(Placed(badge(ic, round(f.u * 0.2), pal, tint, sprite), 0.5, y, None, 1, "pop",
                          f"icon:{subject.label}"))  # fmt: skip
    text = plan.text or title
    img = text_sprite(text, round(f.u * 0.068), round(f.w * 0.82), max_lines=3)
    ty = 0.52 if not f.portrait else 0.48
    out.append(Placed(img, 0.5, ty, None, 2, "rise", f"takeaway:{text}"))
    line = bar(round(min(img.width * 0.5, f.w * 0.4)), max(4, round(f.u * 0.01)), pal.accent)
    out.append(Placed(line, 0.5, ty + (img.height / 2 + f.u * 0.025) / f.h, None, 3, "draw", "underline"))
    return out


def _title_card(plan: VisualPlan, f: Frame, pal: Palette, icons: dict[str, Icon],
                sprite: Callable[..., Image.Image], tint: RGB | None) -> list[Placed]:  # fmt: skip
    out: list[Placed] = []
    subject = plan.items[0] if plan.items else None
    ic = _icon_for(subject, icons) if subject else None
    ty = 0.52 if ic is not None else 0.42
    if ic is not None:
        out.append(Placed(badge(ic, round(f.u * 0.3), pal, tint, sprite, ring=True), 0.5,
                          0.25 if not f.portrait else 0.27, None, 0, "pop", "icon:title"))  # fmt: skip
    img = text_sprite(plan.text or "", round(f.u * 0.1), round(f.w * 0.84), max_lines=2)
    out.append(Placed(img, 0.5, ty, None, 1, "rise", "title"))
    line = bar(round(min(img.width * 0.45, f.w * 0.4)), max(4, round(f.u * 0.012)), pal.accent)
    out.append(Placed(line, 0.5, ty + (img.height / 2 + f.u * 0.025) / f.h, None, 2, "draw", "underline"))
    return out


# ---- writing ------------------------------------------------------------------------------------


def write_layers(placed: list[Placed], folder: Path, compress_level: int = 1) -> tuple[SpriteLayer, ...]:
    """Save the sprites beside the still and describe them as ``SpriteLayer`` s (drawing order kept)."""
    out = []
    for k, p in enumerate(placed):
        img = p.image
        if img.width % 2 or img.height % 2:  # even sizes: 4:2:0 video places and sizes in pairs
            img = pad_to([img])[0]
        name = f"layer{k}.png"
        img.save(folder / name, format="PNG", compress_level=compress_level)
        frames: list[str] = []
        if p.frames:
            padded = pad_to(list(p.frames))
            for j, fr in enumerate(padded):
                fname = f"layer{k}_{j}.png"
                fr.save(folder / fname, format="PNG", compress_level=compress_level)
                frames.append(fname)
            img = padded[-1]
            img.save(folder / name, format="PNG", compress_level=compress_level)
        out.append(
            SpriteLayer(
                file=name, x=round(p.x, 4), y=round(p.y, 4), width=img.width, height=img.height, cue=p.cue,
                order=p.order, enter=p.enter, frames=tuple(frames), reveal_axis="y" if p.reveal_axis == "y" else "x",
                name=p.name[:80],
            )
        )  # fmt: skip
    return tuple(out)
