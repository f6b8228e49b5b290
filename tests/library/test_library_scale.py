"""A library that scales: ``library add`` over a folder shows progress, and a killed ``add`` resumes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from libclips import ffmpeg

from reelforge.library import Library
from reelforge.library.library import feature_frames

N = 40


def _folder(d: Path) -> list[Path]:
    """N tiny clips, written by one ffmpeg call (a segment muxer cuts one stream into N files)."""
    d.mkdir(parents=True)
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=96x64:r=10:d={N * 0.6}", "-c:v", "libx264", "-preset", "ultrafast",
           "-g", "3", "-f", "segment", "-segment_time", "0.6", "-reset_timestamps", "1",
           str(d / "MVI_%04d.mp4"))  # fmt: skip
    files = sorted(d.glob("*.mp4"))
    assert len(files) == N
    return files


def _committed(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as c:
            return int(c.execute("SELECT COUNT(*) FROM files").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_killed_add_resumes_where_it_stopped(tmp_path: Path):
    files = _folder(tmp_path / "DCIM")
    libs = tmp_path / "libs"
    env = {**os.environ, "REELFORGE_LIBRARY_DIR": str(libs)}
    cmd = [
        sys.executable,
        "-m",
        "reelforge",
        "library",
        "add",
        str(tmp_path / "DCIM"),
        "--visual",
        "none",
        "--json",
    ]
    db = libs / "default" / "library.sqlite3"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while _committed(db) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)  # no clean-up, no last index save
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, "the add finished before it could be killed"
    first = _committed(db)
    assert 3 <= first < N
    assert "indexed 1/40" in stderr  # progress on a pipe: plain lines
    # the same command again carries on: what was committed is not decoded again
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["unchanged"] == first and len(report["added"]) == N - first and not report["rejected"]
    assert f"indexed {N - first}/{N - first}" in r.stderr
    with Library("default", libs, visual="none", create=False) as lib:
        assert len(lib.files("ok")) == N and lib.index().ntotal == N  # the index holds every file once
        assert {f.path.name for f in lib.files()} == {f.name for f in files}


def test_feature_frames_are_shared_between_shots():
    assert feature_frames([[True] * 16], 4) == [(0, 2), (0, 6), (0, 10), (0, 14)]
    # every shot gets at least one frame; longer shots more
    picks = feature_frames([[True] * 2, [True] * 12, [True, False]], 4)
    shots = [s for s, _ in picks]
    assert shots.count(0) == 1 and shots.count(1) == 3 and (2, 0) in picks
    assert feature_frames([[False, False]], 4) == []
