"""Subtitle cues from measured speech, and the SRT / WebVTT / ASS writers.

User text is always escaped for the target format, so it is shown literally: in ASS, braces and
backslashes can't open override tags or line breaks; in WebVTT, ``<`` and ``&`` can't open tags.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Sequence

from ..models import Cue, SubtitleStyle, WordTiming

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


def _ass_time(t: float) -> str:
    cs = round(max(t, 0.0) * 100)
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
    header = f"""[Script Info]
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
    lines = [header]
    if title and title_span:
        a, b = title_span
        fade = int(min(400, (b - a) * 250))
        lines.append(
            f"Dialogue: 1,{_ass_time(a - offset)},{_ass_time(b - offset)},Title,,0,0,0,,"
            f"{{\\fad({fade},{fade})}}{ass_escape(burnable(title))}\n"
        )
    if style.burn:
        for c in cues:
            kara = style.karaoke and bool(c.words)
            lines.append(
                f"Dialogue: 0,{_ass_time(c.start - offset)},{_ass_time(c.end - offset)},"
                f"{'Kara' if kara else 'Sub'},,0,0,0,,{karaoke_text(c) if kara else ass_escape(burnable(c.text))}\n"
            )
    return "".join(lines)
