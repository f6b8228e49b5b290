"""Small numpy DSP for the ``synth`` music: seeded randomness derived from (style, seed) through ``hashlib``,
filters, envelopes, panning and band-limited saw wavetables."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

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
