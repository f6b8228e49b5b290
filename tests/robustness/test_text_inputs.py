"""Hostile text everywhere: every input either renders literally or is rejected with a clear message.

Properties checked with hypothesis over unicode of every kind (RTL, emoji, combining marks, control
characters, NUL, very long words) and ffmpeg/ASS/HTML special characters.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from reelforge.compose.ffmpeg import segment_graph
from reelforge.compose.subtitles import WORD_JOINER, ass_escape, to_srt, to_vtt
from reelforge.models import Cue, Request, Scene, Segment, Storyboard, Timeline
from reelforge.script.template import TemplateWriter
from reelforge.text import clean

NASTY = st.sampled_from(
    [
        "'",
        '"',
        ":",
        "\\",
        ",",
        ";",
        "[",
        "]",
        "{",
        "}",
        "%",
        "%{pts}",
        "\\N",
        "\\h",
        "{\\b1}",
        "{\\an8}",
        "<script>alert(1)</script>",
        "&amp;",
        "\u202e",
        "\u200f",
        "\x00",
        "\x07",
        "\x1b[31m",
        "\n",
        "\r\n",
        "\t",
        "עברית",
        "مرحبا بالعالم",
        "🐝🍯",
        "👩‍👩‍👧",
        "e\u0301\u0301\u0301",
        "ｆｕｌｌ",
        "x" * 300,
        "drawtext=text=pwn",
        "[0:v]",
        "movie=/etc/passwd",
        "$(rm -rf /)",
        "`id`",
    ]
)
TEXT = st.lists(st.one_of(st.text(max_size=25), NASTY), max_size=10).map("".join)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(TEXT)
def test_prompt_is_cleaned_or_rejected_clearly(text: str) -> None:
    try:
        r = Request(prompt=text, duration=30)
    except ValidationError as exc:
        msg = str(exc)
        assert "prompt" in msg and ("empty" in msg or "limit" in msg)
        return
    assert r.prompt == clean(text)
    assert not any(ord(c) < 32 for c in r.prompt)


@FAST
@given(TEXT)
def test_template_writer_never_crashes(text: str) -> None:
    try:
        req = Request(prompt=text, duration=20)
    except ValidationError:
        return
    sb = TemplateWriter().execute(req)
    assert isinstance(sb, Storyboard) and sb.scenes


@FAST
@given(TEXT, TEXT)
def test_storyboard_fields_validate_or_point_at_the_field(narration: str, visual: str) -> None:
    try:
        Scene(index=0, narration=narration, visual=visual, duration=5)
    except ValidationError as exc:
        assert any(e["loc"][0] in ("narration", "visual") for e in exc.errors())


def _unescape(s: str) -> str:
    return s.replace("\\N", "\n").replace("\\{", "{").replace("\\}", "}").replace("\\" + WORD_JOINER, "\\")


@FAST
@given(TEXT)
def test_ass_escape_is_lossless_and_opens_no_tags(text: str) -> None:
    text = clean(text)
    esc = ass_escape(text)
    assert _unescape(esc) == text
    for i, ch in enumerate(esc):
        if ch in "{}":
            assert esc[i - 1] == "\\"  # every brace is escaped: no override block can open
        if ch == "\\":
            assert esc[i + 1] in ("{", "}", WORD_JOINER)  # no \N, \h, \n or tag from user text


@FAST
@given(TEXT)
def test_user_text_never_reaches_the_filter_graph(text: str) -> None:
    seg = Segment(
        kind="scene",
        index=0,
        start_frame=0,
        frames=30,
        image=Path("/i.png"),
        text=text or None,
        cues=(Cue(start=0.1, end=0.5, text=text or "x"),),
    )
    ref = seg.model_copy(update={"text": "x" if text else None, "cues": (Cue(start=0.1, end=0.5, text="x"),)})
    tl = Timeline(width=64, height=36, fps=30, frames=30, title="t", segments=(seg,))
    assert segment_graph(seg, tl) == segment_graph(ref, tl)


@FAST
@given(TEXT)
def test_sidecar_subtitles_keep_text_literal(text: str) -> None:
    text = clean(text) or "x"
    cue = Cue(start=0.0, end=1.0, text=text)
    assert text in to_srt([cue])
    vtt = to_vtt([cue])
    assert "<" not in vtt.split("\n", 3)[-1]  # markup can't become a WebVTT tag


@pytest.mark.parametrize(
    "title",
    ["'%{pts}' : \\N {\\b1} [0:v] ; drawtext=text=x, <b>&amp;</b>", "\u202eעברית 🐝 e\u0301 مرحبا"],
)
def test_hostile_title_and_subtitles_render(tmp_path: Path, make_settings, title: str) -> None:
    from mediatools import probe

    from reelforge.pipeline import Pipeline

    settings = make_settings(writer="template", images="procedural", no_music=True)
    req = Request(prompt="Bees", duration=20, resolution="480p")
    sb = Pipeline(settings).write_storyboard(req)
    sb = sb.model_copy(update={"title": title})
    spoken = title[:14] + "."
    sb = sb.with_scene(sb.scenes[0].model_copy(update={"narration": spoken}))
    res = Pipeline(settings).make(req, tmp_path / "t.mp4", storyboard=sb)
    assert abs(probe(res.video)["duration"] - 20) <= 0.5
    srt = res.sidecars["srt"].read_text().replace("\n", " ")
    assert clean(spoken) in srt  # the cue keeps the text literally
    assert res.storyboard.title == clean(title)
