"""The ``library`` music backend: your own tracks, picked per style, fitted to the video's length.

Layout of the folder (``--music-dir DIR``, ``[options.library] dir`` or ``REELFORGE_MUSIC_DIR``)::

    DIR/calm/*.mp3            one subfolder per style (any depth below it)
    DIR/upbeat/*.m4a
    DIR/tags.json             and/or tags: {"song.mp3": ["calm", "ambient"],
                              "other.ogg": {"styles": ["upbeat"], "credit": "Song by X (CC BY 4.0)"}}
    DIR/*.wav                 untagged tracks at the top serve any style that has none of its own

The track is picked at random per ``(style, seed)`` (``hashlib``, so the same request picks the same
track). It is decoded with PyAV (MP3, AAC/M4A, Ogg/Opus, FLAC, WAV), and its beat is estimated from
the onset envelope (spectral flux, autocorrelation for the period, a comb for the phase); a bar is four
beats, or a fixed 2-second phrase when no steady beat is found. A track longer than the video is cut
and faded out from a bar line; a shorter one is looped between two bar lines, the loop's end nudged
(by cross-correlation, within 30 ms) to where the audio matches the loop's start, so the beat runs on
without drifting, and the joins are crossfaded (equal gain where the two places match, else equal
power). The result is a 16-bit stereo WAV of exactly the
requested length, levelled to the synth's body level (about -20 dBFS RMS, peaks under -3 dBFS), with
a short fade-in and a clean fade to silence at the end. Only the picked track is held in memory; the
output is written in blocks.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field

from ..audio_decode import DecodeError, decode_audio
from ..audio_io import atomic_binary
from ..backend import Backend, BackendOptions
from ..errors import MusicError
from ..models import STYLES, MusicRequest, MusicTrack

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

AUDIO_EXTENSIONS = frozenset({".mp3", ".wav", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".mp4"})
ANY = "*"  # untagged tracks at the top of the folder
#: tracks are decoded up to this long (a longer one is cut and faded anyway)
MAX_DECODE = 20 * 60.0
#: the beat is estimated on at most this much of the track
ANALYSIS_SECONDS = 90.0
PHRASE = 2.0  # seconds: the "bar" when no steady beat is found
BLOCK = 1 << 16
CEILING = 10 ** (-3 / 20)


@dataclass(frozen=True)
class LibraryTrack:
    path: Path
    styles: tuple[str, ...]
    credit: str = ""


@dataclass(frozen=True)
class Beat:
    bpm: float  # 0 when no steady beat was found
    phase: float  # seconds to the first beat
    confidence: float


def default_music_dir() -> Path | None:
    env = os.environ.get("REELFORGE_MUSIC_DIR")
    return Path(env).expanduser() if env else None


def scan_library(root: Path) -> list[LibraryTrack]:
    """Every audio file under ``root`` with its styles (from its folder and ``tags.json``)."""
    if not root.is_dir():
        raise MusicError(f"music library folder {root} does not exist",
                         hint="pass --music-dir DIR with subfolders per style (DIR/calm/*.mp3)")  # fmt: skip
    tags: dict[str, Any] = {}
    tag_file = root / "tags.json"
    if tag_file.is_file():
        try:
            tags = json.loads(tag_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MusicError(f"cannot read {tag_file}: {exc}") from None
        if not isinstance(tags, dict):
            raise MusicError(f'{tag_file} must be an object: {{"file.mp3": ["calm", ...], ...}}')
    tracks: list[LibraryTrack] = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()):
        rel = path.relative_to(root)
        styles: set[str] = set()
        credit = ""
        if len(rel.parts) > 1 and rel.parts[0].lower() in STYLES:
            styles.add(rel.parts[0].lower())
        entry = tags.get(rel.as_posix(), tags.get(path.name))
        if isinstance(entry, str):
            entry = [entry]
        if isinstance(entry, list):
            styles.update(str(s).lower() for s in entry)
        elif isinstance(entry, dict):
            raw = entry.get("styles") or entry.get("tags") or []
            styles.update(str(s).lower() for s in ([raw] if isinstance(raw, str) else raw))
            credit = str(entry.get("credit", ""))
        if not styles and len(rel.parts) == 1:
            styles.add(ANY)
        if styles:
            tracks.append(LibraryTrack(path=path, styles=tuple(sorted(styles)), credit=credit))
    return tracks


def pick_track(tracks: list[LibraryTrack], style: str, seed: int) -> LibraryTrack:
    """A track for the style (else an untagged one), chosen by ``(style, seed)``."""
    candidates = [t for t in tracks if style in t.styles] or [t for t in tracks if ANY in t.styles]
    if not candidates:
        have = sorted({s for t in tracks for s in t.styles} - {ANY})
        raise MusicError(
            f"the music library has no track for style '{style}'"
            + (f" (it has: {', '.join(have)})" if have else " (it has no audio files)"),
            hint=f"add files under DIR/{style}/ or tag them in DIR/tags.json",
        )
    digest = hashlib.sha256(f"library:{style}:{seed}".encode()).digest()
    return candidates[int.from_bytes(digest[:8], "big") % len(candidates)]


# ---- beat estimation ------------------------------------------------------------------------


def onset_envelope(mono: F32, sr: int, hop: int = 0, size: int = 0) -> tuple[F64, float]:
    """Spectral flux of log magnitudes (half-wave rectified, local mean removed) and its frame rate.

    Frames are about 46 ms (``size``) every 11.6 ms (``hop``) whatever the rate. A flux peak marks the
    frame where an onset enters the window, about one window length before the onset itself."""
    hop = hop or max(32, round(sr * 512 / 44100))
    size = size or 4 * hop
    if len(mono) < size + hop:
        return np.zeros(0), sr / hop
    frames = np.lib.stride_tricks.sliding_window_view(mono.astype(np.float64), size)[::hop]
    mag = np.log1p(100.0 * np.abs(np.fft.rfft(frames * np.hanning(size), axis=1)))
    flux = np.maximum(0.0, np.diff(mag, axis=0)).sum(axis=1)
    local = np.convolve(flux, np.ones(16) / 16, mode="same")
    return np.maximum(0.0, flux - local), sr / hop


def estimate_beat(mono: F32, sr: int) -> Beat:
    """Tempo (autocorrelation of the onset envelope, 60-180 BPM with a mild preference around 120) and
    the phase of the beat grid (the offset whose comb collects the most onset energy)."""
    env, fps = onset_envelope(mono[: int(ANALYSIS_SECONDS * sr)], sr)
    if env.size < fps * 4 or not np.any(env > 0):
        return Beat(0.0, 0.0, 0.0)
    x = env - env.mean()
    n = x.size
    spec = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n] / (n - np.arange(n))
    if ac[0] <= 0:
        return Beat(0.0, 0.0, 0.0)
    lo, hi = int(60 * fps / 180), min(n - 2, math.ceil(60 * fps / 60))
    if hi <= lo + 2:
        return Beat(0.0, 0.0, 0.0)
    lags = np.arange(lo, hi + 1)
    bpms = 60 * fps / lags
    prior = np.exp(-0.5 * (np.log2(bpms / 120.0) / 0.9) ** 2)
    score = np.maximum(ac[lo : hi + 1], 0) * prior
    lag = int(lags[int(np.argmax(score))])
    a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
    denom = a - 2 * b + c
    shift = 0.5 * (a - c) / denom if denom != 0 else 0.0
    period = lag + float(np.clip(shift, -0.5, 0.5))
    confidence = float(max(ac[lag], 0.0) / ac[0])
    # phase: the offset (within one period) whose comb of beats collects the most onset energy
    k = np.arange(int((n - 1) / period))
    best, phase = -1.0, 0.0
    for p in np.arange(0.0, period, 0.5):
        idx = np.round(p + k * period).astype(int)
        idx = idx[idx < n]
        s = float(env[idx].sum())
        if s > best:
            best, phase = s, p
    window = 4 * max(32, round(sr * 512 / 44100)) / sr  # flux peaks lead their onsets by about a window
    return Beat(bpm=60 * fps / period, phase=(phase / fps + window) % (period / fps), confidence=confidence)


# ---- fitting the track to the duration ------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    out: int  # first output frame of the piece's core (the crossfade extends ``fade`` before it)
    src: int  # first source frame of the core
    length: int  # frames in the core
    fade_in: int  # crossfade frames on each side of ``out`` (0: starts hard, with a short ramp)
    fade_out: int  # crossfade frames on each side of ``out + length``
    #: the crossfade's curves: gains summing to one (for the same beat in both: it reinforces itself),
    #: or powers summing to one (for unrelated material)
    equal_gain: bool = False


def bar_lines(beat: Beat, total: int, sr: int, phrase: float | None) -> list[int]:
    """Frames of the bar lines (four beats, or fixed phrases) inside ``total`` frames."""
    if phrase is None and beat.bpm > 0 and beat.confidence >= 0.1:
        bar = 4 * 60.0 / beat.bpm
        while bar < 2.0:  # fast tempos (or a beat found at double speed): lines two bars apart
            bar *= 2
        start = beat.phase
    else:
        bar, start = (phrase or PHRASE), 0.0
    return [round((start + i * bar) * sr) for i in range(int((total / sr - start) / bar) + 1)]


def refine_loop_end(
    mono: F32, a: int, b: int, xfade: int, sr: int, search: float = 0.03
) -> tuple[int, float]:
    """Move the loop's end ``b`` by up to ``search`` seconds to where the audio best matches the audio at
    its start ``a`` (normalised cross-correlation over half a second): a beat estimate that is off by a
    fraction of a percent would otherwise drift by that much on every pass of the loop. Returns the new
    end and the correlation there (1: the two places sound the same)."""
    w = min(int(0.25 * sr), a, len(mono) - b)
    s = min(int(search * sr), len(mono) - b - w - xfade, b - a - w)
    if w < int(0.02 * sr) or s < 1:
        return b, 0.0
    ref = mono[a - w : a + w].astype(np.float64)
    region = mono[b - w - s : b + w + s].astype(np.float64)
    corr = np.correlate(region, ref, mode="valid")  # 2 s + 1 lags
    energy = np.convolve(region**2, np.ones(2 * w), mode="valid")
    score = corr / np.sqrt(np.maximum(energy, 1e-12) * max(float(np.dot(ref, ref)), 1e-12))
    k = int(np.argmax(score))
    return b - s + k, float(score[k])


def plan_pieces(
    n_src: int,
    total: int,
    lines: list[int],
    xfade: int,
    refine: Callable[[int, int], tuple[int, float]] | None = None,
) -> list[Piece]:
    """How the output is made of the source: one cut, or a loop between two bar lines (``refine`` may
    nudge the loop's end to where the audio matches its start best)."""
    if n_src >= total:
        return [Piece(out=0, src=0, length=total, fade_in=0, fade_out=0)]
    ok = [b for b in lines if xfade <= b <= n_src - xfade]
    loop_a = next((b for b in ok if b >= xfade), None)
    loop_b = ok[-1] if ok else None
    if loop_a is None or loop_b is None or loop_b - loop_a < max(4 * xfade, n_src // 4):
        loop_a, loop_b = xfade, n_src - xfade  # no usable bar lines: loop (nearly) the whole track
        if loop_b - loop_a < 4 * xfade:
            xfade = max(1, (n_src // 8))
            loop_a, loop_b = xfade, n_src - xfade
    correlated = False
    if refine is not None:
        loop_b, similarity = refine(loop_a, loop_b)
        correlated = similarity >= 0.5
    pieces = [Piece(out=0, src=0, length=loop_b, fade_in=0, fade_out=xfade, equal_gain=correlated)]
    pos = loop_b
    body = loop_b - loop_a
    while pos < total:
        length = min(body, total - pos)
        last = pos + length >= total
        pieces.append(Piece(out=pos, src=loop_a, length=length, fade_in=xfade, fade_out=0 if last else xfade,
                            equal_gain=correlated))  # fmt: skip
        pos += length
    return pieces


def _window(n: int, rising: bool, equal_gain: bool = False) -> F32:
    """Crossfade curve over ``n`` frames: equal power (sin/cos) or equal gain (sin²/cos²)."""
    t = (np.arange(n, dtype=np.float64) + 0.5) / n
    w = np.sin(0.5 * np.pi * t) if rising else np.cos(0.5 * np.pi * t)
    return (w * w if equal_gain else w).astype(np.float32)


def render_block(src: F32, pieces: list[Piece], lo: int, hi: int) -> F32:
    """Output frames ``lo..hi`` (stereo) as the sum of the pieces that touch them."""
    out = np.zeros((hi - lo, src.shape[1]), dtype=np.float32)
    for p in pieces:
        a = p.out - p.fade_in
        b = p.out + p.length + p.fade_out
        s, e = max(a, lo), min(b, hi)
        if s >= e:
            continue
        seg = src[p.src - p.out + s : p.src - p.out + e].copy()
        gain = np.ones(e - s, dtype=np.float32)
        if p.fade_in:
            t0 = np.arange(s, e) - a
            m = t0 < 2 * p.fade_in
            gain[m] *= _window(2 * p.fade_in, True, p.equal_gain)[t0[m]]
        if p.fade_out:
            t1 = np.arange(s, e) - (p.out + p.length - p.fade_out)
            m = t1 >= 0
            gain[m] *= _window(2 * p.fade_out, False, p.equal_gain)[t1[m]]
        out[s - lo : e - lo] += seg * gain[:, None]
    return out


def end_fade(lines: list[int], total: int, sr: int, longest: float) -> int:
    """The frame where the closing fade starts: a bar line 1.5 s to ``longest`` s before the end."""
    if total < 4 * sr:
        return total - max(1, total // 4)
    shortest = int(1.5 * sr)
    candidates = [b for b in lines if shortest <= total - b <= int(longest * sr)]
    return max(candidates) if candidates else total - min(int(longest * sr), total // 3)


class MusicLibrary(Backend):
    name: ClassVar[str] = "library"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "your tracks (--music-dir), cut or looped on bar lines"

    class Options(BackendOptions):
        dir: str | None = None  # default $REELFORGE_MUSIC_DIR
        crossfade: Annotated[float, Field(ge=0.05, le=4.0)] = 0.5  # seconds either side of a loop join
        #: seconds per phrase for cuts and loops; None: four beats, estimated from the track
        phrase: Annotated[float | None, Field(ge=0.5, le=30.0)] = None
        fade_out: Annotated[float, Field(ge=1.5, le=15.0)] = 4.0  # the longest closing fade, seconds
        level_db: Annotated[float, Field(ge=-40.0, le=-6.0)] = -20.0  # RMS the track is levelled to

    options: Options

    def root(self) -> Path:
        if self.options.dir:
            return Path(self.options.dir).expanduser()
        env = default_music_dir()
        if env is None:
            raise MusicError("the library music backend needs a folder of tracks",
                             hint="pass --music-dir DIR (DIR/calm/*.mp3, ...) or set REELFORGE_MUSIC_DIR")  # fmt: skip
        return env

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        root = self.root()
        ident["options"].pop("dir", None)  # the folder's content matters, not where it is
        manifest = [(t.path.relative_to(root).as_posix(), t.path.stat().st_size, t.styles, t.credit)
                    for t in scan_library(root)]  # fmt: skip
        ident["library"] = hashlib.sha256(json.dumps(manifest).encode()).hexdigest()[:20]
        return ident

    def execute(self, request: MusicRequest, out_path: Path) -> MusicTrack:
        if not (math.isfinite(request.duration) and request.duration > 0):
            raise MusicError(f"music duration must be a positive number of seconds, got {request.duration}")
        sr = request.sample_rate
        total = round(request.duration * sr)
        track = pick_track(scan_library(self.root()), request.style, request.seed)
        try:
            src, _ = decode_audio(
                track.path, sample_rate=sr, channels=2, max_seconds=min(MAX_DECODE, request.duration + 30)
            )
        except DecodeError as exc:
            raise MusicError(
                f"cannot decode {track.path.name}: {exc}", hint="use MP3, M4A, Ogg, FLAC or WAV"
            ) from None
        if len(src) < sr // 2:
            raise MusicError(f"{track.path.name} is too short to use as music (under half a second)")
        mono = src.mean(axis=1)
        beat = estimate_beat(mono[::2], sr // 2) if sr >= 16000 else estimate_beat(mono, sr)
        lines = bar_lines(beat, max(total, len(src)), sr, self.options.phrase)
        xfade = int(min(self.options.crossfade, len(src) / sr / 8) * sr)
        xfade = max(1, xfade)
        pieces = plan_pieces(len(src), total, [b for b in lines if b < len(src)], xfade,
                             refine=lambda a, b: refine_loop_end(mono, a, b, xfade, sr))  # fmt: skip
        # level: body RMS to level_db, peaks under -3 dBFS
        rms = float(np.sqrt(np.mean(np.square(mono, dtype=np.float64)))) or 1e-9
        peak = float(np.abs(src).max()) or 1e-9
        gain = min(10 ** (self.options.level_db / 20) / rms, CEILING / peak)
        fade_at = end_fade([b for b in lines if b < total], total, sr, self.options.fade_out)
        fade_in = min(int(0.01 * sr), total // 4)
        self._write(out_path, src, pieces, total, sr, gain, fade_in, fade_at)
        credit = track.credit or f"Music: {track.path.stem}"
        return MusicTrack(path=out_path, duration=request.duration, sample_rate=sr,
                          tempo=round(beat.bpm, 2) if beat.confidence >= 0.1 else 0.0, credits=(credit,))  # fmt: skip

    @staticmethod
    def _write(out_path: Path, src: F32, pieces: list[Piece], total: int, sr: int, gain: float,
               fade_in: int, fade_at: int) -> None:  # fmt: skip
        with atomic_binary(Path(out_path), MusicError, "music track") as fh, wave.open(fh, "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(sr)
            fade_len = max(1, total - fade_at)
            for lo in range(0, total, BLOCK):
                hi = min(total, lo + BLOCK)
                block = render_block(src, pieces, lo, hi) * gain
                idx = np.arange(lo, hi)
                env = np.ones(hi - lo, dtype=np.float32)
                m = idx < fade_in
                env[m] = (idx[m] / max(1, fade_in)).astype(np.float32)
                m = idx >= fade_at
                # raised cosine to exactly zero on the last frame
                x = (idx[m] - fade_at) / max(1, fade_len - 1)
                env[m] *= (0.5 * (1 + np.cos(np.pi * np.clip(x, 0, 1)))).astype(np.float32)
                block *= env[:, None]
                pcm = (np.clip(block, -0.99, 0.99) * 32767.0).round().astype("<i2")
                w.writeframes(pcm.tobytes())
