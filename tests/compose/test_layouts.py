"""Each clip layout renders what it promises: checked on pixel values of solid-colour inputs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from mediatools import frame_at, probe
from PIL import Image

from reelforge.compose.ffmpeg import FFmpegComposer
from reelforge.models import Motion, Segment, Timeline
from reelforge.tools import find_ffmpeg

W, H, FPS = 320, 180, 25


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("layouts")
    still = d / "red.png"
    Image.new("RGB", (368, 208), (220, 20, 20)).save(still)
    clip = d / "blue.mp4"
    subprocess.run(
        [
            find_ffmpeg(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=0x1414DC:s=640x360:r=30:d=0.6",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(clip),
        ],
        check=True,
    )
    return d, still, clip


def render(inputs, layout: str) -> np.ndarray:
    d, still, clip = inputs
    seg = Segment(
        kind="scene",
        index=0,
        start_frame=0,
        frames=FPS,
        image=still,
        motion=Motion(zoom_to=1.0),
        fade_in=0,
        fade_out=0,
        clip=clip,
        layout=layout,
    )
    tl = Timeline(width=W, height=H, fps=FPS, frames=FPS, title="t", segments=(seg,))
    out = d / layout
    out.mkdir(exist_ok=True)
    comp = FFmpegComposer()
    path = comp.render_segment(seg, tl, out, comp._font_dir(d))
    v = probe(path)["video"]
    assert (v["width"], v["height"], v["frames"]) == (W, H, FPS)  # a 0.6 s clip loops to fill 1 s
    return frame_at(path, 0.9).astype(int)


def near(px, rgb, tol=30):
    return all(abs(int(a) - b) <= tol for a, b in zip(px, rgb, strict=True))


def test_clip_fills_frame(inputs):
    f = render(inputs, "clip")
    assert near(f[H // 2, W // 2], (20, 20, 220))


def test_blend_is_half_still_half_clip(inputs):
    f = render(inputs, "blend")
    assert near(f[H // 2, W // 2], (120, 20, 120))


def test_pip_insets_clip_top_right(inputs):
    f = render(inputs, "pip")
    assert near(f[H // 6, W - W // 6], (20, 20, 220))
    assert near(f[H - 20, 20], (220, 20, 20))


def test_split_is_side_by_side(inputs):
    f = render(inputs, "split")
    assert near(f[H // 2, W // 4], (220, 20, 20))
    assert near(f[H // 2, 3 * W // 4], (20, 20, 220))


def test_still_layout_ignores_clip(inputs):
    f = render(inputs, "still")
    assert near(f[H // 2, W // 2], (220, 20, 20))


def test_missing_clip_is_a_clear_error(inputs, tmp_path: Path):
    d, still, _ = inputs
    seg = Segment(
        kind="scene",
        index=0,
        start_frame=0,
        frames=10,
        image=still,
        clip=tmp_path / "nope.mp4",
        layout="clip",
    )
    tl = Timeline(width=W, height=H, fps=FPS, frames=10, title="t", segments=(seg,))
    comp = FFmpegComposer()
    from reelforge.errors import ComposeError

    with pytest.raises(ComposeError, match="segment 1"):
        comp.render_segment(seg, tl, tmp_path, comp._font_dir(d))


def test_ken_burns_pans_across_the_still(tmp_path: Path):
    from PIL import ImageDraw

    still = tmp_path / "corners.png"
    im = Image.new("RGB", (368, 208), (128, 128, 128))
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, 60, 40], fill=(230, 20, 20))
    d.rectangle([307, 167, 367, 207], fill=(20, 20, 230))
    im.save(still)
    seg = Segment(
        kind="scene",
        index=0,
        start_frame=0,
        frames=FPS,
        image=still,
        fade_in=0,
        fade_out=0,
        motion=Motion(zoom_from=1.3, zoom_to=1.3, pan_from=(0.0, 0.0), pan_to=(1.0, 1.0)),
    )
    tl = Timeline(width=W, height=H, fps=FPS, frames=FPS, title="t", segments=(seg,))
    comp = FFmpegComposer()
    path = comp.render_segment(seg, tl, tmp_path, comp._font_dir(tmp_path))
    first, last = frame_at(path, 0.0).astype(int), frame_at(path, (FPS - 1) / FPS).astype(int)
    assert near(first[5, 5], (230, 20, 20)) and not near(first[H - 5, W - 5], (20, 20, 230))
    assert near(last[H - 5, W - 5], (20, 20, 230)) and not near(last[5, 5], (230, 20, 20))


def test_fades_are_frame_exact(inputs, tmp_path: Path):
    _, still, _ = inputs
    seg = Segment(
        kind="scene",
        index=0,
        start_frame=0,
        frames=FPS,
        image=still,
        motion=Motion(zoom_to=1.0),
        fade_in=0.2,
        fade_out=0.2,
    )
    tl = Timeline(width=W, height=H, fps=FPS, frames=FPS, title="t", segments=(seg,))
    comp = FFmpegComposer()
    path = comp.render_segment(seg, tl, tmp_path, comp._font_dir(tmp_path))
    import av

    with av.open(str(path)) as c:
        means = [f.to_ndarray(format="rgb24")[:, :, 0].mean() for f in c.decode(video=0)]
    assert means[0] < 25  # frame 0 is black
    assert means[1] > means[0] + 20  # frame 1 already fades in: t = 1/fps exactly
    assert means[FPS // 2] > 200
