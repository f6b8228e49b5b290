"""The ``espeak`` narrator: eSpeak NG, offline, in about a hundred languages (``voice = "de"``, ``"fr"``...).

It runs the ``espeak-ng`` program found at run time (``apt-get install espeak-ng``, ``brew install
espeak-ng``); the text goes in on standard input, never on the command line. The voice is robotic next
to Piper's, but it speaks many more languages and needs no model files. Leading and trailing silence is
trimmed, pauses inside a sentence are kept but never longer than ``MAX_INNER_PAUSE``, and the words
are spread over the speech by syllable count (espeak's command line reports no word times).
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import Field

from ..audio_io import read_wav, write_wav
from ..errors import NarrationError
from ..models import SpokenSentence
from ..text import clean
from .base import NarratorBackend, NarratorOptions
from .piper import trim_bounds, word_timings

INSTALL_HINT = "install eSpeak NG: apt-get install espeak-ng (Debian/Ubuntu), brew install espeak-ng (macOS)"
#: words per minute at length_scale 1
BASE_WPM = 165
#: silences inside a sentence are shortened to this (seconds)
MAX_INNER_PAUSE = 0.45
TIMEOUT = 60.0


def find_espeak(configured: str | None = None) -> str:
    """The ``espeak-ng`` binary (or the configured one), else a ``NarrationError`` with an install hint."""
    name = configured or "espeak-ng"
    found = shutil.which(name) or (name if configured and Path(name).is_file() else None)
    if not found and not configured:
        found = shutil.which("espeak")  # eSpeak NG also installs itself as `espeak` on some systems
    if not found:
        raise NarrationError(f"the espeak narrator needs the '{name}' program, which was not found",
                             hint=INSTALL_HINT)  # fmt: skip
    return found


@functools.lru_cache(maxsize=8)
def espeak_version(binary: str) -> str:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    m = re.search(r"(\d+\.\d+(?:\.\d+)?)", out)
    return m.group(1) if m else "unknown"


def espeak_voices(binary: str | None = None) -> list[dict[str, str]]:
    """The languages/voices eSpeak NG offers (``[]`` when it is not installed)."""
    try:
        exe = find_espeak(binary)
        out = subprocess.run([exe, "--voices"], capture_output=True, text=True, timeout=10).stdout
    except (NarrationError, OSError, subprocess.SubprocessError):
        return []
    voices = []
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 4:
            voices.append({"language": parts[1], "name": parts[3], "gender": parts[2].split("/")[-1]})
    return voices


def cap_pauses(audio: np.ndarray, sample_rate: int, longest: float = MAX_INNER_PAUSE,
               threshold: float = 0.01) -> np.ndarray:  # fmt: skip
    """Shorten every run of near-silence longer than ``longest`` seconds to that length."""
    win = max(1, int(0.01 * sample_rate))
    n = len(audio) // win
    if n == 0:
        return audio
    loud = np.abs(audio[: n * win]).reshape(n, win).max(axis=1) > threshold
    keep = np.ones(len(audio), dtype=bool)
    limit = int(longest / 0.01)
    i = 0
    while i < n:
        if loud[i]:
            i += 1
            continue
        j = i
        while j < n and not loud[j]:
            j += 1
        if j - i > limit:  # keep the run's two ends (so the edges stay smooth), drop its middle
            half = limit // 2
            keep[(i + half) * win : (j - (limit - half)) * win] = False
        i = j
    return audio[keep]


class EspeakNarrator(NarratorBackend):
    name: ClassVar[str] = "espeak"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "eSpeak NG, offline, ~100 languages (voice en, de, fr, ...)"

    class Options(NarratorOptions):
        voice: str = "en"  # a language or voice name from `espeak-ng --voices` (e.g. en-us, de, fr, es)
        pitch: Annotated[int, Field(ge=0, le=99)] = 50
        binary: str | None = None  # path to espeak-ng; default: found on PATH

    options: Options

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        ident["espeak"] = espeak_version(find_espeak(self.options.binary))
        return ident

    def execute(self, text: str, out_path: Path) -> SpokenSentence:
        text = clean(text)
        if not text:
            raise NarrationError("cannot speak an empty sentence")
        exe = find_espeak(self.options.binary)
        wpm = round(BASE_WPM / self.options.length_scale)
        amplitude = round(100 * self.options.volume)
        with tempfile.TemporaryDirectory(prefix="reelforge-espeak-") as tmp:
            raw = Path(tmp) / "raw.wav"
            cmd = [exe, "-v", self.options.voice, "-s", str(wpm), "-a", str(amplitude),
                   "-p", str(self.options.pitch), "-z", "-w", str(raw), "--stdin"]  # fmt: skip
            try:
                r = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, timeout=TIMEOUT)
            except (OSError, subprocess.SubprocessError) as exc:
                raise NarrationError(f"espeak-ng failed to run: {exc}", hint=INSTALL_HINT) from None
            msg = r.stderr.decode("utf-8", "replace").strip()
            if r.returncode != 0 or not raw.is_file() or "does not exist" in msg:
                if "voice" in msg.lower():
                    raise NarrationError(f"espeak-ng has no voice '{self.options.voice}'",
                                         hint="see `reelforge voices` or `espeak-ng --voices`")  # fmt: skip
                raise NarrationError(f"espeak-ng failed on {text[:60]!r}: {msg or r.returncode}")
            audio, sr = read_wav(raw)
        if audio.ndim > 1:
            audio = audio.mean(axis=1)
        a, b = trim_bounds(audio, sr, threshold=0.01)
        audio = cap_pauses(audio[a:b], sr) if b > a else np.zeros(int(0.3 * sr), dtype=np.float32)
        peak = float(np.abs(audio).max()) if audio.size else 0.0
        if peak > 0:  # espeak is quiet; bring it to Piper's level
            audio = audio * min(0.9 * self.options.volume / peak, 8.0)
        n = min(len(audio) // 4, int(0.008 * sr))
        if n > 0:
            ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
            audio[:n] *= ramp
            audio[-n:] *= ramp[::-1]
        audio = np.clip(audio, -1.0, 1.0).astype(np.float32)
        write_wav(out_path, audio, sr)
        duration = len(audio) / sr
        return SpokenSentence(text=text, path=out_path, duration=duration, sample_rate=sr,
                              words=word_timings(text, duration))  # fmt: skip
