"""Faults: TTS crashes, ffmpeg killed mid-segment, cancellation, a full disk. Nothing is lost or corrupt."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from reelforge.errors import Cancelled, ComposeError, NarrationError, OutputError
from reelforge.models import Request, SpokenSentence
from reelforge.narration.piper import PiperNarrator
from reelforge.pipeline import Pipeline
from reelforge.registry import Registry
from reelforge.tools import find_ffmpeg

REQ = Request(prompt="How bees make honey", duration=10, resolution="480p")


def fast(make_settings, **kw: Any):
    kw.setdefault("writer", "template")
    kw.setdefault("images", "procedural")
    return make_settings(**kw)


class FlakyNarrator(PiperNarrator):
    """Crashes the first time it speaks each sentence, then works."""

    name: ClassVar[str] = "flaky"
    seen: ClassVar[set[str]] = set()

    def execute(self, text: str, out_path: Path) -> SpokenSentence:
        if text not in self.seen:
            self.seen.add(text)
            raise RuntimeError("onnxruntime: simulated crash")
        return super().execute(text, out_path)


class BrokenNarrator(PiperNarrator):
    name: ClassVar[str] = "broken"

    def execute(self, text: str, out_path: Path) -> SpokenSentence:
        raise RuntimeError("voice model exploded")


def registry_with(*classes: Any) -> Registry:
    reg = Registry()
    for c in classes:
        reg.register("narration", c)
    return reg


def test_tts_crash_is_retried_and_the_video_completes(tmp_path, make_settings):
    pipe = Pipeline(fast(make_settings, tts="flaky"), registry=registry_with(FlakyNarrator))
    res = pipe.make(REQ, tmp_path / "v.mp4")
    assert res.video.exists() and FlakyNarrator.seen


def test_tts_that_keeps_failing_fails_cleanly(tmp_path, make_settings):
    pipe = Pipeline(fast(make_settings, tts="broken"), registry=registry_with(BrokenNarrator))
    with pytest.raises(NarrationError, match="voice model exploded"):
        pipe.make(REQ, tmp_path / "v.mp4")
    assert not (tmp_path / "v.mp4").exists()
    assert not list(tmp_path.glob("*.part*"))


def killer_ffmpeg(tmp_path: Path, kill_at: int) -> Path:
    """An ffmpeg wrapper that SIGKILLs the ``kill_at``-th segment render mid-way."""
    script = tmp_path / "ffmpeg-killer"
    script.write_text(
        f"""#!/usr/bin/env bash
for a in "$@"; do
  if [ "$a" = "seg.mp4" ]; then
    n=$(( $(cat {tmp_path}/count 2>/dev/null || echo 0) + 1 )); echo $n > {tmp_path}/count
    if [ $n -eq {kill_at} ]; then
      "{find_ffmpeg()}" "$@" & pid=$!
      sleep 0.3; kill -9 $pid; kill -9 $$
    fi
  fi
done
exec "{find_ffmpeg()}" "$@"
"""
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_ffmpeg_killed_mid_segment_leaves_no_corrupt_entry(tmp_path, make_settings):
    wrapper = killer_ffmpeg(tmp_path, kill_at=2)
    broken = fast(make_settings, ffmpeg=str(wrapper), jobs=1)
    with pytest.raises(ComposeError, match="segment"):
        Pipeline(broken).make(REQ, tmp_path / "v.mp4")
    assert not (tmp_path / "v.mp4").exists()
    cache_dir = broken.cache_dir
    assert not [p for p in cache_dir.rglob(".tmp-*")], "temporary build dirs must be cleaned up"
    kept = list((cache_dir / "segment").glob("*/*"))
    for entry in kept:
        assert (entry / ".complete").exists() and (entry / "seg.mp4").stat().st_size > 0
    res = Pipeline(fast(make_settings, jobs=1)).make(REQ, tmp_path / "v.mp4")
    # only what the failed run did not finish is rendered (the killed segment, and the scenes after it
    # that had not streamed by yet); every finished segment is used as it is
    assert res.cache["segment"]["misses"] == len(res.timeline.segments) - len(kept) >= 1
    assert res.video.exists()


def ffmpeg_children(marker: str) -> list[int]:
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes()
            except OSError:
                continue
            if b"ffmpeg" in cmd and marker.encode() in cmd:
                pids.append(int(p.name))
    return pids


def test_cancel_mid_render_stops_ffmpeg_fast_and_leaves_no_orphans(tmp_path, make_settings):
    settings = fast(make_settings, no_music=True)
    cancel = threading.Event()
    rendering = threading.Event()

    def progress(e) -> None:
        if e.stage == "render":
            rendering.set()

    pipe = Pipeline(settings, progress=progress, cancel=cancel)
    req = Request(prompt="How bees make honey", duration=40, resolution="720p")
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            pipe.make(req, tmp_path / "v.mp4")
        except BaseException as exc:
            box["exc"] = exc

    t = threading.Thread(target=run)
    t.start()
    assert rendering.wait(120)
    time.sleep(0.5)
    t0 = time.perf_counter()
    cancel.set()
    t.join(10)
    stopped = time.perf_counter() - t0
    assert not t.is_alive()
    assert isinstance(box.get("exc"), Cancelled)
    assert stopped < 2.0
    assert ffmpeg_children(str(settings.cache_dir)) == []
    assert not (tmp_path / "v.mp4").exists()


def test_full_disk_gives_a_clear_error_and_no_partial_file(tmp_path, make_settings):
    small = tmp_path / "small"
    small.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(small)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.decode().strip()}")
    try:
        with pytest.raises(OutputError, match="disk"):
            Pipeline(fast(make_settings)).make(REQ, small / "v.mp4")
        assert not (small / "v.mp4").exists()
        assert not [p for p in small.iterdir() if p.name.endswith(".mp4")]
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_unwritable_output_fails_before_any_work(tmp_path, make_settings):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    if os.access(ro, os.W_OK):  # root ignores permissions
        pytest.skip("running as root: permissions don't apply")
    settings = fast(make_settings)
    with pytest.raises(OutputError, match="cannot write"):
        Pipeline(settings).make(REQ, ro / "v.mp4")
    assert not (settings.cache_dir / "narration").exists()
