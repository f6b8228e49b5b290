"""Helpers for tests: probe media with libavformat (PyAV = ffprobe's libraries), loudness via ffmpeg's
``ebur128``, top-level MP4 atom order, frame extraction to numpy."""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path
from typing import Any

import av
import numpy as np

from reelforge.tools import find_ffmpeg


def probe(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as c:
        info: dict[str, Any] = {"duration": c.duration / 1e6 if c.duration else None, "format": c.format.name}
        for s in c.streams:
            cc = s.codec_context
            if s.type == "video":
                info["video"] = {
                    "codec": cc.name,
                    "profile": cc.profile,
                    "pix_fmt": cc.pix_fmt,
                    # matrix, primaries, transfer (AVCOL_* numbers: 1 = BT.709, 2 = unspecified)
                    "colour": (int(cc.colorspace), int(cc.color_primaries), int(cc.color_trc)),
                    "width": cc.width,
                    "height": cc.height,
                    "fps": float(s.average_rate) if s.average_rate else None,
                    "frames": s.frames,
                    "duration": float(s.duration * s.time_base) if s.duration else None,
                }
            elif s.type == "audio":
                info["audio"] = {
                    "codec": cc.name,
                    "sample_rate": cc.sample_rate,
                    "channels": cc.channels,
                    "duration": float(s.duration * s.time_base) if s.duration else None,
                }
        info["metadata"] = dict(c.metadata)
    return info


def top_level_atoms(path: Path) -> list[str]:
    atoms = []
    with open(path, "rb") as f:
        while True:
            head = f.read(8)
            if len(head) < 8:
                break
            size, kind = struct.unpack(">I4s", head)
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
                f.seek(size - 16, 1)
            elif size == 0:
                atoms.append(kind.decode("latin-1"))
                break
            else:
                f.seek(size - 8, 1)
            atoms.append(kind.decode("latin-1"))
    return atoms


def loudness(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) by ffmpeg's ebur128 filter."""
    ff = find_ffmpeg()
    r = subprocess.run(
        [
            ff,
            "-hide_banner",
            "-nostdin",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-af",
            "ebur128=peak=true:framelog=quiet",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = r.stderr[r.stderr.rfind("Summary:") :]
    i = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))  # type: ignore[union-attr]
    tp = float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1))  # type: ignore[union-attr]
    return i, tp


def frame_at(path: Path, t: float) -> np.ndarray:
    """RGB frame nearest to time ``t`` (decoded, not seeked by keyframe only)."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        best = None
        for frame in c.decode(s):
            ft = float(frame.pts * s.time_base)
            if ft >= t - 1e-6:
                return frame.to_ndarray(format="rgb24")
            best = frame
        assert best is not None
        return best.to_ndarray(format="rgb24")


def audio_samples(path: Path, rate: int = 16000) -> np.ndarray:
    """Decode the first audio stream to mono float32 at ``rate``."""
    ff = find_ffmpeg()
    r = subprocess.run(
        [
            ff,
            "-hide_banner",
            "-nostdin",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-ac",
            "1",
            "-ar",
            str(rate),
            "-f",
            "f32le",
            "-",
        ],
        capture_output=True,
        check=True,
    )
    return np.frombuffer(r.stdout, dtype="<f4")
