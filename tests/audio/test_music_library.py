"""The ``library`` music backend: picking per style and seed, cutting and looping on bar lines with
crossfades, exact length, levels and a clean end."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from reelforge.audio_io import read_wav, write_wav
from reelforge.errors import MusicError
from reelforge.models import MusicRequest
from reelforge.music.library import (
    MusicLibrary,
    bar_lines,
    estimate_beat,
    plan_pieces,
    scan_library,
)
from reelforge.music.synth import SynthMusic
from reelforge.pipeline import Pipeline
from reelforge.registry import default_registry
from reelforge.tools import find_ffmpeg

SR = 44100
BPM = 120.0
OFFSET = 0.13  # seconds before the first click


def click_track(seconds: float, sr: int = SR) -> np.ndarray:
    """Stereo clicks at 120 BPM from OFFSET, louder on every bar's first beat, over a quiet hum."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    audio = 0.05 * np.sin(2 * np.pi * 110 * t)
    burst = np.sin(2 * np.pi * 2000 * np.arange(int(0.01 * sr)) / sr) * np.exp(
        -np.arange(int(0.01 * sr)) / (0.002 * sr)
    )
    k = 0
    while (at := OFFSET + k * 60 / BPM) * sr + len(burst) < n:
        i = round(at * sr)
        audio[i : i + len(burst)] += (0.8 if k % 4 == 0 else 0.5) * burst
        k += 1
    return np.stack([audio, audio], axis=1).astype(np.float32)


def encode(src: Path, dst: Path) -> None:
    subprocess.run([find_ffmpeg(), "-v", "error", "-y", "-i", str(src), "-b:a", "128k", str(dst)], check=True)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("library")
    for d in ("calm", "upbeat", "extra"):
        (root / d).mkdir()
    tmp = root / "tmp"
    tmp.mkdir()
    for name, style, dur in (("calm_a", "calm", 12.0), ("calm_b", "calm", 14.0), ("up", "upbeat", 30.0)):
        SynthMusic().execute(MusicRequest(style=style, duration=dur, seed=1), tmp / f"{name}.wav")
    encode(tmp / "calm_a.wav", root / "calm" / "calm_a.mp3")
    encode(tmp / "calm_b.wav", root / "calm" / "calm_b.m4a")
    encode(tmp / "up.wav", root / "upbeat" / "up.ogg")
    write_wav(root / "extra" / "clicks.wav", click_track(9.3), SR)
    write_wav(root / "any.wav", click_track(6.0), SR)  # untagged, at the top: for styles without tracks
    (root / "extra" / "broken.mp3").write_bytes(b"not audio at all" * 100)
    (root / "tags.json").write_text(json.dumps({
        "extra/clicks.wav": {"styles": ["corporate", "playful"], "credit": "Clicks by the test suite (CC0)"},
        "extra/broken.mp3": ["dramatic"],
    }))  # fmt: skip
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    return root


def render(
    library: Path, style: str, duration: float, seed: int = 0, **opts: object
) -> tuple[object, np.ndarray]:
    out = library.parent / f"out-{library.name}-{style}-{duration}-{seed}-{len(opts)}.wav"
    track = MusicLibrary({"dir": str(library), **opts}).execute(
        MusicRequest(style=style, duration=duration, seed=seed), out
    )
    audio, sr = read_wav(out)
    assert sr == SR
    return track, audio


def test_registered() -> None:
    assert default_registry().get("music", "library") is MusicLibrary


def test_scan_folders_tags_and_untagged(library: Path) -> None:
    tracks = {t.path.name: t for t in scan_library(library)}
    assert tracks["calm_a.mp3"].styles == ("calm",)
    assert tracks["up.ogg"].styles == ("upbeat",)
    assert tracks["clicks.wav"].styles == ("corporate", "playful")
    assert tracks["clicks.wav"].credit.startswith("Clicks by")
    assert tracks["any.wav"].styles == ("*",)


def test_pick_is_per_style_and_seed(library: Path) -> None:
    picks = {s: render(library, "calm", 5.0, seed=s)[0].credits for s in range(8)}  # type: ignore[attr-defined]
    assert {c[0] for c in picks.values()} == {"Music: calm_a", "Music: calm_b"}
    assert render(library, "calm", 5.0, seed=3)[0].credits == picks[3]  # type: ignore[attr-defined]
    assert render(library, "ambient", 5.0)[0].credits == ("Music: any",)  # type: ignore[attr-defined]
    assert render(library, "playful", 5.0)[0].credits == ("Clicks by the test suite (CC0)",)  # type: ignore[attr-defined]


def test_exact_length_level_and_clean_edges(library: Path) -> None:
    for duration in (5.0, 20.0, 47.3):  # cut, looped, looped several times
        track, audio = render(library, "upbeat", duration)
        assert audio.shape == (round(duration * SR), 2)
        with wave.open(str(track.path)) as w:  # type: ignore[attr-defined]
            assert (w.getnchannels(), w.getsampwidth()) == (2, 2)
        if duration > 30:  # a whole pass of the (looped) track is levelled like the synth's body
            body = audio[: 30 * SR]
            assert -22.0 < 20 * np.log10(np.sqrt(np.mean(body**2))) < -18.0
        assert np.abs(audio).max() < 0.99
        assert np.abs(audio[0]).max() < 0.02 and np.abs(audio[-1]).max() < 1e-4
        last = np.sqrt(np.mean(audio[-int(0.3 * SR) :] ** 2))
        before = np.sqrt(np.mean(audio[len(audio) // 4 : len(audio) // 2] ** 2))
        assert last < before / 10  # faded, not cut


def test_beat_estimate_of_a_click_track() -> None:
    mono = click_track(9.3).mean(axis=1)
    beat = estimate_beat(mono, SR)
    assert beat.bpm == pytest.approx(BPM, rel=0.02)
    period = 60 / beat.bpm
    assert min(abs(beat.phase - OFFSET) % period, period - abs(beat.phase - OFFSET) % period) < 0.02


def test_loops_keep_the_beat_across_joins(library: Path) -> None:
    """A 9.3 s click track looped to 40 s: every click stays on the 0.5 s grid (the joins are on bar lines,
    so the crossfaded clicks coincide) and no join clicks."""
    track, audio = render(library, "corporate", 40.0)
    assert track.tempo == pytest.approx(BPM, rel=0.02)  # type: ignore[attr-defined]
    mono = np.abs(audio.mean(axis=1))
    # click onsets: where the envelope first exceeds a threshold after a quiet stretch
    env = np.convolve(mono, np.ones(64) / 64, mode="same")
    level = 0.3 * env.max()
    above = np.flatnonzero((env[1:] > level) & (env[:-1] <= level)) / SR
    onsets = above[np.concatenate([[True], np.diff(above) > 0.2])]
    onsets = onsets[onsets < 40.0 - 4.0]  # before the closing fade
    assert len(onsets) > 60
    grid = (onsets - onsets[0]) / (60 / BPM)
    assert np.abs(grid - np.round(grid)).max() * (60 / BPM) < 0.012  # within 12 ms of the beat grid
    assert np.all(np.diff(np.round(grid)) == 1)  # no beat missing or doubled
    # no click added by the joins: the steepest step anywhere is a click of the track itself
    source, _ = read_wav(library / "extra" / "clicks.wav")
    gain = np.sqrt(np.mean(audio[SR : 20 * SR] ** 2)) / np.sqrt(np.mean(source[SR:] ** 2))
    assert np.abs(np.diff(audio, axis=0)).max() <= 1.2 * gain * np.abs(np.diff(source, axis=0)).max()


def test_music_loop_joins_are_smooth(library: Path) -> None:
    """Real music (a synth track in M4A) looped: steps at the joins are no larger than in the music itself."""
    track, audio = render(library, "calm", 45.0, seed=1)
    jumps = np.abs(np.diff(audio, axis=0)).max(axis=1)
    src_len = 14.0 if "calm_b" in track.credits[0] else 12.0  # type: ignore[attr-defined]
    body = jumps[: int((src_len - 1) * SR)]  # the first pass is the track itself
    assert jumps.max() <= 1.25 * body.max() + 1e-3


def test_plan_pieces_cut_and_loop() -> None:
    lines = [int(0.1 * SR) + i * 2 * SR for i in range(10)]
    assert plan_pieces(30 * SR, 20 * SR, lines, SR // 2)[0].length == 20 * SR
    pieces = plan_pieces(10 * SR, 45 * SR, [b for b in lines if b < 10 * SR], SR // 2)
    assert pieces[0].out == 0 and pieces[0].src == 0
    body = pieces[1].length
    assert all(p.src == pieces[1].src for p in pieces[1:])
    assert (body % (2 * SR)) == 0  # whole phrases
    assert sum(p.length for p in pieces) == 45 * SR
    assert (
        bar_lines(estimate_beat(np.zeros(SR * 5, np.float32), SR), 10 * SR, SR, None)[1] == 2 * SR
    )  # 2 s phrases


def test_errors_are_clear(library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MusicError, match=r"cannot decode broken\.mp3"):
        render(library, "dramatic", 5.0)
    with pytest.raises(MusicError, match="does not exist"):
        MusicLibrary({"dir": str(tmp_path / "nope")}).execute(
            MusicRequest(style="calm", duration=3, seed=0), tmp_path / "a.wav"
        )
    monkeypatch.delenv("REELFORGE_MUSIC_DIR", raising=False)
    with pytest.raises(MusicError, match="--music-dir"):
        MusicLibrary().identity()
    (tmp_path / "lib" / "calm").mkdir(parents=True)
    write_wav(tmp_path / "lib" / "calm" / "a.wav", click_track(3.0), SR)
    with pytest.raises(MusicError, match=r"no track for style 'upbeat' \(it has: calm\)"):
        MusicLibrary({"dir": str(tmp_path / "lib")}).execute(
            MusicRequest(style="upbeat", duration=3, seed=0), tmp_path / "a.wav"
        )


def test_identity_follows_the_folder_content(library: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    (lib / "calm").mkdir(parents=True)
    write_wav(lib / "calm" / "a.wav", click_track(3.0), SR)
    first = MusicLibrary({"dir": str(lib)}).identity()
    write_wav(lib / "calm" / "b.wav", click_track(4.0), SR)
    assert MusicLibrary({"dir": str(lib)}).identity() != first


def test_pipeline_music_stage_with_a_library(library: Path, make_settings) -> None:
    from reelforge.models import Request

    settings = make_settings(music="library", options={"library": {"dir": str(library)}})
    track = Pipeline(settings)._music(Request(prompt="bees", duration=12.0, style="playful"), 12.0)
    assert track is not None and track.credits == ("Clicks by the test suite (CC0)",)
    assert track.duration == 12.0
