"""Publishing a job's folder to the store (what the runner calls), on a folder store: which files go, which are not
sent twice, and a failing store never breaking the live preview."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from reelforge.storage.jobs import publish_job, publish_segment
from reelforge.storage.local import LocalStorage


def job_folder(root: Path) -> Path:
    folder = root / "job"
    (folder / "hls").mkdir(parents=True)
    (folder / "thumbs").mkdir()
    (folder / "video.mp4").write_bytes(b"mp4")
    (folder / "video.vtt").write_text("WEBVTT\n")
    (folder / "stream.m3u8").write_text("#EXTM3U\n")
    (folder / "hls" / "s0-1-0.ts").write_bytes(b"ts0")
    (folder / "hls" / ".s0-1-1.ts.part.ts").write_bytes(b"half")  # being written
    (folder / "thumbs" / "0.jpg").write_bytes(b"jpg")
    (folder / ".sound-0-1-0.wav").write_bytes(b"scratch")
    return folder


def test_every_finished_file_and_the_assets_go_once(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "bucket")
    folder = job_folder(tmp_path)
    still = tmp_path / "cache" / "still.png"
    still.parent.mkdir()
    still.write_bytes(b"png")
    assert publish_segment(store, "j1", folder, folder / "hls" / "s0-1-0.ts")
    n = publish_job(store, "j1", folder, {"0.png": still, "gone.wav": tmp_path / "nope.wav"})
    assert sorted(store.list("jobs/j1/")) == [
        "jobs/j1/assets/0.png",
        "jobs/j1/hls/s0-1-0.ts",
        "jobs/j1/stream.m3u8",
        "jobs/j1/thumbs/0.jpg",
        "jobs/j1/video.mp4",
        "jobs/j1/video.vtt",
    ]
    assert n == 5  # the segment was already there (published as it was made): not sent again


def test_a_failing_store_does_not_break_the_preview(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "not-a-folder").write_text("x")
    store = LocalStorage(tmp_path / "not-a-folder")  # every write fails
    folder = job_folder(tmp_path)
    with caplog.at_level(logging.WARNING, "reelforge.storage"):
        assert not publish_segment(store, "j1", folder, folder / "hls" / "s0-1-0.ts")
    assert "s0-1-0.ts not in the store yet" in caplog.text
