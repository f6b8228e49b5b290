"""Piper word timings from the model's phoneme durations, checked against the audio itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reelforge.audio_io import read_wav
from reelforge.errors import ConfigError
from reelforge.narration import piper as piper_mod
from reelforge.narration.base import sentence_pause
from reelforge.narration.piper import PiperNarrator, match_words, phoneme_words


@dataclass
class Al:
    phoneme: str
    num_samples: int


def test_phoneme_words_split_at_spaces_and_skip_marks() -> None:
    als = [Al("^", 100), Al("h", 10), Al("ˈ", 5), Al("i", 20), Al(",", 50), Al(" ", 30), Al("j", 10),
           Al("u", 10), Al(".", 40), Al("$", 100)]  # fmt: skip
    assert phoneme_words(als) == [(100, 135), (215, 235)]


def test_match_words_groups_and_zero_length_symbols() -> None:
    spans = [(0.0, 0.2), (0.3, 0.5), (0.5, 0.7), (0.8, 1.0)]
    got = match_words(["Hi", "100%", "—", "now"], spans, [1, 2, 0, 1])
    assert got is not None
    assert [(w.word, w.start, w.end) for w in got] == [
        ("Hi", 0.0, 0.2), ("100%", 0.3, 0.7), ("—", 0.7, 0.7), ("now", 0.8, 1.0)
    ]  # fmt: skip
    assert match_words(["a", "b"], spans, [1, 1]) is None  # counts don't add up: caller falls back


def voiced(audio: np.ndarray, sr: int, frame: float = 0.01, level: float = 0.02) -> np.ndarray:
    win = int(frame * sr)
    n = len(audio) // win
    return np.sqrt(np.mean(audio[: n * win].reshape(n, win) ** 2, axis=1)) > level


def test_word_times_match_the_pauses_in_the_audio(tmp_path: Path) -> None:
    text = "Honey, bees, and flowers; all of them, together."
    s = PiperNarrator().execute(text, tmp_path / "a.wav")
    audio, sr = read_wav(s.path)
    act = voiced(audio, sr, level=0.01)
    assert [w.word for w in s.words] == text.split()
    # every pause of 120 ms or more inside the speech (below -40 dBFS) falls between two words, within 80 ms
    # (shorter dips are stop closures and soft fricatives inside words)
    k = int(np.flatnonzero(act)[0])
    pauses = []
    while k < len(act):
        if not act[k]:
            j = k
            while j < len(act) and not act[j]:
                j += 1
            if j < len(act) and j - k >= 12:
                pauses.append((k * 0.01, j * 0.01))
            k = j
        k += 1
    assert len(pauses) >= 3  # the commas and the semicolon
    for a, b in pauses:
        assert any(
            w1.end <= a + 0.08 and w2.start >= b - 0.08 for w1, w2 in zip(s.words, s.words[1:], strict=False)
        ), (a, b, s.words)
    # and every word is heard (quietly, for the short unstressed ones: Piper's voice varies run to run)
    for w in s.words:
        frames = act[int(w.start / 0.01) : max(int(w.start / 0.01) + 1, int(w.end / 0.01))]
        assert frames.mean() >= 0.3, w


def test_numbers_and_symbols_are_matched_to_what_is_read(tmp_path: Path) -> None:
    s = PiperNarrator().execute("It cost $1,999 — for 3 bees.", tmp_path / "a.wav")
    w = {x.word: x for x in s.words}
    assert w["$1,999"].end - w["$1,999"].start > 3 * (w["for"].end - w["for"].start)  # six words read
    assert w["—"].start == w["—"].end  # not read aloud


def test_without_alignments_words_are_spread_by_syllables(tmp_path: Path) -> None:
    s = PiperNarrator({"alignments": False}).execute("Bees make honey.", tmp_path / "a.wav")
    assert s.words[0].start == 0.0 and s.words[-1].end == pytest.approx(s.duration, abs=0.002)


def test_chunks_without_alignments_fall_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A voice model that gives no alignments (e.g. ``onnx`` missing) still gets word timings."""
    real = piper_mod.load_voice

    class NoAlign:
        def __init__(self, voice: Any) -> None:
            self.voice, self.config = voice, voice.config

        def synthesize(self, text: str, **kw: Any) -> Any:
            for c in self.voice.synthesize(text, **kw):
                c.phoneme_alignments = None
                yield c

    monkeypatch.setattr(piper_mod, "load_voice", lambda *a: NoAlign(real(*a)))
    s = PiperNarrator().execute("Bees make honey.", tmp_path / "a.wav")
    assert [w.word for w in s.words] == ["Bees", "make", "honey."]
    assert s.words[-1].end == pytest.approx(s.duration, abs=0.002)


def test_sentence_pause_option_is_placement_only() -> None:
    a, b = PiperNarrator({"sentence_pause": 0.1}), PiperNarrator({"sentence_pause": 0.5})
    assert a.identity() == b.identity()  # the audio is the same: the narration cache is shared
    assert (sentence_pause(a), sentence_pause(b)) == (0.1, 0.5)
    assert PiperNarrator({"length_scale": 1.2}).identity() != a.identity()
    with pytest.raises(ConfigError, match="sentence_pause"):
        PiperNarrator({"sentence_pause": 0.9})  # longer than the 0.6 s the timeline allows
