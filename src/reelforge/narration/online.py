"""Online narrators, each an optional extra (``pip install "reelforge[tts-online]"``):

- ``openai``: the OpenAI ``POST {base_url}/audio/speech`` wire format (``model``, ``input``, ``voice``,
  ``response_format``, ``speed``), so it also works with compatible local servers (set ``base_url``);
  standard library HTTP only, no SDK needed. Key: ``[options.openai] api_key`` or ``OPENAI_API_KEY``.
- ``edge``: Microsoft Edge's read-aloud voices through ``edge-tts`` (no key), with word boundaries.
- ``gtts``: Google Translate's voice through ``gTTS`` (no key).

Offline first: when the package, the key or the network is missing (or ``REELFORGE_OFFLINE`` is set),
each of them says why in one warning and narrates with Piper instead, and its identity is Piper's, so
the cache holds what was really spoken. A request that fails during a run is tried again once, then
that sentence is spoken by Piper too (with a warning).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import Field

from ..audio_decode import DecodeError, FloatArray, decode_audio
from ..audio_io import write_wav
from ..errors import NarrationError
from ..models import SpokenSentence, WordTiming
from ..text import clean
from .base import NarratorBackend, NarratorOptions
from .piper import BUNDLED_VOICE, PiperNarrator, trim_bounds, word_timings

log = logging.getLogger("reelforge.narration")

OPENAI_URL = "https://api.openai.com/v1"
PROBE_TIMEOUT = 3.0
_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def offline() -> bool:
    """``REELFORGE_OFFLINE=1`` keeps every online narrator off the network."""
    return os.environ.get("REELFORGE_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def reachable(host: str, port: int, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether a TCP connection to ``host:port`` opens (name resolution included)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _warn_once(name: str, message: str) -> None:
    with _warned_lock:
        if (name, message) in _warned:
            return
        _warned.add((name, message))
    log.warning("%s", message)


def finish(audio: FloatArray, sr: int, text: str, out_path: Path,
           words: tuple[WordTiming, ...] | None = None) -> SpokenSentence:  # fmt: skip
    """Trim, fade and write decoded speech; word times (relative to the untrimmed audio) are shifted."""
    a, b = trim_bounds(audio, sr, threshold=0.01)
    clip = audio[a:b].astype(np.float32) if b > a else np.zeros(int(0.3 * sr), dtype=np.float32)
    peak = float(np.abs(clip).max()) if clip.size else 0.0
    if peak > 0.9:
        clip = clip * (0.9 / peak)
    n = min(len(clip) // 4, int(0.008 * sr))
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        clip[:n] *= ramp
        clip[-n:] *= ramp[::-1]
    write_wav(out_path, clip, sr)
    duration = len(clip) / sr
    timed: tuple[WordTiming, ...] | None = None
    if words:
        shift = a / sr
        timed = tuple(
            WordTiming(word=w.word, start=round(min(max(w.start - shift, 0.0), duration), 3),
                       end=round(min(max(w.end - shift, 0.0), duration), 3))
            for w in words
        )  # fmt: skip
    return SpokenSentence(text=text, path=out_path, duration=duration, sample_rate=sr,
                          words=timed or word_timings(text, duration))  # fmt: skip


class OnlineOptions(NarratorOptions):
    #: the Piper voice used when this engine can't be reached
    fallback_voice: str = BUNDLED_VOICE
    timeout: Annotated[float, Field(gt=0, le=300)] = 30.0  # seconds per request


class OnlineNarrator(NarratorBackend):
    """An online engine with an offline safety net: Piper speaks whenever the engine can't."""

    package: ClassVar[str | None] = None  # the optional package it needs (import name)
    options: OnlineOptions

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self._lock = threading.Lock()
        self._checked = False
        self._reason: str | None = None
        self._piper: PiperNarrator | None = None

    # -- what subclasses provide ------------------------------------------------------------------

    def endpoint(self) -> tuple[str, int]:
        raise NotImplementedError

    def missing_key(self) -> str | None:
        return None

    def synthesize(self, text: str) -> tuple[FloatArray, int, tuple[WordTiming, ...] | None]:
        raise NotImplementedError

    # -- the safety net ---------------------------------------------------------------------------

    def fallback(self) -> PiperNarrator:
        if self._piper is None:
            o = self.options
            self._piper = PiperNarrator({"voice": o.fallback_voice, "length_scale": o.length_scale,
                                         "volume": o.volume, "sentence_pause": o.sentence_pause})  # fmt: skip
        return self._piper

    def unavailable(self) -> str | None:
        """Why this engine can't be used now (``None``: it can); checked once per instance."""
        with self._lock:
            if not self._checked:
                self._reason = self._check()
                self._checked = True
                if self._reason:
                    _warn_once(self.name, f"{self.name} TTS unavailable ({self._reason}); narrating with Piper "
                                          f"voice {self.options.fallback_voice} instead")  # fmt: skip
            return self._reason

    def _check(self) -> str | None:
        if offline():
            return "REELFORGE_OFFLINE is set"
        if self.package:
            try:
                __import__(self.package)
            except ImportError:
                return f"the '{self.package}' package is not installed: pip install 'reelforge[tts-online]'"
        key = self.missing_key()
        if key:
            return key
        host, port = self.endpoint()
        if not reachable(host, port):
            return f"cannot reach {host}:{port}"
        return None

    def identity(self) -> dict[str, Any]:
        if self.unavailable():
            return self.fallback().identity()  # the cache holds what is really spoken
        ident = super().identity()
        ident["options"] = {k: v for k, v in ident["options"].items()
                            if "key" not in k and k not in ("timeout", "fallback_voice")}  # fmt: skip
        return ident

    def execute(self, text: str, out_path: Path) -> SpokenSentence:
        text = clean(text)
        if not text:
            raise NarrationError("cannot speak an empty sentence")
        if self.unavailable():
            return self.fallback().execute(text, out_path)
        error: Exception | None = None
        for _ in range(2):
            try:
                audio, sr, words = self.synthesize(text)
                return finish(audio, sr, text, out_path, words)
            except (OSError, DecodeError, NarrationError, ValueError, RuntimeError) as exc:
                error = exc
        log.warning("%s TTS failed on %r (%s); this sentence is spoken by Piper (run with --no-cache later "
                    "to try the engine again)", self.name, text[:60], error)  # fmt: skip
        return self.fallback().execute(text, out_path)


class OpenAITTS(OnlineNarrator):
    name: ClassVar[str] = "openai"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "OpenAI-style /v1/audio/speech, online or local; else Piper"

    class Options(OnlineOptions):
        base_url: str | None = None  # default $OPENAI_BASE_URL, else https://api.openai.com/v1
        api_key: str | None = None  # default $OPENAI_API_KEY (needed for api.openai.com only)
        model: str = "tts-1"
        voice: str = "alloy"
        response_format: str = "wav"  # wav, mp3, flac, opus, aac (decoded with PyAV) or pcm (24 kHz s16le)
        instructions: str | None = None  # tone/style hints for models that take them (gpt-4o-mini-tts)

    options: Options

    def base_url(self) -> str:
        return (self.options.base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL).rstrip("/")

    def api_key(self) -> str | None:
        return self.options.api_key or os.environ.get("OPENAI_API_KEY") or None

    def endpoint(self) -> tuple[str, int]:
        u = urllib.parse.urlsplit(self.base_url())
        return u.hostname or "", u.port or (443 if u.scheme == "https" else 80)

    def missing_key(self) -> str | None:
        if self.base_url() == OPENAI_URL and not self.api_key():
            return "no API key: set OPENAI_API_KEY or [options.openai] api_key"
        return None

    def synthesize(self, text: str) -> tuple[FloatArray, int, tuple[WordTiming, ...] | None]:
        o = self.options
        body: dict[str, Any] = {"model": o.model, "input": text, "voice": o.voice,
                                "response_format": o.response_format,
                                "speed": round(min(4.0, max(0.25, 1.0 / o.length_scale)), 3)}  # fmt: skip
        if o.instructions:
            body["instructions"] = o.instructions
        headers = {"Content-Type": "application/json"}
        key = self.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(f"{self.base_url()}/audio/speech", data=json.dumps(body).encode(),
                                     headers=headers, method="POST")  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=o.timeout) as resp:
                data = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise NarrationError(f"HTTP {exc.code} from {self.base_url()}/audio/speech: {detail}") from None
        if o.response_format == "pcm":
            audio = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
            sr = 24000
        else:
            audio, sr = decode_audio(data)
        return audio * o.volume, sr, None


class EdgeTTS(OnlineNarrator):
    name: ClassVar[str] = "edge"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "Microsoft Edge voices (edge-tts, online, no key); else Piper"
    package: ClassVar[str | None] = "edge_tts"

    class Options(OnlineOptions):
        voice: str = "en-US-AriaNeural"  # `edge-tts --list-voices`
        pitch: str = "+0Hz"

    options: Options

    def endpoint(self) -> tuple[str, int]:
        return "speech.platform.bing.com", 443

    def synthesize(self, text: str) -> tuple[FloatArray, int, tuple[WordTiming, ...] | None]:
        import edge_tts

        o = self.options
        rate = round((1.0 / o.length_scale - 1.0) * 100)
        volume = round((min(o.volume, 1.0) - 1.0) * 100)
        comm = edge_tts.Communicate(text, o.voice, rate=f"{rate:+d}%", volume=f"{volume:+d}%", pitch=o.pitch,
                                    boundary="WordBoundary", receive_timeout=int(o.timeout))  # fmt: skip
        audio = bytearray()
        bounds: list[tuple[float, float]] = []

        async def run() -> None:
            async for chunk in comm.stream():
                if chunk["type"] == "audio":
                    audio.extend(chunk["data"])
                elif chunk["type"] == "WordBoundary":
                    start = chunk["offset"] / 1e7  # 100 ns units
                    bounds.append((start, start + chunk["duration"] / 1e7))

        try:
            asyncio.run(asyncio.wait_for(run(), timeout=o.timeout * 2))
        except Exception as exc:  # edge_tts / aiohttp errors have no common base
            raise NarrationError(f"edge-tts failed: {exc}") from None
        samples, sr = decode_audio(bytes(audio))
        words = text.split()
        timed = None
        if bounds and len(bounds) == len(words):
            timed = tuple(WordTiming(word=w, start=a, end=b) for w, (a, b) in zip(words, bounds, strict=True))
        return samples, sr, timed


class GTTS(OnlineNarrator):
    name: ClassVar[str] = "gtts"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "Google Translate's voice (gTTS, online, no key); else Piper"
    package: ClassVar[str | None] = "gtts"

    class Options(OnlineOptions):
        voice: str = "en"  # a gTTS language code: en, de, fr, es, ...
        tld: str = "com"  # the Google host's domain: com, co.uk, com.au (accents)

    options: Options

    def endpoint(self) -> tuple[str, int]:
        return f"translate.google.{self.options.tld}", 443

    def synthesize(self, text: str) -> tuple[FloatArray, int, tuple[WordTiming, ...] | None]:
        import io

        from gtts import gTTS

        o = self.options
        buf = io.BytesIO()
        try:
            tts = gTTS(text, lang=o.voice, tld=o.tld, slow=o.length_scale >= 1.5, timeout=o.timeout)
            tts.write_to_fp(buf)
        except Exception as exc:  # gTTSError, requests errors, ValueError for a bad language
            raise NarrationError(f"gTTS failed: {exc}") from None
        audio, sr = decode_audio(buf.getvalue())
        return audio * o.volume, sr, None
