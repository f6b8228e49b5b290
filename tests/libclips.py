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


#: real photographs that ship inside PyPI wheels (dev dependencies; nothing is downloaded): the package and
#: the folder in it
PHOTO_DIRS = (("skimage", "data"), ("sklearn", "datasets/images"))


def photo(name: str) -> Path:
    """A real photograph from scikit-image (``skimage/data``) or scikit-learn (``sklearn/datasets/images``)."""
    import importlib.util

    for package, folder in PHOTO_DIRS:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            f = Path(next(iter(spec.submodule_search_locations))) / folder / name
            if f.is_file():
                return f
    raise FileNotFoundError(
        f"{name}: not in scikit-image or scikit-learn (dev dependencies: pip install -e '.[dev]')"
    )


def make_photo_clip(path: Path, image: Path, *, seconds: float = 2.0, fps: int = 12, size: str = "320x240",
                    zoom: float = 0.12, crf: int = 23) -> Path:  # fmt: skip
    """A slow zoom into a photograph (cropped to the clip's aspect), like a handheld shot of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = (int(x) for x in size.split("x"))
    n = max(2, round(seconds * fps))
    graph = (f"scale={2 * w}:{2 * h}:force_original_aspect_ratio=increase,crop={2 * w}:{2 * h},"
             f"zoompan=z='1+{zoom}*on/{n}':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d={n}:s={w}x{h}:fps={fps},"
             "format=yuv420p")  # fmt: skip
    ffmpeg("-i", str(image), "-vf", graph, "-frames:v", str(n), "-c:v", "libx264", "-preset", "ultrafast",
           "-crf", str(crf), str(path))  # fmt: skip
    return path
