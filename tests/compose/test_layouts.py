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


def _solid_clip(path: Path, size: str, *vf: str, tags: tuple[str, ...] = ()) -> Path:
    """A 0.4 s clip of RGB (200, 60, 40), converted to YUV by ``vf`` (tags stripped unless given)."""
    subprocess.run(
        [find_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c=0xC83C28:s={size}:r=25:d=0.4",
         "-vf", ",".join([*vf, "format=yuv420p"]), "-c:v", "libx264", "-bsf:v",
         "h264_metadata=" + (":".join(tags) or "matrix_coefficients=2:colour_primaries=2:transfer_characteristics=2"),
         str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_clip_matrix_reads_tags_and_guesses_untagged_by_height(tmp_path: Path):
    from reelforge.compose.ffmpeg import clip_matrix

    sd = _solid_clip(tmp_path / "sd.mp4", "320x180", "scale=out_color_matrix=bt601")
    hd = _solid_clip(tmp_path / "hd.mp4", "1280x720", "scale=out_color_matrix=bt709")
    tagged = _solid_clip(tmp_path / "tagged.mp4", "320x180", "scale=out_color_matrix=bt709",
                         tags=("matrix_coefficients=1",))  # fmt: skip
    tagged601 = _solid_clip(tmp_path / "t601.mp4", "1280x720", "scale=out_color_matrix=bt601",
                            tags=("matrix_coefficients=6",))  # fmt: skip
    bt2020 = _solid_clip(tmp_path / "t2020.mp4", "320x180", "scale=out_color_matrix=bt2020",
                         tags=("matrix_coefficients=9",))  # fmt: skip
    assert [clip_matrix(c) for c in (sd, hd, tagged, tagged601, bt2020)] == [
        "bt601",
        "bt709",
        "bt709",
        "bt601",
        "auto",
    ]
    assert clip_matrix(tmp_path / "missing.mp4") == "auto"


@pytest.mark.parametrize(
    "size,conv,tag",
    [("1280x720", "bt709", ""), ("320x180", "bt601", ""), ("1280x720", "bt601", "matrix_coefficients=6"),
     ("320x180", "bt2020", "matrix_coefficients=9")],
)  # fmt: skip
def test_clips_keep_their_colour(tmp_path: Path, size: str, conv: str, tag: str):
    """Untagged HD is BT.709 and untagged SD BT.601; tagged clips are read by their tag. A saturated colour
    survives the render (reading HD as BT.601 shifts this red by about 20 levels in green)."""
    still = tmp_path / "s.png"
    Image.new("RGB", (368, 208), (0, 0, 0)).save(still)
    clip = _solid_clip(tmp_path / "c.mp4", size, f"scale=out_color_matrix={conv}", tags=(tag,) if tag else ())
    seg = Segment(kind="scene", index=0, start_frame=0, frames=10, image=still, motion=Motion(zoom_to=1.0),
                  fade_in=0, fade_out=0, clip=clip, layout="clip")  # fmt: skip
    tl = Timeline(width=W, height=H, fps=FPS, frames=10, title="t", segments=(seg,))
    comp = FFmpegComposer()
    path = comp.render_segment(seg, tl, tmp_path, comp._font_dir(tmp_path))
    assert near(frame_at(path, 0.2)[H // 2, W // 2], (200, 60, 40), tol=8)


def test_non_square_pixels_keep_the_clips_shape(tmp_path: Path):
    """A 4:3 picture stored 1.5x wide with SAR 2:3 (anamorphic) covers a 16:9 cell by its display shape:
    a centred circle stays round."""
    clip = tmp_path / "anamorphic.mp4"
    subprocess.run(
        [find_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=240x180:r=25:d=0.4",
         "-vf", "geq=lum='if(lt(hypot(X-120,Y-90),60),235,16)':cb=128:cr=128,scale=360:180,setsar=2/3,"
         "format=yuv420p", "-c:v", "libx264", str(clip)],
        check=True,
    )  # fmt: skip
    still = tmp_path / "s.png"
    Image.new("RGB", (368, 208), (0, 0, 0)).save(still)
    seg = Segment(kind="scene", index=0, start_frame=0, frames=10, image=still, motion=Motion(zoom_to=1.0),
                  fade_in=0, fade_out=0, clip=clip, layout="clip")  # fmt: skip
    tl = Timeline(width=W, height=H, fps=FPS, frames=10, title="t", segments=(seg,))
    comp = FFmpegComposer()
    f = frame_at(comp.render_segment(seg, tl, tmp_path, comp._font_dir(tmp_path)), 0.2)[:, :, 0] > 128
    rows, cols = np.nonzero(f)
    width, height = cols.max() - cols.min() + 1, rows.max() - rows.min() + 1
    assert abs(width / height - 1) < 0.08  # round, not 1.5x wide
