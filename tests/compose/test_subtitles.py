import itertools

from reelforge.compose.subtitles import (
    WORD_JOINER,
    ass_escape,
    balance_two_lines,
    chunk_words,
    sentence_cues,
    style_metrics,
    to_ass,
    to_srt,
    to_vtt,
)
from reelforge.models import Cue, SubtitleStyle, WordTiming
from reelforge.narration.piper import word_timings


def test_ass_escape_makes_override_and_break_syntax_literal():
    s = ass_escape(r"a {\b1} b \N c \h d")
    assert "{" not in s.replace("\\{", "")
    assert "}" not in s.replace("\\}", "")
    # every user backslash is followed by a word joiner, so \N / \h / \b can't be interpreted
    assert "\\N" not in s and "\\h" not in s
    assert s.count(WORD_JOINER) == 3


def test_vtt_escapes_markup_and_srt_keeps_text():
    cues = [Cue(start=0.5, end=1.25, text="<b>bold</b> & co")]
    vtt = to_vtt(cues)
    assert vtt.startswith("WEBVTT")
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in vtt
    assert "00:00:00.500 --> 00:00:01.250" in vtt
    srt = to_srt(cues)
    assert "1\n00:00:00,500 --> 00:00:01,250\n<b>bold</b> & co" in srt


def test_chunks_respect_line_length_and_two_lines():
    text = "Honey bees visit thousands of flowers every single day to gather sweet nectar for the hive."
    words = word_timings(text, 5.0)
    for chunk in chunk_words(words, 42):
        lines = balance_two_lines(" ".join(w.word for w in chunk), 42)
        assert len(lines) <= 2
        assert all(len(line) <= 42 for line in lines)


def test_sentence_cues_cover_speech_and_stay_in_bounds():
    words = word_timings("One two three four five six seven eight nine ten eleven twelve.", 4.0)
    cues = sentence_cues(words, offset=10.0, max_chars=20, hard_end=13.5)
    assert cues[0].start == 10.0
    assert all(c.end <= 13.5 for c in cues)
    assert all(a.end <= b.start for a, b in itertools.pairwise(cues))


def test_long_word_is_broken_not_dropped():
    w = (WordTiming(word="x" * 100, start=0.0, end=1.0),)
    cues = sentence_cues(w, 0.0, 42, hard_end=5.0)
    assert "".join(cues[0].text.split("\n")).startswith("x" * 42)


def test_portrait_has_bigger_margin_and_shorter_lines():
    style = SubtitleStyle()
    _, m_land, c_land = style_metrics(1280, 720, style)
    _, m_port, c_port = style_metrics(720, 1280, style)
    assert m_port > m_land and c_port < c_land


def test_ass_document_has_title_and_segment_relative_times():
    doc = to_ass(
        [Cue(start=12.0, end=13.0, text="hi")],
        width=1280,
        height=720,
        style=SubtitleStyle(),
        offset=10.0,
        title="T {x}",
        title_span=(10.0, 12.0),
    )
    assert "0:00:02.00,0:00:03.00,Sub" in doc
    assert "T \\{x\\}" in doc


def test_cues_are_balanced_no_lone_last_word():
    text = "Bees collect nectar from flowers and store it in their honeycomb cells for later use."
    chunks = [" ".join(w.word for w in c) for c in chunk_words(word_timings(text, 5.0), 42)]
    assert " ".join(chunks) == text
    lengths = [len(c) for c in chunks]
    assert len(chunks) == 2 and min(lengths) >= 0.6 * max(lengths)


def test_colour_emoji_are_not_burned_as_boxes_but_stay_in_the_sidecars():
    from reelforge.compose.subtitles import burnable

    assert burnable("How bees 🐝 make honey 🍯") == "How bees make honey"
    assert burnable("Family: 👩‍👩‍👧 and flags 🇫🇷!") == "Family: and flags !"
    assert burnable("♥ ★ ✓ café — naïve") == "♥ ★ ✓ café — naïve"  # symbols the font has stay
    assert burnable("🐝\nSecond line") == "Second line"
    cue = Cue(start=0.0, end=1.0, text="Honey 🍯 time")
    ass = to_ass([cue], width=640, height=360, style=SubtitleStyle(), title="🐝 Bees",
                 title_span=(0.0, 2.0))  # fmt: skip
    assert "🐝" not in ass and "🍯" not in ass
    assert ",Title,,0,0,0,,{\\fad(400,400)}Bees\n" in ass and ",Sub,,0,0,0,,Honey time\n" in ass
    assert "🍯" in to_srt([cue]) and "🍯" in to_vtt([cue])
