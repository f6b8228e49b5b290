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

import math
import wave
from pathlib import Path
from typing import Annotated, BinaryIO, ClassVar

from pydantic import Field

from ..audio_io import atomic_binary
from ..backend import Backend, BackendOptions
from ..errors import MusicError
from ..models import STYLES as STYLE_NAMES
from ..models import MusicRequest, MusicTrack
from .arranger import _Composer
from .mixer import (
    _impulse_response,
    _Mixer,
)
from .synth_styles import STYLES, _Style

__all__ = ["STYLES", "SynthMusic"]

MIN_RATE, MAX_RATE = 8000, 192000


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
