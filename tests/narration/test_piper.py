import numpy as np
import pytest

from reelforge.audio_io import read_wav
from reelforge.errors import NarrationError
from reelforge.narration.piper import PiperNarrator, trim_silence, word_timings


def test_speaks_a_sentence_and_measures_it(tmp_path):
    n = PiperNarrator()
    s = n.execute("Bees make honey from nectar.", tmp_path / "a.wav")
    audio, sr = read_wav(s.path)
    assert sr == s.sample_rate == 22050
    assert s.duration == pytest.approx(len(audio) / sr)
    assert 1.0 < s.duration < 4.0
    # trimmed: speech starts and ends within 100 ms of the file edges
    loud = np.flatnonzero(np.abs(audio) > 0.02)
    assert loud[0] / sr < 0.1 and (len(audio) - loud[-1]) / sr < 0.1
    assert [w.word for w in s.words] == ["Bees", "make", "honey", "from", "nectar."]
    # word times come from the model's phoneme durations: the last word ends where the speech does
    assert s.words[-1].end == pytest.approx(s.duration, abs=0.1)
    assert all(a.end <= b.start + 1e-9 for a, b in zip(s.words, s.words[1:], strict=False))


def test_slower_length_scale_is_longer(tmp_path):
    fast = PiperNarrator({"length_scale": 0.8}).execute("Bees make honey from nectar.", tmp_path / "f.wav")
    slow = PiperNarrator({"length_scale": 1.3}).execute("Bees make honey from nectar.", tmp_path / "s.wav")
    assert slow.duration > fast.duration * 1.15


def test_unknown_voice_and_bad_options_are_clear():
    with pytest.raises(NarrationError, match="unknown voice 'nope'"):
        PiperNarrator({"voice": "nope"}).execute("Hi.", __import__("pathlib").Path("/tmp/x.wav"))
    from reelforge.errors import ConfigError

    with pytest.raises(ConfigError, match="length_scale"):
        PiperNarrator({"length_scale": 9})


def test_trim_and_word_timing_helpers():
    sr = 1000
    a = np.concatenate([np.zeros(500), np.ones(100) * 0.5, np.zeros(500)]).astype(np.float32)
    t = trim_silence(a, sr)
    assert 100 <= len(t) <= 200
    w = word_timings("a banana", 1.0)
    assert w[0].end == w[1].start and w[1].end == pytest.approx(1.0)
    assert (w[1].end - w[1].start) > (w[0].end - w[0].start)  # more syllables, more time
