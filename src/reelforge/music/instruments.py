"""The ``synth`` music's instruments: note renderers (FM electric piano and bell, Karplus-Strong pluck,
mallet, staccato strings, sub and saw bass, the detuned-saw pad) with a bounded note cache, and the drum
kit rendered once per track."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from .dsp import (
    F32,
    F64,
    _coef,
    _env,
    _fade_tail,
    _highpass,
    _hz,
    _lowpass,
    _rng,
    _saw,
    _voice_phase,
)
from .synth_styles import _Pad

#: note renders kept for reuse (loops repeat the same notes); bounded so memory stays flat
CACHE_BYTES = 24 * 2**20
CACHE_MAX_ITEM = 6 * 2**20

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
