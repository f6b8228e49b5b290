"""Probe a media file with PyAV (libavformat) and decide whether it can join a clip library.

Every rejection has a plain reason; the caller reports it and carries on with the other files.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

#: file extensions a library indexes (lower case, with the dot), and the container families they imply
VIDEO_EXTENSIONS: dict[str, tuple[str, ...]] = {
    ".mp4": ("mov", "mp4", "m4a", "3gp"),
    ".m4v": ("mov", "mp4", "m4a", "3gp"),
    ".mov": ("mov", "mp4", "m4a", "3gp"),
    ".mkv": ("matroska", "webm"),
    ".webm": ("matroska", "webm"),
    ".avi": ("avi",),
    ".mpg": ("mpeg", "mpegvideo"),
    ".mpeg": ("mpeg", "mpegvideo"),
    ".mts": ("mpegts",),
    ".m2ts": ("mpegts",),
    ".wmv": ("asf",),
    ".flv": ("flv",),
    ".ogv": ("ogg",),
}
MAX_WIDTH, MAX_HEIGHT = 7680, 4320  # 8K UHD
MIN_FPS, MAX_FPS = 4.0, 240.0
MIN_DURATION = 0.2  # seconds
MAX_DURATION = 6 * 3600.0


class Rejected(Exception):
    """A file that cannot join the library, with the reason in plain words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class ProbeInfo:
    path: Path
    size: int
    format: str
    codec: str
    width: int
    height: int
    fps: float
    duration: float
    rotation: int = 0

    @property
    def aspect(self) -> float:
        return self.width / self.height if self.height else 1.0


def is_video_name(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def probe(path: Path) -> ProbeInfo:
    """Open ``path`` and check it is a usable video; raises ``Rejected`` with the reason otherwise."""
    info, container = probe_open(path)
    container.close()
    return info


def probe_open(path: Path) -> tuple[ProbeInfo, Any]:
    """``probe``, keeping the file open: ``(info, container)``; the caller closes the container (opening a
    file costs as much as decoding a frame or two: libavformat reads and decodes its start)."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in VIDEO_EXTENSIONS:
        raise Rejected(
            f"'{ext or '(none)'}' is not a video file extension ({', '.join(sorted(VIDEO_EXTENSIONS))})"
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise Rejected(f"cannot read the file: {exc.strerror}") from None
    if size == 0:
        raise Rejected("the file is empty (0 bytes)")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise Rejected(f"not a readable media file ({_short(exc)})") from None
    ok = False
    try:
        fmt_names = tuple(container.format.name.split(","))
        videos = [
            s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)
        ]
        if not videos:
            kinds = sorted({s.type for s in container.streams})
            what = (
                "audio only"
                if "audio" in kinds
                else ("no streams" if not kinds else "/".join(kinds) + " only")
            )
            raise Rejected(f"no video stream ({what})")
        stream = videos[0]
        if fmt_names[0] in ("image2", "png_pipe", "jpeg_pipe", "gif", "webp_pipe") or (
            stream.codec_context.name
            in (
                "png",
                "mjpeg",
            )
            and (stream.frames or 0) <= 1
        ):
            raise Rejected(f"a still image ({fmt_names[0]}), not a video")
        if not set(fmt_names) & set(VIDEO_EXTENSIONS[ext]):
            raise Rejected(
                f"wrong extension: the contents are {container.format.long_name or fmt_names[0]}, not '{ext}'"
            )
        cc = stream.codec_context
        width, height = int(cc.width or 0), int(cc.height or 0)
        if width <= 0 or height <= 0:
            raise Rejected("the video stream has no picture size (corrupt header)")
        if max(width, height) > MAX_WIDTH or min(width, height) > MAX_HEIGHT:
            raise Rejected(f"resolution {width}x{height} is larger than 8K ({MAX_WIDTH}x{MAX_HEIGHT})")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        if not math.isfinite(fps) or not (MIN_FPS <= fps <= MAX_FPS):
            raise Rejected(f"frame rate {fps:g} fps is outside {MIN_FPS:g}-{MAX_FPS:g} fps")
        duration = 0.0
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1e6
        elif stream.frames:
            duration = stream.frames / fps
        if not math.isfinite(duration) or duration < MIN_DURATION:
            raise Rejected(f"too short or unknown duration ({duration:.2f} s)")
        if duration > MAX_DURATION:
            raise Rejected(f"longer than {MAX_DURATION / 3600:g} hours ({duration / 3600:.1f} h)")
        info = ProbeInfo(path=path, size=size, format=fmt_names[0], codec=cc.name, width=width, height=height,
                         fps=fps, duration=duration)  # fmt: skip
        ok = True
        return info, container
    finally:
        if not ok:
            container.close()


def _short(exc: BaseException) -> str:
    """``[Errno 1094995529] Invalid data found when processing input: '/x.mp4'`` -> the middle part."""
    text = str(getattr(exc, "strerror", None) or exc).strip() or type(exc).__name__
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text)
    return text.split(": '")[0][:160]
