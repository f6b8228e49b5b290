"""The ``espeak`` narrator (eSpeak NG): other languages offline, a clear error when the program is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from reelforge.audio_io import read_wav
from reelforge.errors import NarrationError
from reelforge.narration import espeak as espeak_mod
from reelforge.narration.espeak import EspeakNarrator, cap_pauses, espeak_voices
from reelforge.registry import default_registry

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt-get install espeak-ng)"
)


def test_registered_as_a_narration_backend() -> None:
    assert default_registry().get("narration", "espeak") is EspeakNarrator


@needs_espeak
@pytest.mark.parametrize(
    ("voice", "text"), [("de", "Guten Tag, wie geht es dir?"), ("fr", "Les abeilles font du miel.")]
)
def test_speaks_other_languages(tmp_path: Path, voice: str, text: str) -> None:
    s = EspeakNarrator({"voice": voice}).execute(text, tmp_path / "a.wav")
    audio, sr = read_wav(s.path)
    assert sr == s.sample_rate and s.duration == pytest.approx(len(audio) / sr)
    assert 0.8 < s.duration < 5.0
    loud = np.flatnonzero(np.abs(audio) > 0.02)
    assert loud[0] / sr < 0.1 and (len(audio) - loud[-1]) / sr < 0.1  # trimmed
    assert np.abs(audio).max() > 0.5  # levelled like Piper's voice
    assert [w.word for w in s.words] == text.split()
    assert s.words[-1].end == pytest.approx(s.duration, abs=0.002)


@needs_espeak
def test_length_scale_slows_it_down(tmp_path: Path) -> None:
    text = "Bees make honey from nectar."
    fast = EspeakNarrator({"length_scale": 0.8}).execute(text, tmp_path / "f.wav")
    slow = EspeakNarrator({"length_scale": 1.4}).execute(text, tmp_path / "s.wav")
    assert slow.duration > fast.duration * 1.3


@needs_espeak
def test_text_is_never_an_option(tmp_path: Path) -> None:
    s = EspeakNarrator().execute("--version -w /tmp/evil.wav", tmp_path / "a.wav")
    assert s.duration > 0.5 and not Path("/tmp/evil.wav").exists()


@needs_espeak
def test_unknown_voice_is_clear(tmp_path: Path) -> None:
    with pytest.raises(NarrationError, match="no voice 'xx-nope'"):
        EspeakNarrator({"voice": "xx-nope"}).execute("Hello.", tmp_path / "a.wav")


@needs_espeak
def test_voices_are_listed() -> None:
    langs = {v["language"] for v in espeak_voices()}
    assert {"en-us", "de", "fr-fr"} <= langs


def test_missing_program_is_a_narration_error_with_an_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(NarrationError, match="apt-get install espeak-ng"):
        EspeakNarrator({"binary": str(tmp_path / "no-espeak")}).execute("Hello.", tmp_path / "a.wav")
    monkeypatch.setattr(espeak_mod.shutil, "which", lambda name: None)
    with pytest.raises(NarrationError, match="'espeak-ng' program, which was not found"):
        EspeakNarrator().identity()
    assert espeak_voices() == []


def test_long_pauses_are_shortened() -> None:
    sr = 1000
    tone = np.sin(np.arange(300) / 3.0).astype(np.float32) * 0.5
    audio = np.concatenate([tone, np.zeros(2000, np.float32), tone, np.zeros(200, np.float32), tone])
    out = cap_pauses(audio, sr, longest=0.45)
    assert len(out) == pytest.approx(3 * 300 + 450 + 200, abs=20)  # 2 s gap → 0.45 s, 0.2 s kept
