"""The CLI's contract: clear one-line errors with non-zero exits, never a traceback or a partial file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ)
    e.setdefault(
        "REELFORGE_WRITER", "template"
    )  # fast and deterministic; the LLM writers have their own tests
    e.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "reelforge", *args],
        capture_output=True,
        text=True,
        env=e,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["make", "", "-d", "10"], "prompt is empty"),
        (["make", "x" * 5000, "-d", "10"], "limit is 2000"),
        (["make", "bees", "-d", "0"], "out of range"),
        (["make", "bees", "-d", "1801"], "out of range"),
        (["make", "bees", "--style", "jazzy"], "unknown style 'jazzy'"),
        (["make", "bees", "--aspect", "4:3"], "unknown aspect '4:3'"),
        (["make", "bees", "--transition", "spin"], "unknown transition 'spin'; choose one of: auto, fade"),
        (["make", "bees", "--images", "dalle9"], "unknown visuals backend 'dalle9'"),
        (["make", "bees", "-o", "/proc/nope/out.mp4"], "cannot write to"),
        (["make", "bees", "-o", "out.avi"], "must end in .mp4"),
    ],
)
def test_bad_input_gives_one_clear_line(tmp_path, args, needle):
    r = cli(*args, env={"REELFORGE_CACHE_DIR": str(tmp_path / "c")}, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert not list(tmp_path.glob("*.mp4"))


def test_missing_ffmpeg_is_clear(tmp_path):
    r = cli(
        "make",
        "bees",
        "-d",
        "6",
        "-o",
        str(tmp_path / "v.mp4"),
        env={"REELFORGE_FFMPEG": "/nonexistent/ffmpeg", "REELFORGE_CACHE_DIR": str(tmp_path / "c")},
    )
    assert r.returncode == 2
    assert "ffmpeg not found" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "v.mp4").exists()


def test_storyboard_command_and_bad_storyboard_file(tmp_path):
    env = {"REELFORGE_CACHE_DIR": str(tmp_path / "c")}
    r = cli("storyboard", "how bees make honey", "-d", "30", "-o", str(tmp_path / "sb.json"), env=env)
    assert r.returncode == 0, r.stderr
    import json

    sb = json.loads((tmp_path / "sb.json").read_text())
    sb["scenes"][0]["narration"] = ""
    (tmp_path / "bad.json").write_text(json.dumps(sb))
    r = cli("make", "--storyboard", str(tmp_path / "bad.json"), "-o", str(tmp_path / "v.mp4"), env=env)
    assert r.returncode == 2
    assert "scenes.0.narration" in r.stderr and "Traceback" not in r.stderr


def test_backends_lists_builtins():
    r = cli("backends")
    assert r.returncode == 0
    for name in ("template", "piper", "procedural", "synth", "ffmpeg"):
        assert name in r.stdout
