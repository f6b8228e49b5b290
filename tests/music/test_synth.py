"""The offline ``synth`` music backend: exact WAV format, determinism, tempo, timbre, clean joins and ends."""

from __future__ import annotations

import tracemalloc
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from reelforge.errors import ConfigError, MusicError
from reelforge.models import STYLES, MusicRequest, MusicTrack
from reelforge.music.synth import STYLES as SYNTH_STYLES
from reelforge.music.synth import SynthMusic

SR = 44100
DRUM_STYLES = tuple(s for s in STYLES if SYNTH_STYLES[s].drums)

Render = Callable[..., tuple[MusicTrack, np.ndarray]]


def read(path: Path) -> tuple[np.ndarray, int, int, int]:
    """Samples as floats (frames, channels) in [-1, 1), plus channels, sample width and rate."""
    with wave.open(str(path), "rb") as w:
        ch, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
        data = np.frombuffer(w.readframes(n), "<i2").astype(np.float64) / 32768.0
    return data.reshape(-1, ch), ch, width, rate


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Render:
    """Renders (cached per module): style, duration, seed, sample rate, chunk seconds."""
    cache: dict[tuple[object, ...], tuple[MusicTrack, np.ndarray]] = {}
    folder = tmp_path_factory.mktemp("music")

    def _render(
        style: str, duration: float, seed: int = 0, sample_rate: int = SR, chunk: float = 10.0
    ) -> tuple[MusicTrack, np.ndarray]:
        key = (style, duration, seed, sample_rate, chunk)
        if key not in cache:
            out = folder / f"{style}-{duration}-{seed}-{sample_rate}-{chunk}.wav"
            req = MusicRequest(style=style, duration=duration, seed=seed, sample_rate=sample_rate)
            track = SynthMusic({"chunk_seconds": chunk}).execute(req, out)
            audio, _, _, _ = read(out)
            cache[key] = (track, audio)
        return cache[key]

    return _render


def onset_envelope(mono: np.ndarray, sr: int, hop: int = 256, size: int = 1024) -> tuple[np.ndarray, float]:
    """Spectral flux of log magnitudes, with its local mean removed (half-wave rectified)."""
    frames = np.lib.stride_tricks.sliding_window_view(mono, size)[::hop] * np.hanning(size)
    mag = np.log1p(10.0 * np.abs(np.fft.rfft(frames, axis=1)))
    flux = np.maximum(0.0, np.diff(mag, axis=0)).sum(axis=1)
    local = np.convolve(flux, np.ones(16) / 16, mode="same")
    return np.maximum(0.0, flux - local), sr / hop


def estimate_tempo(mono: np.ndarray, sr: int, reference: float) -> float:
    """Autocorrelation peak of the onset envelope in 60-200 BPM, folded by octaves towards ``reference``."""
    env, fps = onset_envelope(mono, sr)
    env = env - env.mean()
    n = env.size
    spec = np.fft.rfft(env, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n] / (n - np.arange(n))  # unbiased
    lo, hi = int(60 * fps / 200), int(np.ceil(60 * fps / 60))
    lag = lo + int(np.argmax(ac[lo : hi + 1]))
    a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    bpm = 60 * fps / (lag + shift)
    while bpm < reference / 1.45:
        bpm *= 2
    while bpm > reference * 1.45:
        bpm /= 2
    return float(bpm)


def test_registered_identity_and_options() -> None:
    b = SynthMusic()
    assert b.name == "synth" and b.description
    assert b.identity()["options"] == {"chunk_seconds": 10.0}
    with pytest.raises(ConfigError, match="chunk_seconds"):
        SynthMusic({"chunk_seconds": 0})
    with pytest.raises(ConfigError, match="bogus"):
        SynthMusic({"bogus": 1})


@pytest.mark.parametrize(("duration", "style"), [(1.0, "upbeat"), (7.3, "ambient"), (65.0, "corporate")])
def test_exact_frames_stereo_16bit(tmp_path: Path, duration: float, style: str) -> None:
    out = tmp_path / "sub" / "music.wav"
    track = SynthMusic().execute(MusicRequest(style=style, duration=duration, seed=3), out)
    audio, ch, width, rate = read(out)
    assert (ch, width, rate) == (2, 2, SR)
    assert audio.shape[0] == round(duration * SR)
    assert track.path == out and track.duration == duration and track.sample_rate == SR
    lo, hi = SYNTH_STYLES[style].tempo
    assert lo <= track.tempo <= hi
    assert track.key.split()[1] in ("major", "minor")
    assert not list(tmp_path.glob("sub/.*part"))  # written through a temporary file
    assert np.sqrt(np.mean(audio**2)) > 0.01  # not silence


@pytest.mark.parametrize("sample_rate", [22050, 48000])
def test_other_sample_rates(render: Render, sample_rate: int) -> None:
    track, audio = render("playful", 2.5, sample_rate=sample_rate)
    assert track.sample_rate == sample_rate
    assert audio.shape == (round(2.5 * sample_rate), 2)


def test_deterministic_per_seed(tmp_path: Path) -> None:
    req = MusicRequest(style="dramatic", duration=6.0, seed=42)
    a, b, c = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "c.wav"
    ta = SynthMusic().execute(req, a)
    tb = SynthMusic().execute(req, b)
    SynthMusic().execute(req.model_copy(update={"seed": 43}), c)
    assert a.read_bytes() == b.read_bytes()
    assert ta.model_copy(update={"path": b}) == tb
    assert a.read_bytes() != c.read_bytes()


def test_unknown_style_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(MusicError, match=r"valid styles: upbeat, .*playful") as info:
        SynthMusic().execute(MusicRequest(style="polka", duration=5, seed=0), tmp_path / "x.wav")
    assert "polka" in str(info.value)
    assert not (tmp_path / "x.wav").exists()


def test_bad_duration_and_rate(tmp_path: Path) -> None:
    with pytest.raises(MusicError, match="duration"):
        SynthMusic().execute(MusicRequest(style="calm", duration=0, seed=0), tmp_path / "x.wav")
    with pytest.raises(MusicError, match="sample rate"):
        SynthMusic().execute(
            MusicRequest(style="calm", duration=1, seed=0, sample_rate=100), tmp_path / "x.wav"
        )


def test_unwritable_output_is_a_music_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(MusicError, match="cannot write the music track"):
        SynthMusic().execute(MusicRequest(style="calm", duration=1, seed=0), blocker / "x.wav")


@pytest.mark.parametrize("style", STYLES)
def test_tempo(render: Render, style: str) -> None:
    track, audio = render(style, 20.0)
    lo, hi = SYNTH_STYLES[style].tempo
    assert lo <= track.tempo <= hi
    if style not in DRUM_STYLES:
        # no drums to lock onto: the reported tempo is in range and the bed is audible throughout
        body = audio[int(2 * SR) : int(17 * SR)].mean(axis=1)
        per_second = np.sqrt(np.mean(body[: 15 * SR].reshape(15, SR) ** 2, axis=1))
        assert per_second.min() > 0.02
        return
    bpm = estimate_tempo(audio.mean(axis=1), SR, track.tempo)
    assert bpm == pytest.approx(track.tempo, rel=0.05)


def test_tempo_follows_the_seed(render: Render) -> None:
    tempos = {render("upbeat", 1.0, seed=s)[0].tempo for s in range(6)}
    assert len(tempos) > 1


def spectral_centroid(audio: np.ndarray, sr: int) -> float:
    mono = audio.mean(axis=1)
    frames = np.lib.stride_tricks.sliding_window_view(mono, 4096)[::2048] * np.hanning(4096)
    mag = np.abs(np.fft.rfft(frames, axis=1)).mean(axis=0)
    freqs = np.fft.rfftfreq(4096, 1 / sr)
    return float((freqs * mag).sum() / mag.sum())


def test_styles_sound_different(render: Render) -> None:
    calm = spectral_centroid(render("calm", 20.0)[1], SR)
    upbeat = spectral_centroid(render("upbeat", 20.0)[1], SR)
    ambient = spectral_centroid(render("ambient", 20.0)[1], SR)
    assert upbeat > 1.3 * calm
    assert upbeat > 1.3 * ambient


@pytest.mark.parametrize("style", STYLES)
def test_levels_edges_and_no_clicks(render: Render, style: str) -> None:
    track, audio = render(style, 20.0, chunk=1.0)  # a chunk join at every bar
    # level: peaks near -3 dBFS without clipping, body RMS around -20 dBFS
    assert np.abs(audio).max() < 0.99
    assert np.abs(audio).max() <= 10 ** (-3 / 20) + 1e-3
    body = audio[len(audio) // 4 : len(audio) * 3 // 4]
    rms_db = 20 * np.log10(np.sqrt(np.mean(body**2)))
    assert -23.0 < rms_db < -17.0
    # no clicks anywhere, and none at the chunk joins (every bar start)
    jumps = np.abs(np.diff(audio, axis=0)).max(axis=1)
    assert jumps.max() < 0.25
    bar = 240.0 / track.tempo
    for b in range(1, int(20.0 / bar) + 1):
        at = round(b * bar * SR)
        assert jumps[max(0, at - 32) : at + 32].max() < 0.25
    # starts at silence, ends faded out (never cut off)
    assert np.abs(audio[0]).max() < 1e-3
    assert np.sqrt(np.mean(audio[-int(0.05 * SR) :] ** 2)) < 1e-3
    assert np.abs(audio[-1]).max() < 1e-3
    last = np.sqrt(np.mean(audio[-int(0.5 * SR) :] ** 2))
    before = np.sqrt(np.mean(audio[-int(4.5 * SR) : -int(2.5 * SR)] ** 2))
    assert last < before / 10  # a real fade, not a cut


def test_output_does_not_depend_on_the_chunk_size(render: Render) -> None:
    for style in ("cinematic", "playful"):
        _, small = render(style, 20.0, chunk=1.0)
        _, large = render(style, 20.0)
        assert small.shape == large.shape
        assert np.abs(small - large).max() <= 2 / 32768  # float rounding of the FFT reverb at most


def test_short_tracks_end_cleanly(render: Render) -> None:
    for duration in (1.0, 1.7, 3.0):
        _, audio = render("corporate", duration)
        assert audio.shape[0] == round(duration * SR)
        assert np.abs(audio[0]).max() < 1e-3
        assert np.sqrt(np.mean(audio[-int(0.05 * SR) :] ** 2)) < 0.01
        assert np.abs(np.diff(audio, axis=0)).max() < 0.25


def test_body_varies_between_sections(render: Render) -> None:
    """Sections differ (progression, density, arpeggio, melody): the track is not one loop.

    A 50 s corporate track has a 2-bar intro and 8-bar sections: bars 2-9 and 10-17 would be
    identical if the body simply looped its 4-bar progression.
    """
    track, audio = render("corporate", 50.0)
    bar = 240.0 / track.tempo * SR
    mono = audio.mean(axis=1)
    first = mono[round(2 * bar) : round(10 * bar)]
    second = mono[round(10 * bar) : round(18 * bar)]
    n = min(len(first), len(second))
    assert np.sqrt(np.mean((first[:n] - second[:n]) ** 2)) > 0.3 * np.sqrt(np.mean(first**2))


def test_memory_stays_bounded(tmp_path: Path) -> None:
    """Peak (traced) memory of a long render is about that of a short one: the track is streamed."""

    def peak(duration: float) -> int:
        req = MusicRequest(style="ambient", duration=duration, seed=1, sample_rate=8000)
        tracemalloc.start()
        try:
            SynthMusic().execute(req, tmp_path / f"{duration}.wav")
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    short, long = peak(30.0), peak(300.0)
    whole_track = 300.0 * 8000 * 2 * 8  # what holding the whole mix as float64 would cost
    assert long < short + whole_track / 4
    assert long < 40 * 2**20
