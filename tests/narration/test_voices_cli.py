"""``reelforge voices``: bundled Piper voices, a folder of extra Piper voices, eSpeak NG's languages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reelforge.cli import app
from reelforge.narration.piper import BUNDLED_VOICE, PiperNarrator, bundled_voices, resolve_voice

runner = CliRunner()


@pytest.fixture
def voices_dir(tmp_path: Path) -> Path:
    """A folder with one extra Piper voice (the bundled model linked under another name)."""
    model, config = bundled_voices()[BUNDLED_VOICE]
    d = tmp_path / "voices" / "en"
    d.mkdir(parents=True)
    (d / "en_GB-test-low.onnx").symlink_to(model)
    shutil.copy(config, d / "en_GB-test-low.onnx.json")
    (d / "orphan.onnx").write_bytes(b"no config beside it")
    return tmp_path / "voices"


def test_lists_bundled_and_folder_voices(voices_dir: Path) -> None:
    r = runner.invoke(app, ["voices", "--json", "--voices-dir", str(voices_dir)])
    assert r.exit_code == 0, r.output
    voices = json.loads(r.stdout)["voices"]
    piper = {v["voice"]: v for v in voices if v["engine"] == "piper"}
    assert piper[BUNDLED_VOICE]["default"] and piper[BUNDLED_VOICE]["language"] == "en_US"
    assert piper["en_GB-test-low"]["source"] == str(voices_dir)
    assert "orphan" not in piper
    espeak = [v for v in voices if v["engine"] == "espeak"]
    assert bool(espeak) == (shutil.which("espeak-ng") is not None)


def test_table_output_and_env_folder(voices_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REELFORGE_VOICES_DIR", str(voices_dir))
    r = runner.invoke(app, ["voices"])
    assert r.exit_code == 0, r.output
    assert BUNDLED_VOICE in r.stdout and "en_GB-test-low" in r.stdout and "(default)" in r.stdout


def test_folder_voices_resolve_by_name(voices_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, cfg = resolve_voice("en_GB-test-low", voices_dir)
    assert model.name == "en_GB-test-low.onnx" and cfg.is_file()
    assert PiperNarrator({"voice": "en_GB-test-low", "voices_dir": str(voices_dir)}).identity()["voice_file"]
    monkeypatch.setenv("REELFORGE_VOICES_DIR", str(voices_dir))
    assert resolve_voice("en_GB-test-low")[0] == model
