"""Progressive playback: an HLS ``EVENT`` playlist that grows as the pipeline finishes video segments.

The streaming pipeline renders each scene's segment as soon as the scene is written and announces it with a
``preview`` event: the segment's file (exactly its frames, the transition into it included) and its
provisional sound (that window of a mix of what exists so far). Each becomes one MPEG-TS HLS segment: the
video stream copied as is, the sound encoded to AAC, timestamps moved to where the segment sits in the
video (``-output_ts_offset``), so the segments play back to back. A segment announced only by the final
render (``render`` events, no sound of its own) takes its slice of the final mix (``-ss``/``-t``).
Segments are added to the playlist in order (segment *k* waits for *0..k-1*); ``#EXT-X-ENDLIST`` is written
when the job is done.

The builder also saves a small JPEG of every scene (the storyboard view's thumbnails).
"""

from __future__ import annotations

import math
import os
import queue
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av

from ..models import ProgressEvent
from ..tools import run

PLAYLIST = "stream.m3u8"
#: every segment's timestamps are shifted by this much, so B-frame reordering never makes them negative
TS_BASE = 10.0
SEGMENT_NAME = re.compile(r"^s[0-9]+-[0-9]+-[0-9]+\.ts$")
_SEG_MSG = re.compile(r"^segment ([0-9]+)$")


@dataclass(frozen=True)
class HlsSegment:
    index: int
    name: str
    start: float
    duration: float
    scene: int | None


def probe_duration(path: Path) -> float:
    """Exact length of a rendered segment: its frame count over its frame rate."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        if s.frames and s.average_rate:
            return float(s.frames / s.average_rate)
        if s.duration is not None and s.time_base is not None:
            return float(s.duration * s.time_base)
        return float((c.duration or 0) / 1e6)


def playlist_text(segments: list[HlsSegment], target: float, ended: bool) -> str:
    longest = max([target, *(s.duration for s in segments)])
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-PLAYLIST-TYPE:EVENT",
        f"#EXT-X-TARGETDURATION:{max(1, math.ceil(longest))}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    for s in segments:
        lines += [f"#EXTINF:{s.duration:.5f},", f"hls/{s.name}"]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _write_atomic(path: Path, data: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    tmp.write_text(data, encoding="utf-8")
    os.replace(tmp, path)


class HlsBuilder:
    """Feed it the pipeline's progress events (it is a progress callback); it builds segments on its own
    thread. ``finish()`` waits for the remaining segments and closes the playlist.

    ``job_dir/stream.m3u8`` is the playlist; segments go to ``job_dir/hls/``, thumbnails to
    ``job_dir/thumbs/<scene>.jpg``. ``tag`` makes this run's segment names unique (a re-render never
    overwrites a segment that a player may be fetching).
    """

    def __init__(
        self,
        job_dir: Path,
        ffmpeg: str,
        *,
        tag: str,
        target: float = 10.0,
        on_segment: Callable[[HlsSegment, int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.job_dir = job_dir
        self.seg_dir = job_dir / "hls"
        self.thumb_dir = job_dir / "thumbs"
        self.ffmpeg = ffmpeg
        self.tag = tag
        self.target = target
        self.on_segment = on_segment
        self.cancel = cancel
        self.audio: Path | None = None
        self.total: int | None = None
        self.segments: list[HlsSegment] = []
        self.error: BaseException | None = None
        self._ready: dict[int, tuple[Path, int | None, Path | None]] = {}
        self._queue: queue.Queue[ProgressEvent | None] = queue.Queue()
        self.seg_dir.mkdir(parents=True, exist_ok=True)
        self.thumb_dir.mkdir(parents=True, exist_ok=True)
        # a new run starts a new playlist; the previous run's segments go
        _write_atomic(self.job_dir / PLAYLIST, playlist_text([], target, ended=False))
        for old in self.seg_dir.iterdir():
            if old.is_file():
                old.unlink(missing_ok=True)
        self._thread = threading.Thread(target=self._work, name="hls-builder", daemon=True)
        self._thread.start()

    # -- feeding --------------------------------------------------------------------------------

    def __call__(self, event: ProgressEvent) -> None:
        if event.artifact and event.stage in ("audio", "render", "preview"):
            if event.audio:  # the pipeline's scratch folder may go before the segment is made: keep a copy
                keep = self.seg_dir / f".sound-{self.tag}-{event.message.split()[-1]}.wav"
                try:
                    shutil.copyfile(event.audio, keep)
                except OSError:
                    return
                event = event.model_copy(update={"audio": str(keep)})
            self._queue.put(event)

    def finish(self, ended: bool = True) -> list[HlsSegment]:
        """Wait for pending segments; write ``#EXT-X-ENDLIST`` when ``ended`` and every segment is in."""
        self._queue.put(None)
        self._thread.join()
        self._drop_sounds()
        if ended and self.total is not None and len(self.segments) == self.total:
            self._write_playlist(ended=True)
        return list(self.segments)

    def close(self) -> None:
        """Stop without closing the playlist (the job failed or was cancelled)."""
        self._queue.put(None)
        self._thread.join(5)
        self._drop_sounds()

    def _drop_sounds(self) -> None:
        for left in self.seg_dir.glob(".sound-*.wav"):
            left.unlink(missing_ok=True)

    # -- the worker thread ----------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            if self.error is not None:
                continue
            try:
                self._take(event)
            except BaseException as exc:  # a broken preview must never fail the job itself
                self.error = exc

    def _take(self, e: ProgressEvent) -> None:
        assert e.artifact is not None
        if e.stage == "audio":
            self.audio = Path(e.artifact)
        else:
            m = _SEG_MSG.match(e.message)
            if m is None:
                return
            k = int(m.group(1))
            self.total = e.total
            if k >= len(self.segments) and (e.audio or k not in self._ready):  # a preview wins
                self._ready[k] = (Path(e.artifact), e.scene, Path(e.audio) if e.audio else None)
        while len(self.segments) in self._ready:
            k = len(self.segments)
            path, scene, sound = self._ready[k]
            if sound is None and self.audio is None:
                return  # wait for the final mix
            if self.cancel is not None and self.cancel.is_set():
                return
            del self._ready[k]
            self._add(k, path, scene, sound)

    def _add(self, k: int, video: Path, scene: int | None, sound: Path | None) -> None:
        start = self.segments[-1].start + self.segments[-1].duration if self.segments else 0.0
        dur = probe_duration(video)
        name = f"s{self.tag}-{k}.ts"
        out = self.seg_dir / name
        tmp = self.seg_dir / f".{name}.part.ts"
        if sound is not None:  # the segment's own provisional mix: exactly its length
            audio_in = ["-t", f"{dur:.6f}", "-i", str(sound)]
        else:
            assert self.audio is not None
            audio_in = ["-ss", f"{start:.6f}", "-t", f"{dur:.6f}", "-i", str(self.audio)]
        cmd = [
            self.ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
            "-i", str(video), *audio_in,
            "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "160k", "-ar", "48000",
            "-ac", "2", "-output_ts_offset", f"{TS_BASE + start:.6f}", "-muxdelay", "0", "-muxpreload", "0",
            "-f", "mpegts", str(tmp),
        ]  # fmt: skip
        try:
            run(cmd, cancel=self.cancel, what=f"ffmpeg (HLS segment {k})")
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
            if sound is not None:
                sound.unlink(missing_ok=True)
        seg = HlsSegment(index=k, name=name, start=start, duration=dur, scene=scene)
        self.segments.append(seg)
        self._write_playlist(ended=False)
        if scene is not None:
            self._thumbnail(video, dur, scene)
        if self.on_segment is not None:
            self.on_segment(seg, self.total or 0)

    def _thumbnail(self, video: Path, dur: float, scene: int) -> None:
        out = self.thumb_dir / f"{scene}.jpg"
        tmp = self.thumb_dir / f".{scene}.part.jpg"
        try:
            run([self.ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-ss", f"{dur / 2:.3f}",
                 "-i", str(video), "-frames:v", "1", "-vf", "scale=320:-2", "-q:v", "5", str(tmp)],
                cancel=self.cancel, what="ffmpeg (thumbnail)")  # fmt: skip
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)

    def _write_playlist(self, ended: bool) -> None:
        _write_atomic(self.job_dir / PLAYLIST, playlist_text(self.segments, self.target, ended))
