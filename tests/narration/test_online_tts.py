"""Online narrators: the OpenAI wire format against a local fake server; edge-tts and gTTS, whose endpoints
can't be pointed elsewhere, through their offline path (no network, no package, no key → Piper, with a
warning). No test here touches anything but 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from reelforge.audio_io import read_wav, write_wav
from reelforge.narration import online
from reelforge.narration.online import GTTS, EdgeTTS, OpenAITTS
from reelforge.narration.piper import PiperNarrator
from reelforge.registry import default_registry


@pytest.fixture(autouse=True)
def local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only 127.0.0.1 is ever probed; every other host counts as unreachable. Warnings are fresh."""
    real = online.reachable
    monkeypatch.setattr(
        online, "reachable", lambda host, port, timeout=3.0: host == "127.0.0.1" and real(host, port)
    )
    monkeypatch.setattr(online, "_warned", set())
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "REELFORGE_OFFLINE"):
        monkeypatch.delenv(var, raising=False)


def speech_like(seconds: float = 1.2, sr: int = 24000) -> np.ndarray:
    """Two 'words' of a 180 Hz buzz with silence around them."""
    t = np.arange(int(seconds * sr)) / sr
    tone = 0.5 * np.sign(np.sin(2 * np.pi * 180 * t)) * (np.sin(2 * np.pi * 2 * t) > 0.2)
    return np.concatenate([np.zeros(int(0.3 * sr)), tone, np.zeros(int(0.3 * sr))]).astype(np.float32)


class FakeSpeech(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []
    status = 200
    wav_body = b""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeSpeech.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        if FakeSpeech.status != 200:
            self.send_response(FakeSpeech.status)
            self.end_headers()
            self.wfile.write(b'{"error": "boom"}')
            return
        audio = speech_like()
        if body.get("response_format") == "pcm":
            data = (audio * 32767).astype("<i2").tobytes()
        else:
            data = FakeSpeech.wav_body
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    FakeSpeech.requests = []
    FakeSpeech.status = 200
    write_wav(tmp_path / "body.wav", speech_like(), 24000)
    FakeSpeech.wav_body = (tmp_path / "body.wav").read_bytes()
    httpd = HTTPServer(("127.0.0.1", 0), FakeSpeech)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_registered() -> None:
    reg = default_registry()
    assert reg.get("narration", "openai") is OpenAITTS
    assert reg.get("narration", "edge") is EdgeTTS
    assert reg.get("narration", "gtts") is GTTS


@pytest.mark.parametrize("fmt", ["wav", "pcm"])
def test_openai_wire_format_against_a_local_server(server: str, tmp_path: Path, fmt: str) -> None:
    n = OpenAITTS({"base_url": server, "api_key": "sk-test", "voice": "nova", "model": "tts-1-hd",
                   "response_format": fmt, "length_scale": 0.8})  # fmt: skip
    s = n.execute("Bees make honey.", tmp_path / "a.wav")
    (req,) = FakeSpeech.requests
    assert req["path"] == "/v1/audio/speech"
    assert req["auth"] == "Bearer sk-test"
    assert req["body"] == {"model": "tts-1-hd", "input": "Bees make honey.", "voice": "nova",
                           "response_format": fmt, "speed": 1.25}  # fmt: skip
    _, sr = read_wav(s.path)
    assert sr == 24000
    assert s.duration == pytest.approx(1.2, abs=0.1)  # the 0.3 s silences were trimmed
    assert [w.word for w in s.words] == ["Bees", "make", "honey."]
    ident = n.identity()
    assert ident["name"] == "openai" and "api_key" not in ident["options"]


def test_openai_local_server_needs_no_key(server: str, tmp_path: Path) -> None:
    s = OpenAITTS({"base_url": server}).execute("Hello there.", tmp_path / "a.wav")
    assert FakeSpeech.requests[0]["auth"] is None and s.sample_rate == 24000


def test_openai_server_error_falls_back_to_piper(
    server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    FakeSpeech.status = 500
    with caplog.at_level(logging.WARNING, logger="reelforge.narration"):
        s = OpenAITTS({"base_url": server}).execute("Hello there.", tmp_path / "a.wav")
    assert s.sample_rate == 22050  # Piper's voice
    assert len(FakeSpeech.requests) == 2  # tried twice
    assert "HTTP 500" in caplog.text and "spoken by Piper" in caplog.text


def test_openai_without_a_key_uses_piper(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    n = OpenAITTS()
    with caplog.at_level(logging.WARNING, logger="reelforge.narration"):
        assert n.identity() == PiperNarrator().identity()  # the cache holds what is really spoken
        s = n.execute("Hello there.", tmp_path / "a.wav")
    assert s.sample_rate == 22050
    assert "no API key" in caplog.text and "OPENAI_API_KEY" in caplog.text


@pytest.mark.parametrize("cls", [EdgeTTS, GTTS])
def test_no_network_falls_back_to_piper(cls: type, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="reelforge.narration"):
        n = cls()
        s = n.execute("Bees make honey.", tmp_path / "a.wav")
    assert s.sample_rate == 22050 and s.duration > 0.5
    if n.package and not _importable(n.package):
        assert "pip install 'reelforge[tts-online]'" in caplog.text
    else:
        assert "cannot reach" in caplog.text
    assert f"{cls.name} TTS unavailable" in caplog.text and "narrating with Piper" in caplog.text


def _importable(name: str) -> bool:
    try:
        __import__(name)
        return True
    except ImportError:
        return False


@pytest.mark.parametrize("cls", [EdgeTTS, GTTS, OpenAITTS])
def test_reelforge_offline_never_touches_the_network(
    cls: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("REELFORGE_OFFLINE", "1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")

    def boom(*a: Any, **k: Any) -> bool:
        raise AssertionError("network probed")

    monkeypatch.setattr(online, "reachable", boom)
    with caplog.at_level(logging.WARNING, logger="reelforge.narration"):
        s = cls().execute("Hello.", tmp_path / "a.wav")
    assert s.sample_rate == 22050 and "REELFORGE_OFFLINE" in caplog.text


def test_missing_package_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(EdgeTTS, "package", "no_such_package_xyz")
    with caplog.at_level(logging.WARNING, logger="reelforge.narration"):
        n = EdgeTTS()
        assert n.unavailable() is not None
    assert "pip install 'reelforge[tts-online]'" in caplog.text
