"""Each ``synth`` style sounds like its plan and unlike the others, measured on the audio (two seeds):

- tempo from the onsets (the ``library`` backend's beat estimator) within ±5 % of the planned tempo, for every
  style, drums or not (tests/music checks the drum styles with its own estimator);
- the planned key among the three best-matching of the 24 key profiles (Krumhansl-Kessler) of the chroma;
- every pair of styles differs by tempo (> 5 %, the plan's, which the first test shows is what is heard),
  spectral centroid (> 20 %) or spectral shape (> 2 dB RMS over 24 bands).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from reelforge.audio_io import read_wav
from reelforge.models import STYLES, MusicRequest
from reelforge.music.library import estimate_beat
from reelforge.music.synth import SynthMusic

SR = 22050
SEEDS = (0, 1)
NOTES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def chroma(mono: np.ndarray) -> np.ndarray:
    n = 8192
    frames = np.lib.stride_tricks.sliding_window_view(mono, n)[:: n // 2] * np.hanning(n)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)
    freqs = np.fft.rfftfreq(n, 1 / SR)
    m = (freqs > 55) & (freqs < 2000)
    pitch_class = (np.round(12 * np.log2(freqs[m] / 440.0)) + 9) % 12
    c = np.bincount(pitch_class.astype(int), weights=power[m], minlength=12)
    return c / c.sum()


def key_ranking(c: np.ndarray) -> list[tuple[float, str]]:
    scores = [
        (float(np.corrcoef(c, np.roll(profile, tonic))[0, 1]), f"{NOTES[tonic]} {mode}")
        for tonic in range(12)
        for mode, profile in (("major", MAJOR), ("minor", MINOR))
    ]
    return sorted(scores, reverse=True)


def spectrum(mono: np.ndarray) -> tuple[float, np.ndarray]:
    """Spectral centroid (Hz) and the spectral shape: power in 24 log-spaced bands, dB below the loudest."""
    n = 4096
    frames = np.lib.stride_tricks.sliding_window_view(mono, n)[:: n // 2] * np.hanning(n)
    mag = np.abs(np.fft.rfft(frames, axis=1)).mean(axis=0)
    freqs = np.fft.rfftfreq(n, 1 / SR)
    centroid = float((freqs * mag).sum() / mag.sum())
    edges = np.geomspace(50, 10000, 25)
    bands = np.array([(mag[(freqs >= a) & (freqs < b)] ** 2).sum() for a, b in itertools.pairwise(edges)])
    shape = 10 * np.log10(bands + 1e-12)
    return centroid, shape - shape.max()


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], dict[str, Any]]:
    folder = tmp_path_factory.mktemp("styles")
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for style in STYLES:
        for seed in SEEDS:
            path = folder / f"{style}-{seed}.wav"
            track = SynthMusic().execute(
                MusicRequest(style=style, duration=20.0, seed=seed, sample_rate=SR), path
            )
            audio, _ = read_wav(path)
            mono = audio.mean(axis=1)
            centroid, shape = spectrum(mono)
            out[(style, seed)] = {
                "track": track,
                "bpm": estimate_beat(mono, SR).bpm,
                "keys": key_ranking(chroma(mono[2 * SR : -3 * SR])),  # without the fades
                "centroid": centroid,
                "shape": shape,
            }
    return out


def fold(bpm: float, reference: float) -> float:
    while bpm < reference / 1.45:
        bpm *= 2
    while bpm > reference * 1.45:
        bpm /= 2
    return bpm


@pytest.mark.parametrize("style", STYLES)
def test_tempo_from_onsets_matches_the_plan(
    measured: dict[tuple[str, int], dict[str, Any]], style: str
) -> None:
    for seed in SEEDS:
        m = measured[(style, seed)]
        planned = m["track"].tempo
        if style == "ambient":
            # no drums; its strongest pulse is the bell's dotted-eighth echo: 4/3 of the beat
            assert m["bpm"] == pytest.approx(planned * 4 / 3, rel=0.05)
        else:
            assert fold(m["bpm"], planned) == pytest.approx(planned, rel=0.05)


@pytest.mark.parametrize("style", STYLES)
def test_chroma_matches_the_planned_key(measured: dict[tuple[str, int], dict[str, Any]], style: str) -> None:
    for seed in SEEDS:
        m = measured[(style, seed)]
        ranked = [k for _, k in m["keys"]]
        assert m["track"].key in ranked[:3], (m["track"].key, m["keys"][:3])
        assert dict((k, r) for r, k in m["keys"])[m["track"].key] > 0.5


def test_every_pair_of_styles_differs(measured: dict[tuple[str, int], dict[str, Any]]) -> None:
    for seed in SEEDS:
        for a, b in itertools.combinations(STYLES, 2):
            x, y = measured[(a, seed)], measured[(b, seed)]
            tempo = abs(np.log(x["track"].tempo / y["track"].tempo)) / np.log(1.05)
            bright = abs(np.log(x["centroid"] / y["centroid"])) / np.log(1.2)
            shape = float(np.sqrt(np.mean((x["shape"] - y["shape"]) ** 2))) / 2.0
            assert max(tempo, bright, shape) >= 1.0, (a, b, seed, tempo, bright, shape)
