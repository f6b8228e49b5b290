"""The ``synth`` music backend: offline procedural background music, written as it is rendered.

A track is a sequence of 4/4 bars at a tempo picked (through ``hashlib``) from the style's range:
an intro (sparser), a body made of 4- or 8-bar sections that each vary the progression, the
density of the drums and whether an arpeggio or a short seeded melody plays, and an outro that
ends on a cadence and a final tonic chord that decays into the closing fade.

The instruments are small numpy synthesizers: a pad of detuned band-limited saws through one-pole
lowpass filters, FM electric piano and bell, a Karplus-Strong pluck, a mallet, staccato strings, a
sub or saw bass, and a drum kit (pitch-swept sine kick, filtered-noise snare/clap/hats/shaker,
toms and a crash) rendered once per track. A noise-impulse reverb on a send bus is applied per
chunk by FFT convolution.

Streaming: bars are composed in order; every note is rendered whole when its bar is composed and
added into a mix buffer that starts at the first frame not yet written. Whenever a whole chunk
(``chunk_seconds``) lies before the next bar, no later note can touch it: its reverb is computed,
it is mastered (fixed per-style gain, fade-in/out, soft limiter at -3 dBFS), appended to the WAV and
the buffer shifts, so whatever rings past the chunk boundary (note releases, echoes, reverb tails)
stays in the buffer and is written with the next chunk. Memory is bounded by the chunk plus the
longest tail (and a bounded note cache), whatever the duration; the output does not depend on the
chunk size (up to float rounding of the reverb FFT).

Everything is derived from (style, seed) through ``hashlib``: the same request gives identical bytes.
"""

from __future__ import annotations

import hashlib
import math
import re
import wave
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, BinaryIO, ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field

from ..audio_io import atomic_binary
from ..backend import Backend, BackendOptions
from ..errors import MusicError
from ..models import STYLES as STYLE_NAMES
from ..models import MusicRequest, MusicTrack

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

#: the output never exceeds this (-3 dBFS); the soft limiter starts bending at LIMIT_KNEE
CEILING = 10 ** (-3 / 20)
LIMIT_KNEE = 0.5
#: the closing fade (seconds) for tracks of 10 s and longer; shorter tracks fade over a quarter
FADE_OUT = 2.5
FADE_IN = 0.03
MIN_RATE, MAX_RATE = 8000, 192000
#: note renders kept for reuse (loops repeat the same notes); bounded so memory stays flat
CACHE_BYTES = 24 * 2**20
CACHE_MAX_ITEM = 6 * 2**20
#: the reverb convolves at most about this many frames (block + impulse response) per FFT
REVERB_FFT = 2**18
#: frames mastered at a time (keeps the temporaries small)
MASTER_BLOCK = 2**16

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
_NUMERALS = {"i": 0, "ii": 1, "iii": 2, "iv": 3, "v": 4, "vi": 5, "vii": 6}
_CHORD_RE = re.compile(r"(?P<num>[ivIV]+)(?P<ext>7|add9|sus2|sus4)?")
#: arpeggio orders: indexes into the voiced chord (+ the root an octave up)
_ARPS: tuple[tuple[int, ...], ...] = (
    (0, 1, 2, 3),
    (0, 1, 2, 3, 2, 1),
    (0, 2, 1, 3),
    (0, 2, 1, 2),
    (3, 2, 1, 0),
)


# ---- style table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Voice:
    inst: str  # epiano | pluck | bell | mallet | strings | sub | saw
    level: float
    low: int  # lowest MIDI note of the register
    send: float = 0.2  # reverb send
    echo: bool = False  # dotted-eighth ping-pong echo


@dataclass(frozen=True)
class _Pad:
    level: float
    attack: float
    release: float
    cutoff: float
    detune: float  # cents
    low: int
    send: float = 0.35


Pattern = tuple[tuple[int, float], ...]


def _p(text: str) -> Pattern:
    """A 16-step drum pattern: ``x`` accent, ``o`` normal, ``-`` ghost, ``.`` rest."""
    vel = {"x": 1.0, "o": 0.7, "-": 0.4}
    return tuple((i, vel[c]) for i, c in enumerate(text.replace(" ", "")) if c in vel)


@dataclass(frozen=True)
class _Style:
    tempo: tuple[int, int]
    keys: tuple[str, ...]  # "C major", ...: all of one mode
    progressions: tuple[str, ...]
    cadence: str  # the chord before the final one
    final: str
    pad: _Pad
    bass: _Voice
    bass_steps: tuple[tuple[int, int, int], ...]  # (step, length in 16ths, semitones above the root)
    gain: float  # master gain (calibrated: body RMS about -20 dBFS)
    rt60: float
    chords: _Voice | None = None  # block chords
    chord_steps: tuple[tuple[int, int], ...] = ()
    arp: _Voice | None = None
    arp_rate: int = 2  # 16ths per note
    arp_prob: float = 1.0
    arp_always: bool = False  # also in the intro and light sections
    lead: _Voice | None = None
    lead_grid: int = 2
    bass_sustain: bool = False  # one bass note per chord instead of bass_steps
    drums: Mapping[int, Mapping[str, Pattern]] | None = None  # density (0..2) -> drum -> pattern
    kick: str = "kick"
    swing: float = 0.0
    bars_per_chord: int = 1
    section_bars: int = 8

    @property
    def mode(self) -> str:
        return self.keys[0].split()[1]


STYLES: dict[str, _Style] = {
    "upbeat": _Style(
        tempo=(118, 128),
        keys=("C major", "G major", "D major", "F major"),
        progressions=("I V vi IV", "vi IV I V", "I vi IV V", "IV I V vi"),
        cadence="V",
        final="I",
        pad=_Pad(0.14, 0.02, 0.25, 2600, 14, 57, 0.25),
        chords=_Voice("epiano", 0.30, 60, 0.2),
        chord_steps=((2, 2), (6, 2), (10, 2), (14, 2)),
        arp=_Voice("pluck", 0.36, 67, 0.25, echo=True),
        arp_rate=1,
        lead=_Voice("bell", 0.20, 72, 0.3, echo=True),
        bass=_Voice("saw", 0.30, 36, 0.0),
        bass_steps=((2, 2, 0), (6, 2, 0), (10, 2, 0), (14, 2, 12)),
        drums={
            0: {"kick": _p("x...x...x...x..."), "hat": _p("..o...o...o...o.")},
            1: {
                "kick": _p("x...x...x...x..."),
                "clap": _p("....x.......x..."),
                "hat": _p("..o...o...o...o."),
            },
            2: {
                "kick": _p("x...x...x...x..."),
                "clap": _p("....x.......x..."),
                "hat": _p("--.---.---.---.-"),
                "ohat": _p("..o...o...o...o."),
            },
        },
        gain=0.31,
        rt60=1.4,
    ),
    "playful": _Style(
        tempo=(124, 138),
        keys=("F major", "C major", "G major", "D major"),
        progressions=("I IV V IV", "I vi ii V", "I IV I V", "IV V iii vi"),
        cadence="V",
        final="I",
        pad=_Pad(0.08, 0.05, 0.2, 2000, 8, 60, 0.2),
        chords=_Voice("mallet", 0.30, 60, 0.15),
        chord_steps=((4, 2), (12, 2)),
        arp=_Voice("pluck", 0.34, 72, 0.2, echo=True),
        arp_rate=2,
        lead=_Voice("mallet", 0.36, 72, 0.2),
        lead_grid=2,
        bass=_Voice("sub", 0.30, 36, 0.0),
        bass_steps=((0, 2, 0), (6, 1, 12), (8, 2, 7), (14, 1, 12)),
        drums={
            0: {"kick": _p("x.......x......."), "shaker": _p("-.o.-.o.-.o.-.o.")},
            1: {
                "kick": _p("x......xx......."),
                "clap": _p("....x.......x..."),
                "shaker": _p("-o-o-o-o-o-o-o-o"),
            },
            2: {
                "kick": _p("x......xx.....o."),
                "clap": _p("....x.......x..."),
                "hat": _p("..o...o...o...o."),
                "shaker": _p("-o-o-o-o-o-o-o-o"),
            },
        },
        swing=0.14,
        gain=0.35,
        rt60=1.2,
    ),
    "corporate": _Style(
        tempo=(100, 112),
        keys=("C major", "D major", "G major", "A major"),
        progressions=("I V vi IV", "IV I V vi", "vi IV I V", "I iii IV V"),
        cadence="V",
        final="I",
        pad=_Pad(0.14, 0.15, 0.6, 1800, 10, 55),
        chords=_Voice("epiano", 0.26, 60, 0.2),
        chord_steps=((0, 6), (6, 2), (8, 6), (14, 2)),
        arp=_Voice("pluck", 0.50, 67, 0.25, echo=True),
        arp_rate=2,
        lead=_Voice("bell", 0.22, 72, 0.3),
        lead_grid=2,
        bass=_Voice("sub", 0.28, 36, 0.0),
        bass_steps=tuple((s, 2, 7 if s == 14 else 0) for s in range(0, 16, 2)),
        drums={
            0: {"kick": _p("x.......x......."), "hat": _p("-.-.-.-.-.-.-.-.")},
            1: {
                "kick": _p("x.......x.x....."),
                "snare": _p("....x.......x..."),
                "hat": _p("-.o.-.o.-.o.-.o."),
            },
            2: {
                "kick": _p("x.......x.x....."),
                "snare": _p("....x.......x..."),
                "hat": _p("-.o.-.o.-.o.-.o."),
                "shaker": _p("-o-o-o-o-o-o-o-o"),
            },
        },
        gain=0.3,
        rt60=1.5,
    ),
    "calm": _Style(
        tempo=(68, 80),
        keys=("F major", "D major", "G major", "Eb major"),
        progressions=("I7 vi7 IV7 V", "Iadd9 iii7 IV7 IV", "vi7 IV7 I7 V", "IV7 I7 ii7 V"),
        cadence="IV7",
        final="Iadd9",
        pad=_Pad(0.18, 0.6, 1.5, 1300, 8, 55, 0.4),
        arp=_Voice("epiano", 0.26, 60, 0.3),
        arp_rate=2,
        arp_always=True,
        lead=_Voice("epiano", 0.24, 72, 0.35, echo=True),
        lead_grid=4,
        bass=_Voice("sub", 0.24, 36, 0.0),
        bass_steps=((0, 12, 0), (12, 4, 7)),
        gain=0.44,
        rt60=2.2,
    ),
    "ambient": _Style(
        tempo=(60, 70),
        keys=("D major", "E major", "C major", "F major"),
        progressions=("Iadd9 IVadd9", "vi IV I V", "I V vi IV", "IVadd9 Iadd9 vi7 V"),
        cadence="IVadd9",
        final="Iadd9",
        pad=_Pad(0.26, 2.0, 3.0, 1100, 10, 52, 0.5),
        arp=_Voice("bell", 0.22, 72, 0.5, echo=True),
        arp_rate=2,
        arp_prob=0.22,
        arp_always=True,
        bass=_Voice("sub", 0.20, 36, 0.0),
        bass_steps=(),
        bass_sustain=True,
        bars_per_chord=2,
        gain=0.46,
        rt60=3.2,
    ),
    "cinematic": _Style(
        tempo=(72, 88),
        keys=("D minor", "C minor", "E minor", "A minor"),
        progressions=("i VI III VII", "i iv VI V", "VI VII i i", "i VI iv V"),
        cadence="iv",
        final="i",
        pad=_Pad(0.22, 0.5, 1.2, 1500, 12, 50, 0.45),
        arp=_Voice("epiano", 0.30, 57, 0.3),
        arp_rate=2,
        lead=_Voice("bell", 0.18, 74, 0.45, echo=True),
        lead_grid=4,
        bass=_Voice("sub", 0.26, 36, 0.0),
        bass_steps=(),
        bass_sustain=True,
        drums={
            0: {"boom": _p("x...............")},
            1: {"boom": _p("x.......x......."), "tom": _p("..............o.")},
            2: {
                "boom": _p("x.....x.x......."),
                "tom": _p("....o.......o.oo"),
                "snare": _p("............x..."),
            },
        },
        kick="boom",
        gain=0.26,
        rt60=2.6,
    ),
    "dramatic": _Style(
        tempo=(84, 100),
        keys=("C minor", "D minor", "G minor", "E minor"),
        progressions=("i VI III VII", "i i VI V", "i iv VI V", "i VI VII VII"),
        cadence="V",
        final="i",
        pad=_Pad(0.18, 0.25, 0.8, 1100, 14, 48, 0.4),
        arp=_Voice("strings", 0.30, 55, 0.3),
        arp_rate=1,
        arp_always=True,
        bass=_Voice("saw", 0.28, 36, 0.0),
        bass_steps=((0, 3, 0), (3, 3, 0), (6, 2, 0), (8, 3, 0), (11, 3, 0), (14, 2, 12)),
        drums={
            0: {"kick": _p("x.....x.x.......")},
            1: {"kick": _p("x..x..x.x.x....."), "snare": _p("....x.......x...")},
            2: {
                "kick": _p("x..x..x.x.x....."),
                "snare": _p("....x.......x..."),
                "tom": _p("..............oo"),
                "hat": _p("..-...-...-...-."),
            },
        },
        gain=0.29,
        rt60=2.0,
    ),
}


# ---- determinism --------------------------------------------------------------------------------


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()


def _unit(*parts: object) -> float:
    """A float in [0, 1) derived from the parts."""
    return int.from_bytes(_digest(*parts)[:8], "big") / 2**64


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(_digest(*parts)[:16], "big"))


# ---- DSP helpers --------------------------------------------------------------------------------


def _hz(midi: float) -> float:
    return 440.0 * math.pow(2.0, (midi - 69) / 12)


def _coef(cutoff: float, sr: int) -> float:
    """The smoothing factor of a one-pole lowpass at ``cutoff`` Hz."""
    return 1.0 - math.exp(-2 * math.pi * min(cutoff, 0.45 * sr) / sr)


def _lowpass(x: F64, a: float) -> F64:
    """One-pole lowpass ``y[n] = y[n-1] + a (x[n] - y[n-1])`` along the last axis, vectorised.

    Within a block of L samples ``y[j] = p^j (p y[-1] + a sum_{i<=j} x[i] p^-i)`` with ``p = 1 - a``,
    so a block is one cumulative sum; L keeps ``p^-L`` far below the float range.
    """
    if a >= 1.0:
        return x.copy()
    p = 1.0 - a
    n = x.shape[-1]
    block = int(max(1, min(n, 250.0 / -math.log10(p))))
    pw = p ** np.arange(block, dtype=np.float64)
    ipw = 1.0 / pw
    y = np.empty_like(x)
    prev = np.zeros(x.shape[:-1])
    for s in range(0, n, block):
        m = min(block, n - s)
        seg = np.cumsum(x[..., s : s + m] * ipw[:m], axis=-1)
        seg *= a
        seg += (p * prev)[..., None]
        seg *= pw[:m]
        y[..., s : s + m] = seg
        prev = seg[..., -1]
    return y


def _highpass(x: F64, a: float) -> F64:
    return x - _lowpass(x, a)


def _env(sr: int, hold: int, release: float, attack: float, decay: float = 0.0, sustain: float = 1.0) -> F64:
    """An envelope of ``hold`` frames plus a raised-cosine release that ends exactly at zero.

    Raised-cosine attack; after it an exponential decay (time constant ``decay`` s) towards ``sustain``.
    """
    n_rel = max(1, int(release * sr))
    n = hold + n_rel
    i = np.arange(n, dtype=np.float64)
    if decay > 0 and sustain < 1.0:
        e = sustain + (1.0 - sustain) * np.exp(i * (-1.0 / (decay * sr)))
    else:
        e = np.ones(n)
    n_att = max(1, min(int(attack * sr), n))
    e[:n_att] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(n_att) / n_att)
    e[hold:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, n - hold + 1) / (n - hold))
    return e


def _fade_tail(x: F64, sr: int, seconds: float = 0.005) -> F64:
    n = min(x.shape[-1], max(2, int(seconds * sr)))
    x[..., -n:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, n + 1) / n)
    return x


def _pan(pan: float) -> tuple[float, float]:
    """Equal-power pan gains, 1.0 each in the centre."""
    ang = (pan + 1.0) * math.pi / 4
    return math.cos(ang) * math.sqrt(2), math.sin(ang) * math.sqrt(2)


_TABLE = 4096
_tables: dict[int, F64] = {}


def _saw_table(harmonics: int) -> F64:
    table = _tables.get(harmonics)
    if table is None:
        ph = np.arange(_TABLE) * (2 * np.pi / _TABLE)
        k = np.arange(1, harmonics + 1)
        table = (np.sin(np.outer(ph, k)) / k).sum(axis=1) * (2 / np.pi)
        _tables[harmonics] = table
    return table


def _saw(freq: float, n: int, phase: float, sr: int) -> F64:
    """A band-limited sawtooth (wavetable, harmonics kept below ~12 kHz and Nyquist)."""
    harmonics = int(max(1, min(48, min(12000.0, 0.45 * sr) / freq)))
    idx = np.arange(n, dtype=np.float64)
    idx *= freq / sr * _TABLE
    idx += phase * _TABLE
    pos = idx.astype(np.intp)
    pos &= _TABLE - 1
    return _saw_table(harmonics)[pos]


def _voice_phase(midi: int, voice: int) -> float:
    return ((midi * 7919 + voice * 104729) % 997) / 997


# ---- harmony ------------------------------------------------------------------------------------


def _parse_key(key: str) -> tuple[int, str]:
    name, mode = key.split()
    return NOTE_NAMES.index(name), mode


def _chord(symbol: str, mode: str) -> tuple[int, tuple[int, ...]]:
    """Root (semitones above the tonic) and intervals above the root of a roman-numeral chord."""
    m = _CHORD_RE.fullmatch(symbol)
    if m is None:
        raise ValueError(f"bad chord symbol {symbol!r}")
    num, ext = m.group("num"), m.group("ext")
    scale = SCALES[mode]
    degree = _NUMERALS[num.lower()]
    root = scale[degree]
    third = 4 if num.isupper() else 3
    ivs = [0, third, 7]
    if ext == "7":
        ivs.append((scale[(degree + 6) % 7] - root) % 12)
    elif ext == "add9":
        ivs.append(14)
    elif ext == "sus2":
        ivs[1] = 2
    elif ext == "sus4":
        ivs[1] = 5
    return root, tuple(ivs)


def _voicing(tonic: int, root: int, ivs: tuple[int, ...], low: int) -> tuple[int, ...]:
    """The chord tones placed in the octave [low, low + 12), ascending (a close voicing)."""
    out = []
    for iv in ivs:
        pc = (tonic + root + iv) % 12
        out.append(low + (pc - low) % 12)
    return tuple(sorted(set(out)))


# ---- instruments --------------------------------------------------------------------------------


class _Instruments:
    """Note renderers (mono or stereo float arrays) with a bounded cache: loops repeat notes."""

    def __init__(self, sr: int, seed: str, pad: _Pad) -> None:
        self.sr = sr
        self.seed = seed
        self.pad_spec = pad
        self._cache: OrderedDict[tuple[object, ...], F32] = OrderedDict()
        self._bytes = 0

    def _cached(self, key: tuple[object, ...], make: Callable[[], F64]) -> F32:
        """A rendered note, as float32 whether it comes from the cache or not (same bytes either way)."""
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        sig = make().astype(np.float32)
        if sig.nbytes <= CACHE_MAX_ITEM:
            self._cache[key] = sig
            self._bytes += sig.nbytes
            while self._bytes > CACHE_BYTES:
                _, old = self._cache.popitem(last=False)
                self._bytes -= old.nbytes
        return sig

    def note(self, inst: str, midi: int, hold: int, variant: int = 0) -> F32:
        return self._cached((inst, midi, hold, variant), lambda: self._render(inst, midi, hold, variant))

    def _render(self, inst: str, midi: int, hold: int, variant: int) -> F64:
        sr, f = self.sr, _hz(midi)
        if inst == "pluck":
            return self._pluck(f, hold, variant)
        if inst == "strings":
            n_env = _env(sr, hold, 0.07, 0.006)
            n = n_env.size
            a = _coef(2400, sr)
            x = _saw(f * 2 ** (-6 / 1200), n, 0.1, sr) + _saw(f * 2 ** (6 / 1200), n, 0.6, sr)
            return _lowpass(_lowpass(x, a), a) * n_env * 0.55
        if inst in ("sub", "saw"):
            env = _env(sr, hold, 0.05, 0.006, decay=0.4, sustain=0.8)
            w = np.arange(env.size) * (2 * np.pi * f / sr)
            y = np.sin(w) + 0.3 * np.sin(2 * w) + 0.12 * np.sin(3 * w)
            if inst == "saw":
                a = _coef(700, sr)
                y = 0.7 * y + 0.6 * _lowpass(_lowpass(_saw(f, env.size, 0.0, sr), a), a)
            out: F64 = np.tanh(1.3 * y) * (env / math.tanh(1.3))
            return out
        t = np.arange(hold + int(0.2 * sr)) / sr
        w = t * (2 * np.pi * f)
        if inst == "epiano":
            # FM with a decaying index: bright bell-ish attack, mellow body; shorter for high notes
            env = _env(sr, hold, 0.15, 0.003, decay=1.6 * min(1.0, 330 / f) + 0.3, sustain=0.0)
            t = t[: env.size]
            w = w[: env.size]
            index = 1.2 * np.exp(t * -4.0) + 0.25
            y = np.sin(w + index * np.sin(w))
            y += 0.08 * np.sin(7 * w) * np.exp(t * -40.0) if 7 * f < 0.45 * sr else 0.0
            return y * env * 0.8
        if inst == "bell":
            env = _env(sr, hold + int(1.2 * sr), 0.3, 0.002, decay=0.9, sustain=0.0)
            t = np.arange(env.size) / sr
            w = t * (2 * np.pi * f)
            index = 1.6 * np.exp(t * -3.0)
            return np.sin(w + index * np.sin(3.5 * w)) * env * 0.7
        if inst == "mallet":
            env = _env(sr, hold, 0.06, 0.0015, decay=0.35, sustain=0.0)
            t = t[: env.size]
            w = w[: env.size]
            y = np.sin(w)
            if 4 * f < 0.45 * sr:
                y += 0.3 * np.sin(4 * w) * np.exp(t * -25.0)
            if 10 * f < 0.45 * sr:
                y += 0.06 * np.sin(10 * w) * np.exp(t * -60.0)
            return y * env * 0.8
        raise ValueError(f"unknown instrument {inst!r}")

    def _pluck(self, f: float, hold: int, variant: int) -> F64:
        """Karplus-Strong: a noise burst recirculated through a delay line with a loss filter.

        The loop filter is a symmetric 3-tap smoother (one sample of delay, damps the highs each
        period) convolved with a linear-interpolation fractional delay, so the pitch is exact.
        """
        sr = self.sr
        env = _env(sr, hold, 0.08, 0.003)
        n = env.size
        period = max(4.0, sr / f)
        lag = int(period - 1.0)
        d = period - 1.0 - lag
        b = 0.12
        g = 0.001 ** (1.0 / (f * 1.5))  # the fundamental falls 60 dB in about 1.5 s
        taps = g * np.convolve([b, 1 - 2 * b, b], [1 - d, d])
        rng = _rng(self.seed, "pluck", round(f * 100), variant)
        # a smoothed noise cycle, periodic with (the rounded) period: no jump where it wraps around
        cycle = round(period)
        spec = np.fft.rfft(rng.uniform(-1.0, 1.0, cycle))
        bins = np.fft.rfftfreq(cycle, 1.0 / sr)
        spec *= 1.0 / (1.0 + (bins / min(3000.0, 4 * f)) ** 4)
        spec[0] = 0.0
        burst = np.resize(np.fft.irfft(spec, cycle), lag + 3)
        y = np.zeros(max(n, lag + 3))
        y[: lag + 3] = burst
        k = lag + 3
        while k < n:
            m = min(lag, n - k)
            seg = taps[0] * y[k - lag : k - lag + m]
            for j in range(1, 4):
                seg += taps[j] * y[k - lag - j : k - lag - j + m]
            y[k : k + m] = seg
            k += m
        peak = float(np.abs(burst).max()) or 1.0
        return y[:n] * env * (0.9 / peak)

    def pad(self, notes: tuple[int, ...], hold: int) -> F32:
        return self._cached(("pad", notes, hold), lambda: self._pad(notes, hold))

    def _pad(self, notes: tuple[int, ...], hold: int) -> F64:
        spec, sr = self.pad_spec, self.sr
        env = _env(sr, hold, spec.release, spec.attack)
        n = env.size
        out = np.zeros((2, n))
        c = spec.detune
        for midi in notes:
            f = _hz(midi)
            for v, (cents, ch, weight) in enumerate(
                ((-c, 0, 1.0), (c / 3, 0, 0.7), (c, 1, 1.0), (-c / 3, 1, 0.7))
            ):
                out[ch] += weight * _saw(f * 2 ** (cents / 1200), n, _voice_phase(midi, v), sr)
        a = _coef(spec.cutoff, sr)
        out = _lowpass(_lowpass(out, a), a)
        out *= env * (1.0 / math.sqrt(len(notes)))
        return out


class _Kit:
    """The drum sounds of a track, rendered once (noise drums in a few variants)."""

    VARIANTS = 4

    def __init__(self, sr: int, seed: str) -> None:
        self.sr = sr
        self.sounds: dict[str, list[F64]] = {}
        rng = _rng(seed, "kit")
        for name in ("kick", "boom", "tom"):
            self.sounds[name] = [self._tonal(name, rng)]
        for name in ("snare", "clap", "hat", "ohat", "shaker", "crash"):
            self.sounds[name] = [self._noisy(name, rng) for _ in range(self.VARIANTS)]

    def get(self, name: str, which: int) -> F64:
        sounds = self.sounds[name]
        return sounds[which % len(sounds)]

    def _t(self, seconds: float) -> F64:
        return np.arange(int(seconds * self.sr)) / self.sr

    def _tonal(self, name: str, rng: np.random.Generator) -> F64:
        sr = self.sr
        if name == "kick":
            t = self._t(0.45)
            freq = 48 + 110 * np.exp(t / -0.03)
            amp = np.exp(t / -0.22)
            click = _lowpass(rng.uniform(-1, 1, t.size), _coef(3000, sr)) * np.exp(t / -0.004) * 0.3
        elif name == "boom":
            t = self._t(1.6)
            freq = 38 + 72 * np.exp(t / -0.07)
            amp = np.exp(t / -0.6)
            rumble = _lowpass(_lowpass(rng.uniform(-1, 1, t.size), _coef(180, sr)), _coef(180, sr))
            click = rumble * np.exp(t / -0.4) * 2.0
        else:  # tom
            t = self._t(0.6)
            freq = 105 * (1 + 0.5 * np.exp(t / -0.05))
            amp = np.exp(t / -0.18)
            click = _lowpass(rng.uniform(-1, 1, t.size), _coef(2500, sr)) * np.exp(t / -0.01) * 0.2
        y = np.sin(np.cumsum(freq) * (2 * np.pi / sr)) * amp + click
        y *= _env(sr, t.size - int(0.01 * sr), 0.01, 0.0015)[: t.size]
        return _fade_tail(y, sr)

    def _noisy(self, name: str, rng: np.random.Generator) -> F64:
        sr = self.sr
        length = {"snare": 0.35, "clap": 0.4, "hat": 0.09, "ohat": 0.4, "shaker": 0.12, "crash": 2.6}[name]
        t = self._t(length)
        noise = rng.uniform(-1, 1, t.size)
        if name == "snare":
            body = np.sin(t * (2 * np.pi * 185)) * np.exp(t / -0.045) * 0.6
            a = _coef(7000, sr)
            rattle = _lowpass(_lowpass(_highpass(noise, _coef(1500, sr)), a), a) * 1.4
            y = body + rattle * np.exp(t / -0.11) * 1.3
        elif name == "clap":
            band = _lowpass(_highpass(noise, _coef(900, sr)), _coef(5000, sr))
            env = np.zeros(t.size)
            for k, start in enumerate((0.0, 0.011, 0.022)):
                tt = np.clip(t - start, 0, None)
                env += np.where(t >= start, np.exp(tt / -0.005), 0.0) * (0.7 + 0.15 * k)
            env += np.where(t >= 0.03, np.exp(np.clip(t - 0.03, 0, None) / -0.09), 0.0) * 0.8
            y = band * env * 1.4
        elif name in ("hat", "ohat"):
            a = _coef(7000, sr)
            y = _highpass(_highpass(noise, a), a) * np.exp(t / (-0.022 if name == "hat" else -0.12))
        elif name == "shaker":
            band = _lowpass(_highpass(noise, _coef(5000, sr)), _coef(11000, sr))
            rise = np.minimum(1.0, t / 0.01)
            y = band * (0.5 - 0.5 * np.cos(np.pi * rise)) * np.exp(np.clip(t - 0.01, 0, None) / -0.03)
        else:  # crash
            a = _coef(3500, sr)
            y = _highpass(_highpass(noise, a), a) * np.exp(t / -0.8)
        y *= _env(sr, t.size - int(0.005 * sr), 0.005, 0.0008)[: t.size]
        return _fade_tail(y, sr, 0.02)


_DRUM_LEVEL = {
    "kick": 0.75,
    "boom": 0.7,
    "tom": 0.55,
    "snare": 0.42,
    "clap": 0.40,
    "hat": 0.13,
    "ohat": 0.11,
    "shaker": 0.10,
    "crash": 0.12,
}
_DRUM_PAN = {"hat": 0.3, "ohat": 0.3, "shaker": -0.35, "tom": -0.2, "crash": 0.15}
_DRUM_SEND = {"snare": 0.25, "clap": 0.3, "tom": 0.3, "boom": 0.2, "crash": 0.3}


# ---- the mix buffer -----------------------------------------------------------------------------


class _Mixer:
    """A stereo buffer starting at the first frame not yet written, plus a mono reverb send.

    ``flush(until)`` reverberates the send up to ``until`` (the tail lands later in the buffer),
    masters and writes those frames, then shifts the buffer: tails carry into the next chunk.
    """

    def __init__(
        self, out: wave.Wave_write, total: int, sr: int, gain: float, ir: F64 | None, chunk: int, tail: int
    ) -> None:
        self.out = out
        self.total = total
        self.sr = sr
        self.gain = gain
        self.ir = ir
        self.start = 0
        self.chunk = chunk
        self.dry = np.zeros((2, chunk + tail))
        self.send = np.zeros(chunk + tail)
        # the reverb works in equal blocks that tile a chunk, each one FFT of a fast size
        self._block = self._nfft = 0
        self._ir_fft: npt.NDArray[np.complex128] | None = None
        if ir is not None:
            parts = math.ceil((chunk + ir.shape[1]) / REVERB_FFT)
            self._block = math.ceil(chunk / parts)
            self._nfft = _fast_len(self._block + ir.shape[1] - 1)
            self._ir_fft = np.fft.rfft(ir, self._nfft, axis=-1)
        self.fade_in = max(1, min(int(FADE_IN * sr), total // 4))
        self.fade_out = max(1, int(min(FADE_OUT, 0.25 * total / sr) * sr))

    def _ensure(self, end: int) -> None:
        need = end - self.start
        cap = self.send.size
        if need > cap:
            cap = max(need, cap + cap // 2)
            dry = np.zeros((2, cap))
            dry[:, : self.send.size] = self.dry
            send = np.zeros(cap)
            send[: self.send.size] = self.send
            self.dry, self.send = dry, send

    def add(self, pos: int, sig: F64 | F32, gain: float = 1.0, pan: float = 0.0, send: float = 0.0) -> None:
        if pos >= self.total or gain == 0.0:
            return
        if pos < self.start:
            raise AssertionError("a note was scheduled before the written part of the track")
        n = min(sig.shape[-1], self.total - pos)
        self._ensure(pos + n)
        o = pos - self.start
        if sig.ndim == 1:
            gl, gr = _pan(pan)
            part = sig[:n]
            self.dry[0, o : o + n] += part * (gain * gl)
            self.dry[1, o : o + n] += part * (gain * gr)
            if send:
                self.send[o : o + n] += part * (gain * send)
        else:
            self.dry[:, o : o + n] += sig[:, :n] * gain
            if send:
                self.send[o : o + n] += (sig[0, :n] + sig[1, :n]) * (0.5 * gain * send)

    def _reverb(self, n: int) -> None:
        """Convolve the send of the next ``n`` frames with the IR (FFT overlap-add) into the dry mix."""
        if self.ir is None or self._ir_fft is None:
            return
        ir_len = self.ir.shape[1]
        for s in range(0, n, self._block):
            m = min(self._block, n - s)
            x = self.send[s : s + m]
            if not np.any(x):
                continue
            spec = np.fft.rfft(x, self._nfft)
            end = min(s + m + ir_len - 1, self.total - self.start)
            self._ensure(self.start + end)
            for ch in range(2):
                wet = np.fft.irfft(spec * self._ir_fft[ch], self._nfft)
                self.dry[ch, s:end] += wet[: end - s]

    def flush(self, until: int) -> None:
        """Write the frames before ``until`` (mastered) and shift the buffer."""
        until = min(until, self.total)
        n = until - self.start
        if n <= 0:
            return
        self._reverb(n)
        for s in range(0, n, MASTER_BLOCK):
            self._master(s, min(n, s + MASTER_BLOCK))
        keep = self.send.size - n
        self.dry[:, :keep] = self.dry[:, n:]
        self.dry[:, keep:] = 0.0
        self.send[:keep] = self.send[n:]
        self.send[keep:] = 0.0
        self.start = until

    def _master(self, lo: int, hi: int) -> None:
        """Gain, fade-in/out and the limiter on buffer frames [lo, hi), written as 16-bit PCM."""
        y = self.dry[:, lo:hi] * self.gain
        first = self.start + lo
        if first < self.fade_in:
            k = min(hi - lo, self.fade_in - first)
            y[:, :k] *= 0.5 - 0.5 * np.cos(np.arange(first, first + k) * (np.pi / self.fade_in))
        fade_from = self.total - self.fade_out
        if self.start + hi > fade_from:
            k = max(0, fade_from - first)
            x = (self.total - 1 - np.arange(first + k, self.start + hi)) / self.fade_out  # 1 -> 0
            shape = x * x * (3 - 2 * x)
            y[:, k:] *= shape * shape
        _limit(y)
        y *= 32767.0
        self.out.writeframes(np.round(y.T).astype("<i2").tobytes())


def _fast_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (a size the FFT handles fast)."""
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            size = p35 << max(0, (n - 1) // p35).bit_length()
            best = min(best, size)
            p35 *= 3
        p5 *= 5
    return best


def _limit(y: F64) -> None:
    """Soft limiter in place: linear below the knee, tanh-bent above it, never beyond CEILING."""
    mag = np.abs(y)
    over = mag > LIMIT_KNEE
    if over.any():
        room = CEILING - LIMIT_KNEE
        y[over] = np.sign(y[over]) * (LIMIT_KNEE + room * np.tanh((mag[over] - LIMIT_KNEE) / room))


def _impulse_response(sr: int, rt60: float, seed: str) -> F64:
    """A stereo reverb impulse response: decorrelated decaying noise, darker as it decays."""
    rng = _rng(seed, "reverb")
    n = int(rt60 * sr)
    t = np.arange(n) / sr
    pre = int(0.018 * sr)
    ir = np.zeros((2, n + pre))
    noise = rng.standard_normal((2, n))
    bright = _lowpass(noise, _coef(6000, sr))
    dark = _lowpass(noise, _coef(1500, sr))
    mix = np.exp(t / -(rt60 / 3))  # the high frequencies die first
    body = (bright * mix + dark * (1 - mix)) * np.exp(t * (-6.9 / rt60))
    body *= _env(sr, n - int(0.05 * sr), 0.05, 0.004)[:n]
    ir[:, pre:] = body
    ir /= np.sqrt((ir**2).sum(axis=1, keepdims=True))
    return ir


# ---- the composer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Section:
    start: int  # first bar
    progression: tuple[str, ...]
    density: int  # 0 light, 1 mid, 2 full
    arp: tuple[int, ...]
    melody: tuple[tuple[int, int, int], ...]  # (step in 2 bars, length in 16ths, scale degree)


class _Composer:
    def __init__(self, style_name: str, style: _Style, seed: int, sr: int, total: int) -> None:
        self.style = style
        self.sr = sr
        self.total = total
        self.seed = f"reelforge-synth:{style_name}:{seed}"
        lo, hi = style.tempo
        self.bpm = lo + int(_unit(self.seed, "tempo") * (hi - lo + 1))
        self.key = style.keys[int(_unit(self.seed, "key") * len(style.keys))]
        self.tonic, self.mode = _parse_key(self.key)
        self.scale = SCALES[self.mode]
        self.bar_s = 4 * 60.0 / self.bpm
        self.step_s = self.bar_s / 16
        bar_frames = self.bar_s * sr
        self.bars = max(1, math.ceil(total / bar_frames))
        # the final chord sounds at the last bar that has at least half a bar left to ring
        self.final = max(0, math.floor((total - 0.5 * bar_frames) / bar_frames))
        tb = self.final + 1
        self.n_intro, n_outro = (0, 1) if tb < 3 else (1, 1) if tb < 12 else (2, 2) if tb < 32 else (4, 2)
        self.outro = max(self.n_intro, self.final - n_outro + 1)
        self.first_prog = int(_unit(self.seed, "progression") * len(style.progressions))
        self._sections: dict[int, _Section] = {}
        self.inst = _Instruments(sr, self.seed, style.pad)
        self.kit = _Kit(sr, self.seed) if style.drums else None

    # -- structure

    def part(self, bar: int) -> str:
        if bar == self.final:
            return "final"
        if bar > self.final:
            return "tail"
        if bar < self.n_intro:
            return "intro"
        if bar >= self.outro:
            return "outro"
        return "body"

    def section(self, bar: int) -> _Section:
        idx = max(0, bar - self.n_intro) // self.style.section_bars
        sec = self._sections.get(idx)
        if sec is None:
            sec = self._make_section(idx)
            self._sections = {idx: sec}  # bars are composed in order: keep only the current one
        return sec

    def _make_section(self, idx: int) -> _Section:
        st = self.style
        rng = _rng(self.seed, "section", idx)
        progs = st.progressions
        if idx % 2 == 0:
            prog = progs[self.first_prog]
        else:
            others = [p for i, p in enumerate(progs) if i != self.first_prog]
            prog = others[int(rng.integers(len(others)))]
        body_bars = self.outro - self.n_intro
        if idx == 0:
            density = 2 if body_bars <= st.section_bars else 1
        else:
            density = int(rng.choice(3, p=(0.2, 0.3, 0.5)))
        arp = _ARPS[int(rng.integers(len(_ARPS)))]
        melody: tuple[tuple[int, int, int], ...] = ()
        if st.lead is not None and (idx % 2 == 1 or rng.random() < 0.3):
            melody = self._motif(rng)
        return _Section(self.n_intro + idx * st.section_bars, tuple(prog.split()), density, arp, melody)

    def _motif(self, rng: np.random.Generator) -> tuple[tuple[int, int, int], ...]:
        """A two-bar rhythm on the lead grid with a stepwise random walk over the scale."""
        grid = self.style.lead_grid
        slots = [s for s in range(0, 32, grid) if s == 0 or rng.random() < 0.55]
        notes = []
        degree = int(rng.integers(0, 5))
        for i, s in enumerate(slots):
            end = slots[i + 1] if i + 1 < len(slots) else 32
            length = min(end - s, 3 * grid)
            notes.append((s, length, degree))
            degree = int(np.clip(degree + rng.choice((-2, -1, -1, 1, 1, 2, 0)), 0, 9))
        return tuple(notes)

    def chord_symbol(self, bar: int) -> str:
        part = self.part(bar)
        if part in ("final", "tail"):
            return self.style.final
        if part == "outro":
            return self.style.cadence
        if part == "intro":
            prog = self.style.progressions[self.first_prog].split()
            return prog[(bar // self.style.bars_per_chord) % len(prog)]
        sec = self.section(bar)
        return sec.progression[((bar - sec.start) // self.style.bars_per_chord) % len(sec.progression)]

    def _group(self, bar: int) -> tuple[str, int]:
        part = self.part(bar)
        if part == "body":
            return part, (bar - self.n_intro) // self.style.section_bars
        return part, 0

    def _sustain(self, bar: int) -> int:
        """How many bars a chord sounding from ``bar`` lasts (until the chord or the part changes)."""
        k = 1
        while k < 4 and bar + k < self.final and self._same(bar + k, bar):
            k += 1
        return k

    def _same(self, a: int, b: int) -> bool:
        return self.chord_symbol(a) == self.chord_symbol(b) and self._group(a) == self._group(b)

    def _triggers(self, bar: int) -> bool:
        """Whether a chord (pad, sustained bass) starts at ``bar``: a new chord, part or section,
        or every 4 bars of an unchanged one (``_sustain`` holds a chord for at most 4 bars)."""
        if bar == 0 or bar == self.final:
            return True
        back = 0
        while back < 64 and bar - back - 1 >= 0 and self._same(bar - back - 1, bar):
            back += 1
        return back % 4 == 0

    # -- timing

    def pos(self, bar: int, step: float) -> int:
        swing = self.style.swing * self.step_s if int(step) % 2 == 1 else 0.0
        return round((bar * self.bar_s + step * self.step_s + swing) * self.sr)

    def frames(self, steps: float) -> int:
        return max(1, round(steps * self.step_s * self.sr))

    # -- one bar

    def bar(self, b: int, mix: _Mixer) -> None:
        part = self.part(b)
        if part == "tail":
            return
        st = self.style
        rng = _rng(self.seed, "bar", b)
        root, ivs = _chord(self.chord_symbol(b), self.mode)
        final = part == "final"
        start = self.pos(b, 0)
        to_end = self.total - start

        # pad (and a sustained bass) once per chord
        if self._triggers(b):
            hold = to_end if final else self.pos(b + self._sustain(b), 0) - start
            notes = _voicing(self.tonic, root, ivs, st.pad.low)
            mix.add(start, self.inst.pad(notes, hold), st.pad.level, send=st.pad.send)
            if st.bass_sustain and (part != "intro" or b >= self.n_intro // 2):
                self._bass(mix, start, root, 0, hold, 1.0)

        if final:
            self._final(b, mix, root, ivs, to_end)
            return

        density = self.section(b).density if part == "body" else 0
        sec = self.section(b) if part == "body" else None

        # bass line
        if not st.bass_sustain and (
            part in ("body", "outro") or (self.n_intro >= 2 and b >= self.n_intro // 2)
        ):
            if part == "outro":
                self._bass(mix, start, root, 0, self.frames(16), 1.0)
            else:
                for step, length, iv in st.bass_steps:
                    vel = 1.0 if step % 4 == 0 else 0.85
                    self._bass(mix, self.pos(b, step), root, iv, self.frames(length), vel)

        # block chords
        if st.chords is not None:
            steps = st.chord_steps if part == "body" else ((0, 8),)
            for step, length in steps:
                self._chord(mix, st.chords, self.pos(b, step), root, ivs, self.frames(length), rng)

        # arpeggio
        if st.arp is not None and (st.arp_always or (part == "body" and density >= 1)):
            order = sec.arp if sec is not None else _ARPS[0]
            level = 0.75 if part != "body" else 1.0
            notes = _voicing(self.tonic, root, ivs, st.arp.low)
            notes = (*notes, notes[0] + 12)
            for i, step in enumerate(range(0, 16, st.arp_rate)):
                if st.arp_prob < 1.0 and rng.random() >= st.arp_prob:
                    continue
                midi = notes[order[i % len(order)] % len(notes)]
                vel = level * (1.0 if step % 4 == 0 else 0.8) * (0.92 + 0.16 * rng.random())
                length = st.arp_rate if st.arp.inst != "bell" else 2
                self._play(mix, st.arp, self.pos(b, step), midi, self.frames(length), vel, rng)

        # melody
        if sec is not None and st.lead is not None and sec.melody and density >= 1:
            half = ((b - sec.start) % 2) * 16
            chord_pcs = {(self.tonic + root + iv) % 12 for iv in ivs}
            base = st.lead.low + (self.tonic - st.lead.low) % 12
            for step, length, degree in sec.melody:
                if not half <= step < half + 16:
                    continue
                midi = base + 12 * (degree // 7) + self.scale[degree % 7]
                if step % 8 == 0:  # strong beats land on a chord tone
                    midi = next((midi + d for d in (0, -1, 1, -2, 2) if (midi + d) % 12 in chord_pcs), midi)
                vel = 0.9 + 0.15 * rng.random()
                self._play(mix, st.lead, self.pos(b, step - half), midi, self.frames(length), vel, rng)

        # drums
        if self.kit is not None and st.drums is not None:
            self._drums(b, part, density, mix, rng)

    def _final(self, b: int, mix: _Mixer, root: int, ivs: tuple[int, ...], hold: int) -> None:
        st = self.style
        start = self.pos(b, 0)
        voice = st.chords or st.arp
        if voice is not None:
            if voice.inst in ("pluck", "strings", "mallet"):
                voice = _Voice("epiano", voice.level, voice.low, voice.send)
            rng = _rng(self.seed, "final")
            self._chord(mix, voice, start, root, ivs, hold, rng)
        if not st.bass_sustain:
            self._bass(mix, start, root, 0, hold, 1.0)
        if self.kit is not None:
            mix.add(start, self.kit.get(st.kick, 0), _DRUM_LEVEL[st.kick], send=_DRUM_SEND.get(st.kick, 0.0))
            crash = self.kit.get("crash", b)
            mix.add(start, crash, _DRUM_LEVEL["crash"], _DRUM_PAN["crash"], _DRUM_SEND["crash"])

    def _bass(self, mix: _Mixer, pos: int, root: int, iv: int, hold: int, vel: float) -> None:
        v = self.style.bass
        midi = v.low + (self.tonic + root - v.low) % 12 + iv
        mix.add(pos, self.inst.note(v.inst, midi, hold), v.level * vel, 0.0, v.send)

    def _chord(
        self,
        mix: _Mixer,
        voice: _Voice,
        pos: int,
        root: int,
        ivs: tuple[int, ...],
        hold: int,
        rng: np.random.Generator,
    ) -> None:
        notes = _voicing(self.tonic, root, ivs, voice.low)
        scale = 1.0 / math.sqrt(len(notes))
        for i, midi in enumerate(notes):
            vel = scale * (0.9 + 0.15 * rng.random())
            pan = -0.35 + 0.7 * i / max(1, len(notes) - 1)
            self._play(mix, voice, pos, midi, hold, vel, rng, pan)

    def _play(
        self,
        mix: _Mixer,
        voice: _Voice,
        pos: int,
        midi: int,
        hold: int,
        vel: float,
        rng: np.random.Generator,
        pan: float | None = None,
    ) -> None:
        variant = int(rng.integers(3)) if voice.inst == "pluck" else 0
        sig = self.inst.note(voice.inst, midi, hold, variant)
        if pan is None:
            pan = float(np.clip((midi - 66) / 24, -0.5, 0.5))
        gain = voice.level * vel
        mix.add(pos, sig, gain, pan, voice.send)
        if voice.echo:
            delay = self.frames(3)
            for k, (g, p) in enumerate(((0.28, 0.7), (0.16, -0.7), (0.08, 0.7)), start=1):
                mix.add(pos + k * delay, sig, gain * g, p, voice.send)

    def _drums(self, b: int, part: str, density: int, mix: _Mixer, rng: np.random.Generator) -> None:
        st = self.style
        assert self.kit is not None and st.drums is not None
        hits: list[tuple[str, int, float]] = []
        if part == "body":
            pattern = st.drums[density]
            for name, steps in pattern.items():
                hits.extend((name, s, v) for s, v in steps)
            sec = self.section(b)
            last_of_section = (b - sec.start) % st.section_bars == st.section_bars - 1
            if b == sec.start and density >= 1:
                hits.append(("crash", 0, 1.0))
            if last_of_section and b + 1 < self.outro and density >= 1:
                fill = "snare" if "snare" in pattern or "clap" in pattern else "tom"
                hits = [h for h in hits if h[1] < 12 or h[0] in ("hat", "shaker")]
                hits.extend((fill, s, 0.45 + 0.15 * i) for i, s in enumerate((12, 13, 14, 15)))
        elif part == "outro":
            if b == self.outro:
                hits.extend(((st.kick, 0, 1.0), ("crash", 0, 0.8)))
            else:
                hits.append((st.kick, 0, 0.8))
        elif part == "intro" and self.n_intro >= 2 and b == self.n_intro - 1:
            hits.extend(
                (name, s, v * 0.6) for name in ("hat", "shaker") for s, v in st.drums[0].get(name, ())
            )
        for name, step, vel in hits:
            sound = self.kit.get(name, b * 16 + step)
            v = vel * (0.93 + 0.1 * rng.random()) * _DRUM_LEVEL[name]
            mix.add(self.pos(b, step), sound, v, _DRUM_PAN.get(name, 0.0), _DRUM_SEND.get(name, 0.0))


# ---- the backend --------------------------------------------------------------------------------


class SynthMusic(Backend):
    """Seeded procedural music per style, streamed to a 16-bit stereo WAV (no downloads, no models)."""

    name: ClassVar[str] = "synth"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "offline procedural music: seeded chords, bass, keys and drums per style, streamed to WAV"
    )

    class Options(BackendOptions):
        #: seconds rendered between writes; memory is bounded by this plus the longest tail
        chunk_seconds: Annotated[float, Field(ge=0.5, le=120.0)] = 10.0

    options: Options

    def execute(self, request: MusicRequest, out_path: Path) -> MusicTrack:
        style = STYLES.get(request.style)
        if style is None:
            valid = ", ".join(sorted(STYLES, key=lambda s: STYLE_NAMES.index(s) if s in STYLE_NAMES else 99))
            raise MusicError(f"unknown music style '{request.style}'; valid styles: {valid}")
        sr = request.sample_rate
        if not MIN_RATE <= sr <= MAX_RATE:
            raise MusicError(f"sample rate {sr} Hz is out of range: use {MIN_RATE} to {MAX_RATE} Hz")
        if not (math.isfinite(request.duration) and request.duration > 0):
            raise MusicError(f"music duration must be a positive number of seconds, got {request.duration}")
        total = round(request.duration * sr)
        if total < 1:
            raise MusicError(f"music duration {request.duration} s is shorter than one sample at {sr} Hz")

        with atomic_binary(Path(out_path), MusicError, "music track") as fh:
            composer = self._render(request, style, sr, total, fh)
        return MusicTrack(
            path=out_path,
            duration=request.duration,
            sample_rate=sr,
            tempo=float(composer.bpm),
            key=composer.key,
        )

    def _render(self, request: MusicRequest, style: _Style, sr: int, total: int, fh: BinaryIO) -> _Composer:
        comp = _Composer(request.style, style, request.seed, sr, total)
        chunk = max(1, int(self.options.chunk_seconds * sr))
        ir = _impulse_response(sr, style.rt60, comp.seed)
        with wave.open(fh, "wb") as wav:
            wav.setnchannels(2)
            wav.setsampwidth(2)
            wav.setframerate(sr)
            mix = _Mixer(wav, total, sr, style.gain, ir, chunk, int((3 * comp.bar_s + style.rt60) * sr))
            for b in range(comp.bars):
                comp.bar(b, mix)
                # every note starting before the next bar is in the buffer: write whole chunks
                nxt = min(comp.pos(b + 1, 0), total)
                while nxt - mix.start >= chunk:
                    mix.flush(mix.start + chunk)
            while mix.start < total:
                mix.flush(mix.start + chunk)
        return comp
