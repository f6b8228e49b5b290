"""Subtitle cues from measured speech, the SRT / WebVTT / ASS writers, and cues drawn once for the renderer.

User text is always escaped for the target format, so it is shown literally: in ASS, braces and
backslashes can't open override tags or line breaks; in WebVTT, ``<`` and ``&`` can't open tags.

A cue that looks the same on every frame it is shown is drawn by libass **once** (:func:`prerender`) and
overlaid while it is shown (:meth:`CueStrip.graph`): libass in the render graph would blend its bitmaps
into every frame again (1 ms a 720p frame of two-line cues, against 0.05 ms for the overlay).
"""

from __future__ import annotations

import re
import textwrap
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from ..models import Cue, SubtitleStyle, WordTiming
from ..tools import run

WORD_JOINER = "\u2060"


def wrap_lines(text: str, max_chars: int) -> list[str]:
    """Wrap into lines of at most ``max_chars`` (a single over-long word is broken, never dropped)."""
    return textwrap.wrap(text, width=max_chars, break_long_words=True, break_on_hyphens=False) or [text]


def balance_two_lines(text: str, max_chars: int) -> list[str]:
    """Split a chunk into one line, or two lines of similar length (reads better than greedy wrapping)."""
    if len(text) <= max_chars:
        return [text]
    words = text.split(" ")
    best: list[str] | None = None
    best_score = 1e9
    for i in range(1, len(words)):
        a, b = " ".join(words[:i]), " ".join(words[i:])
        if len(a) <= max_chars and len(b) <= max_chars:
            score = abs(len(a) - len(b))
            if score < best_score:
                best, best_score = [a, b], score
    return best or wrap_lines(text, max_chars)[:2]


def chunk_words(words: Sequence[WordTiming], max_chars: int, max_lines: int = 2) -> list[list[WordTiming]]:
    """Group timed words into readable cues of at most ``max_lines`` lines of ``max_chars``."""
    limit = max_chars * max_lines
    chunks: list[list[WordTiming]] = []
    cur: list[WordTiming] = []
    for w in words:
        candidate = " ".join(x.word for x in [*cur, w])
        if cur and (len(candidate) > limit or len(balance_two_lines(candidate, max_chars)) > max_lines):
            chunks.append(cur)
            cur = [w]
        else:
            cur.append(w)
    if cur:
        chunks.append(cur)
    if len(chunks) > 1:  # same number of cues, but even lengths: no lone "use." cue after a full one
        return _balanced(list(words), len(chunks), max_chars, max_lines) or chunks
    return chunks


def _balanced(
    words: list[WordTiming], k: int, max_chars: int, max_lines: int
) -> list[list[WordTiming]] | None:
    """Split ``words`` into ``k`` cues minimising the longest one (each must still fit); None if impossible."""
    n = len(words)

    def fits(i: int, j: int) -> bool:
        text = " ".join(w.word for w in words[i:j])
        return len(text) <= max_chars * max_lines and len(balance_two_lines(text, max_chars)) <= max_lines

    def length(i: int, j: int) -> int:
        return sum(len(w.word) for w in words[i:j]) + (j - i - 1)

    inf = float("inf")
    # best[c][j]: the smallest possible longest cue when words[:j] make c cues
    best = [[inf] * (n + 1) for _ in range(k + 1)]
    cut = [[0] * (n + 1) for _ in range(k + 1)]
    best[0][0] = 0
    for c in range(1, k + 1):
        for j in range(1, n + 1):
            for i in range(c - 1, j):
                if best[c - 1][i] == inf or not fits(i, j):
                    continue
                v = max(best[c - 1][i], length(i, j))
                if v < best[c][j]:
                    best[c][j], cut[c][j] = v, i
    if best[k][n] == inf:
        return None
    out: list[list[WordTiming]] = []
    j = n
    for c in range(k, 0, -1):
        i = cut[c][j]
        out.append(words[i:j])
        j = i
    return out[::-1]


def sentence_cues(
    words: Sequence[WordTiming],
    offset: float,
    max_chars: int,
    *,
    hard_end: float,
    min_show: float = 0.8,
    timed: bool = False,
) -> list[Cue]:
    """Cues for one spoken sentence that starts at ``offset``; none ends after ``hard_end``.

    ``timed`` keeps each cue's words with their absolute times (for karaoke highlighting)."""
    cues: list[Cue] = []
    for chunk in chunk_words(words, max_chars):
        start = offset + chunk[0].start
        end = offset + chunk[-1].end
        end = min(max(end, start + min_show), hard_end)
        lines = balance_two_lines(" ".join(w.word for w in chunk), max_chars)
        if end > start:
            timing = tuple(
                WordTiming(word=w.word, start=round(offset + w.start, 3), end=round(offset + w.end, 3))
                for w in chunk
            ) if timed else ()  # fmt: skip
            cues.append(Cue(start=round(start, 3), end=round(end, 3), text="\n".join(lines), words=timing))
    # no overlaps inside a sentence
    fixed: list[Cue] = []
    for i, c in enumerate(cues):
        if i + 1 < len(cues) and c.end > cues[i + 1].start:
            c = c.model_copy(update={"end": cues[i + 1].start})
        fixed.append(c)
    return fixed


def _ts(t: float, sep: str) -> str:
    ms = round(max(t, 0.0) * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(cues: Iterable[Cue]) -> str:
    out = []
    for i, c in enumerate(cues, 1):
        out.append(f"{i}\n{_ts(c.start, ',')} --> {_ts(c.end, ',')}\n{c.text}\n")
    return "\n".join(out)


def vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(cues: Iterable[Cue]) -> str:
    out = ["WEBVTT", ""]
    for c in cues:
        out.append(f"{_ts(c.start, '.')} --> {_ts(c.end, '.')}\n{vtt_escape(c.text)}\n")
    return "\n".join(out)


_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U000e0020-\U000e007f\ufe0f\u20e3]"  # pictographs, flags, tags, VS16, keycap
    "|(?<=[\U0001f000-\U0001faff])\u200d|\u200d(?=[\U0001f000-\U0001faff])"  # joiners inside emoji
)


def burnable(text: str) -> str:
    """Text as it can be drawn into the frame: colour emoji are removed, since the bundled font (and
    libass) can only draw them as empty boxes. Sidecar SRT/VTT keep them; players have emoji fonts."""
    if not _EMOJI.search(text):
        return text
    lines = [" ".join(_EMOJI.sub("", line).split()) for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def ass_escape(text: str) -> str:
    r"""Make user text literal in ASS: ``\`` can't start ``\N``/``\h``/tags, braces can't open overrides."""
    text = text.replace("\\", "\\" + WORD_JOINER)
    text = text.replace("{", "\\{").replace("}", "\\}")
    return text.replace("\n", "\\N")


def _ass_cs(t: float) -> int:
    """A time as the script holds it: whole centiseconds."""
    return round(max(t, 0.0) * 100)


def _ass_time(t: float) -> str:
    cs = _ass_cs(t)
    h, cs = divmod(cs, 360_000)
    m, cs = divmod(cs, 6000)
    s, cs = divmod(cs, 100)
    return f"{h:d}:{m:02d}:{s:02d}.{cs:02d}"


def karaoke_text(cue: Cue) -> str:
    r"""The cue's text with a ``{\kN}`` tag before each word (N centiseconds), so libass turns each word
    to the highlight colour when it is spoken. Words are escaped like any user text; a cue whose lines
    don't split back into its timed words (a long word broken across lines) is shown plainly."""
    lines = [line.split(" ") for line in cue.text.split("\n")]
    flat = [t for line in lines for t in line]
    if not cue.words or flat != [w.word for w in cue.words]:
        return ass_escape(burnable(cue.text))
    # boundaries in centiseconds from the cue's start; each word lasts until the next one starts
    marks = [max(0, round((w.start - cue.start) * 100)) for w in cue.words]
    marks.append(max(marks[-1], round((cue.words[-1].end - cue.start) * 100)))
    for i in range(1, len(marks)):
        marks[i] = max(marks[i], marks[i - 1])
    parts = [f"{{\\k{marks[0]}}}"] if marks[0] > 0 else []
    i = 0
    for n, line in enumerate(lines):
        if n:
            parts.append("\\N")
        for k, token in enumerate(line):
            space = " " if k + 1 < len(line) else ""
            parts.append(f"{{\\k{marks[i + 1] - marks[i]}}}{ass_escape(burnable(token))}{space}")
            i += 1
    return "".join(parts)


def style_metrics(width: int, height: int, style: SubtitleStyle) -> tuple[int, int, int]:
    """(font size, vertical margin, max chars per line) for a frame size; portrait gets bigger margins."""
    short = min(width, height)
    size = style.size or max(14, round(short * 0.058))
    if height > width:  # 9:16: keep clear of the app UI at the bottom
        margin = style.margin_v or round(height * 0.16)
        chars = min(style.max_chars, 26)
    elif height == width:
        margin = style.margin_v or round(height * 0.08)
        chars = min(style.max_chars, 32)
    else:
        margin = style.margin_v or round(height * 0.07)
        chars = style.max_chars
    return size, margin, chars


@dataclass(frozen=True)
class AssEvent:
    """One ``Dialogue`` line of a segment's ASS script; ``start`` and ``end`` are segment-relative seconds."""

    layer: int
    start: float
    end: float
    style: str  # "Sub", "Kara" or "Title"
    text: str  # ASS text: escaped user text, with override tags only for karaoke (\k) and the title (\fad)

    @property
    def line(self) -> str:
        return (f"Dialogue: {self.layer},{_ass_time(self.start)},{_ass_time(self.end)},{self.style},,0,0,0,,"
                f"{self.text}\n")  # fmt: skip

    @property
    def still(self) -> bool:
        """Drawn the same on every frame it is shown (no karaoke, no fade), so it can be drawn once."""
        return self.style == "Sub"

    def shown(self, fps: int, total: int) -> range:
        """The frames ``0 <= n < total`` in which libass shows this event, as ffmpeg's ``subtitles`` filter
        asks for them: at frame n (pts n, time base 1/fps) the time is ``trunc(n * (1/fps) * 1000)`` ms, and
        an event is shown from its start (inclusive) to its end (exclusive), both in the centiseconds the
        script holds."""
        a, b = _ass_cs(self.start) * 10, _ass_cs(self.end) * 10
        step = 1 / fps

        def ms(n: int) -> int:
            return int(n * step * 1000)

        first = max(0, a * fps // 1000 - 2)
        while first < total and ms(first) < a:
            first += 1
        last = first
        while last < total and ms(last) < b:
            last += 1
        return range(first, last)


def ass_header(*, width: int, height: int, style: SubtitleStyle) -> str:
    """The script header of every segment: frame size, the Sub, Title (and Kara) styles, the event format."""
    size, margin, _ = style_metrics(width, height, style)
    title_size = round(size * 1.7)
    side = round(width * 0.08)
    outline = max(1, round(size * 0.07))
    # karaoke: spoken words turn gold (primary), words still to come are white (secondary)
    karaoke_style = (
        f"Style: Kara,{style.font},{size},&H0000D7FF,&H00FFFFFF,&H00101010,&H90000000,-1,0,0,0,100,100,0,0,1,"
        f"{outline},{max(1, outline // 2)},2,{side},{side},{margin},1\n"
        if style.karaoke
        else ""
    )
    return f"""[Script Info]
ScriptType: v4.00+
PlayResX: {width}
PlayResY: {height}
WrapStyle: 0
ScaledBorderAndShadow: yes

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, \
Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, \
MarginV, Encoding
Style: Sub,{style.font},{size},&H00FFFFFF,&H000000FF,&H00101010,&H90000000,-1,0,0,0,100,100,0,0,1,{outline},\
{max(1, outline // 2)},2,{side},{side},{margin},1
Style: Title,{style.font},{title_size},&H00FFFFFF,&H000000FF,&H00202020,&HA0000000,-1,0,0,0,100,100,0,0,1,\
{outline + 1},{outline},5,{side},{side},0,1
{karaoke_style}
[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
"""


def ass_events(
    cues: Iterable[Cue],
    *,
    style: SubtitleStyle,
    offset: float = 0.0,
    title: str | None = None,
    title_span: tuple[float, float] | None = None,
) -> list[AssEvent]:
    """A segment's events: the title (layer 1, faded in and out), then the cues if they are burned in, with
    times shifted by ``-offset`` (segment-relative)."""
    events = []
    if title and title_span:
        a, b = title_span
        fade = int(min(400, (b - a) * 250))
        text = f"{{\\fad({fade},{fade})}}{ass_escape(burnable(title))}"
        events.append(AssEvent(1, a - offset, b - offset, "Title", text))
    if style.burn:
        for c in cues:
            kara = style.karaoke and bool(c.words)
            text = karaoke_text(c) if kara else ass_escape(burnable(c.text))
            events.append(AssEvent(0, c.start - offset, c.end - offset, "Kara" if kara else "Sub", text))
    return events


def to_ass(
    cues: Iterable[Cue],
    *,
    width: int,
    height: int,
    style: SubtitleStyle,
    offset: float = 0.0,
    title: str | None = None,
    title_span: tuple[float, float] | None = None,
) -> str:
    """An ASS script for one segment: cue times are shifted by ``-offset`` (segment-relative)."""
    events = ass_events(cues, style=style, offset=offset, title=title, title_span=title_span)
    return ass_header(width=width, height=height, style=style) + "".join(e.line for e in events)


# ---- cues drawn once ------------------------------------------------------------------------------


def drawn_once(events: Sequence[AssEvent], fps: int, total: int) -> tuple[list[AssEvent], list[AssEvent]]:
    """``(drawn once, left to libass)``: the still events that are shown at all, and the others (the title
    fades, karaoke words change colour). If two events of layer 0 are ever shown on the same frame, libass
    moves one of them out of the other's way, which separate images can't do: then all stay with libass."""
    spans = sorted((r.start, r.stop) for e in events if e.layer == 0 and (r := e.shown(fps, total)))
    if any(b[0] < a[1] for a, b in pairwise(spans)):
        return [], list(events)
    return [e for e in events if e.still and e.shown(fps, total)], [e for e in events if not e.still]


@dataclass(frozen=True)
class CueImage:
    """An event as libass draws it: ``width`` x ``height`` at ``(x, y)`` of the frame (all even, so the
    chroma of 4:2:0 lines up), rows ``top``.. of the strip, shown on ``frames``."""

    x: int
    y: int
    width: int
    height: int
    top: int
    frames: range


@dataclass(frozen=True)
class CueStrip:
    """Events drawn once, stacked top to bottom in one raw YUVA 4:2:0 image (straight alpha, BT.709, limited
    range: the render's own pixels)."""

    path: Path
    width: int
    height: int
    images: tuple[CueImage, ...]

    def inputs(self) -> list[str]:
        return ["-f", "rawvideo", "-pix_fmt", "yuva420p", "-video_size", f"{self.width}x{self.height}",
                "-i", str(self.path)]  # fmt: skip

    def graph(self, base: str, index: int, fps: int) -> str:
        """Filter graph text that overlays the images on the stream labelled ``base`` while each is shown,
        reading the strip from input ``index``. Like :func:`layers.layers_graph`, the last overlay has no
        output label, so a chain can follow it."""
        n = len(self.images)
        head = f"[{index}:v]setparams=range=tv:colorspace=bt709:color_primaries=bt709:color_trc=bt709"
        parts = [head + (f",split={n}" + "".join(f"[cs{k}]" for k in range(n)) if n > 1 else "[cs0]")]
        current = base
        for k, im in enumerate(self.images):
            # t = n / fps exactly (the segment's frames are timed so): half a frame either side is safe
            a, b = (im.frames.start - 0.5) / fps, (im.frames.stop - 0.5) / fps
            parts.append(f"[cs{k}]crop={im.width}:{im.height}:0:{im.top}[ci{k}]")
            parts.append(f"[{current}][ci{k}]overlay=x={im.x}:y={im.y}:enable='between(t,{a:.4f},{b:.4f})'"
                         f":format=yuv420[co{k}]")  # fmt: skip
            current = f"co{k}"
        last = parts[-1]
        parts[-1] = last[: last.rindex("[")]
        return ";".join(parts)


def prerender(
    ffmpeg: str,
    events: Sequence[AssEvent],
    *,
    width: int,
    height: int,
    style: SubtitleStyle,
    fps: int,
    total: int,
    out_dir: Path,
    cancel: threading.Event | None = None,
) -> CueStrip | None:
    """Draw each of ``events`` (still ones) once with libass into ``out_dir/subs.yuv``; None if none draws
    anything. ``out_dir`` holds the fonts (``fonts/``) as for the render.

    libass draws every event alone, a second apart, on 4:2:0 frames tagged like the render's (BT.709,
    limited range), once over black and once over white: the two give each pixel's opacity and colour
    exactly (difference matting), so the overlay adds what libass would have added, to a level or two."""
    n = len(events)
    script = ass_header(width=width, height=height, style=style)
    script += "".join(AssEvent(e.layer, k, k + 1, e.style, e.text).line for k, e in enumerate(events))
    (out_dir / "pre.ass").write_text(script, encoding="utf-8")
    graph = ("format=yuv420p,setparams=range=tv:colorspace=bt709:color_primaries=bt709:color_trc=bt709,"
             "drawbox=enable='mod(n,2)':t=fill:c=white,subtitles=filename=pre.ass:fontsdir=fonts")  # fmt: skip
    try:
        run([ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
             "-f", "lavfi", "-i", f"color=c=black:s={width}x{height}:r=2:d={n}", "-vf", graph,
             "-frames:v", str(2 * n), "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "yuv420p", "pre.yuv"],
            cwd=out_dir, cancel=cancel, what="ffmpeg (subtitles)")  # fmt: skip
        frames = np.fromfile(out_dir / "pre.yuv", np.uint8).reshape(2 * n, -1)
    finally:
        (out_dir / "pre.ass").unlink(missing_ok=True)
        (out_dir / "pre.yuv").unlink(missing_ok=True)
    cw, ch = width // 2, height // 2
    cut: list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, range]] = []
    for k, e in enumerate(events):
        black, white = frames[2 * k], frames[2 * k + 1]
        yb = black[: width * height].reshape(height, width).astype(np.int16)
        yw = white[: width * height].reshape(height, width).astype(np.int16)
        cover = np.clip(219 - (yw - yb), 0, 219)  # opacity in 219ths (white is Y 235, black 16)
        rows, cols = np.flatnonzero(cover.any(axis=1)), np.flatnonzero(cover.any(axis=0))
        if not len(rows):
            continue
        x0, y0 = int(cols[0]) // 2 * 2, int(rows[0]) // 2 * 2
        x1, y1 = min(width, (int(cols[-1]) + 2) // 2 * 2), min(height, (int(rows[-1]) + 2) // 2 * 2)
        a = cover[y0:y1, x0:x1] / 219.0
        shown = np.maximum(a, 1e-9)
        # over black: Y = a * Y_text + (1 - a) * 16
        luma = np.where(a > 0, (yb[y0:y1, x0:x1] - 16 * (1 - a)) / shown, 16)
        a2 = a.reshape((y1 - y0) // 2, 2, (x1 - x0) // 2, 2).mean(axis=(1, 3))  # what overlay uses for chroma
        planes = []
        for off in (width * height, width * height + cw * ch):
            c = (black[off : off + cw * ch].astype(np.float64) + white[off : off + cw * ch]) / 2
            c = c.reshape(ch, cw)[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2]
            planes.append(np.where(a2 > 0, (c - 128 * (1 - a2)) / np.maximum(a2, 1e-9), 128))
        cut.append((x0, y0, luma, planes[0], planes[1], a * 255, e.shown(fps, total)))
    if not cut:
        return None
    sw = max(c[2].shape[1] for c in cut)
    sh = sum(c[2].shape[0] for c in cut)
    y_p = np.full((sh, sw), 16, np.uint8)
    u_p = np.full((sh // 2, sw // 2), 128, np.uint8)
    v_p = np.full((sh // 2, sw // 2), 128, np.uint8)
    a_p = np.zeros((sh, sw), np.uint8)
    images = []
    top = 0
    for x0, y0, luma, u, v, alpha, shown_on in cut:
        h, w = luma.shape
        for plane, src, div in ((y_p, luma, 1), (u_p, u, 2), (v_p, v, 2), (a_p, alpha, 1)):
            plane[top // div : (top + h) // div, : w // div] = np.clip(np.rint(src), 0, 255)
        images.append(CueImage(x0, y0, w, h, top, shown_on))
        top += h
    path = out_dir / "subs.yuv"
    with open(path, "wb") as fh:
        for plane in (y_p, u_p, v_p, a_p):
            fh.write(plane.tobytes())
    return CueStrip(path, sw, sh, tuple(images))
