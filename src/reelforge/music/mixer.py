"""The ``synth`` music's streaming mix buffer: notes are added where they start, and whole chunks are
reverberated (FFT convolution with a noise impulse response), mastered (gain, fades, soft limiter) and
written as soon as no later note can touch them."""

from __future__ import annotations

import math
import wave

import numpy as np
import numpy.typing as npt

from .dsp import (
    F32,
    F64,
    _coef,
    _env,
    _lowpass,
    _pan,
    _rng,
)

#: the output never exceeds this (-3 dBFS); the soft limiter starts bending at LIMIT_KNEE
CEILING = 10 ** (-3 / 20)
LIMIT_KNEE = 0.5
#: the closing fade (seconds) for tracks of 10 s and longer; shorter tracks fade over a quarter
FADE_OUT = 2.5
FADE_IN = 0.03
#: the reverb convolves at most about this many frames (block + impulse response) per FFT
REVERB_FFT = 2**18
#: frames mastered at a time (keeps the temporaries small)
MASTER_BLOCK = 2**16


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
