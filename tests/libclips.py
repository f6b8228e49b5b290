"""Helpers for the clip-library tests: small generated footage, coloured and moving (temporal noise)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from reelforge.tools import find_ffmpeg

# (relative path, colour, seconds, sidecar caption or None)
CLIPS = {
    "fire": (
        "CampFire.mp4",
        (220, 40, 20),
        2.0,
        {"caption": "a campfire burning at night", "tags": ["fire", "flames"]},
    ),
    "ocean": ("nature/ocean_waves.mp4", (30, 60, 220), 2.0, "blue ocean waves crashing on the rocky shore"),
    "forest": ("nature/green-forest-trees.mp4", (30, 150, 40), 1.5, None),
}


def ffmpeg(*args: str) -> None:
    subprocess.run([find_ffmpeg(), "-v", "error", "-y", *args], check=True)


def make_clip(path: Path, rgb: tuple[int, int, int], seconds: float, *, size: str = "160x90", fps: int = 25,
              extra: tuple[str, ...] = ()) -> Path:  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = "0x{:02X}{:02X}{:02X}".format(*rgb)
    ffmpeg("-f", "lavfi", "-i", f"color=c={colour}:s={size}:r={fps}:d={seconds},noise=alls=16:allf=t",
           *extra, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))  # fmt: skip
    return path


def make_two_shot(path: Path, a: tuple[int, int, int], b: tuple[int, int, int], each: float = 1.5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ca, cb = ("0x{:02X}{:02X}{:02X}".format(*c) for c in (a, b))
    graph = (f"color=c={ca}:s=160x90:r=25:d={each},noise=alls=16:allf=t[a];"
             f"color=c={cb}:s=160x90:r=25:d={each},noise=alls=16:allf=t[b];[a][b]concat=n=2:v=1")  # fmt: skip
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        graph,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        str(path),
    )
    return path


def write_caption(clip: Path, caption: object) -> None:
    if caption is None:
        return
    if isinstance(caption, dict):
        clip.with_suffix(".json").write_text(json.dumps(caption), encoding="utf-8")
    else:
        clip.with_suffix(".txt").write_text(str(caption), encoding="utf-8")
