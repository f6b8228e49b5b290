"""Transitions other than the fade through black: each segment renders its own frames (and a few past its end),
ffmpeg's ``xfade`` mixes the overlap, and the whole stays frame-exact, cached per segment, and editable one
segment at a time. Checked on pixels of decoded frames of patterned stills."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from mediatools import probe, top_level_atoms
from PIL import Image, ImageDraw

from reelforge.cache import Cache
from reelforge.compose.ffmpeg import FFmpegComposer, transition_frames
from reelforge.compose.timeline import STYLE_TRANSITIONS, apply_transitions
from reelforge.models import STYLES, TRANSITIONS, Motion, ProgressEvent, Segment, Timeline
from reelforge.tools import find_ffmpeg

W, H, FPS = 320, 180, 20
F = 30  # frames per segment: D = min(0.5 s, F // 3) = 10, so j = 5 is the middle (P = 1/2)
D = 10
RED, GREEN, WHITE = (220, 30, 30), (30, 200, 30), (235, 235, 235)
BLUE, YELLOW, CYAN = (30, 30, 220), (230, 220, 30), (30, 210, 210)


def still(path: Path, left: tuple[int, int, int], right: tuple[int, int, int], centre=None) -> Path:
    """Left half one colour, right half another, and optionally a centre square (40 % of each side)."""
    sw, sh = 368, 208  # the frame at 1.15x, as the pipeline draws stills; shown whole at zoom 1
    im = Image.new("RGB", (sw, sh), left)
    draw = ImageDraw.Draw(im)
    draw.rectangle([sw // 2, 0, sw, sh], fill=right)
    if centre is not None:
        draw.rectangle([int(sw * 0.4), int(sh * 0.4), int(sw * 0.6), int(sh * 0.6)], fill=centre)
    im.save(path)
    return path


@pytest.fixture(scope="module")
def stills(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("transitions")
    return {
        "a": still(d / "a.png", RED, GREEN, centre=WHITE),
        "b": still(d / "b.png", BLUE, YELLOW),
        "c": still(d / "c.png", CYAN, CYAN),
        "b2": still(d / "b2.png", YELLOW, BLUE),
    }


def timeline(images: list[Path], kinds: list[str]) -> Timeline:
    """Segments of F frames with still pictures; boundary k gets ``kinds[k - 1]``."""
    segs = [Segment(kind="scene", index=i, start_frame=i * F, frames=F, image=p, motion=Motion(zoom_to=1.0))
            for i, p in enumerate(images)]  # fmt: skip
    for k, kind in enumerate(kinds, start=1):
        segs[k - 1 : k + 1] = apply_transitions(segs[k - 1 : k + 1], kind, FPS)  # type: ignore[arg-type]
    return Timeline(width=W, height=H, fps=FPS, frames=F * len(segs), title="t", segments=tuple(segs))


def render(
    tl: Timeline, root: Path, cache: Cache | None = None
) -> tuple[list[np.ndarray], list[ProgressEvent]]:
    events: list[ProgressEvent] = []
    out = root / "out.mp4"
    FFmpegComposer({"workers": 2}).execute(tl, out, root / "work", events.append, cache=cache)
    v = probe(out)["video"]
    assert v["frames"] == tl.frames  # frame-exact: the overlaps take no time
    assert (v["codec"], v["pix_fmt"], v["colour"]) == ("h264", "yuv420p", (1, 1, 1))
    atoms = top_level_atoms(out)
    assert atoms.index("moov") < atoms.index("mdat")  # +faststart
    with av.open(str(out)) as c:
        decoded = list(c.decode(video=0))
    frames = [f.to_ndarray(format="rgb24").astype(int) for f in decoded]
    assert len(frames) == tl.frames
    assert all(abs(float(f.time) - n / FPS) < 1e-3 for n, f in enumerate(decoded))  # joined back to back
    return frames, events


def near(px: np.ndarray, rgb: tuple[float, float, float], tol: float = 14) -> bool:
    return bool(np.all(np.abs(px - np.array(rgb)) <= tol))


def mean(a, b, wa: float = 0.5):
    return tuple(x * wa + y * (1 - wa) for x, y in zip(a, b, strict=True))


# sample points away from every edge: the top band (y = 20) is outside A's centre square
LEFT, RIGHT, MID = (20, 40), (20, 280), (H // 2, W // 2)


def px(frame: np.ndarray, at: tuple[int, int]) -> np.ndarray:
    return frame[at[0], at[1]]


@pytest.mark.parametrize("kind", ["crossfade", "slide", "wipe", "zoom"])
def test_each_transition_mixes_the_previous_picture_into_the_next(stills, tmp_path, kind):
    tl = timeline([stills["a"], stills["b"]], [kind])
    assert tl.segments[1].transition == kind and tl.segments[1].transition_frames == D
    assert tl.segments[0].fade_out == 0 and tl.segments[1].fade_in == 0
    assert tl.segments[0].fade_in > 0 and tl.segments[1].fade_out > 0  # the video's own ends still fade
    frames, _ = render(tl, tmp_path)
    # before the boundary, and on its first frame (P = 1): all A, not faded
    for n in (F - 1, F):
        assert near(px(frames[n], LEFT), RED) and near(px(frames[n], RIGHT), GREEN), n
    # after the overlap: all B
    assert near(px(frames[F + D], LEFT), BLUE) and near(px(frames[F + D], RIGHT), YELLOW)
    mid = frames[F + D // 2]  # P = 1/2
    if kind == "crossfade":  # A·P + B·(1 − P)
        assert near(px(mid, LEFT), mean(RED, BLUE)) and near(px(mid, RIGHT), mean(GREEN, YELLOW))
    elif kind == "slide":  # A moved left by W/2 (its right half now on the left), B's left half follows it
        assert near(px(mid, LEFT), GREEN) and near(px(mid, RIGHT), BLUE)
    elif kind == "wipe":  # nothing moves: A left of the edge at x = W/2, B right of it
        assert near(px(mid, LEFT), RED) and near(px(mid, RIGHT), YELLOW)
    else:  # zoom: A zoomed in to its centre pixel fills the frame at P = 1/2, then fades into B
        for at in (LEFT, RIGHT, MID):
            assert near(px(mid, at), WHITE), at
        early = frames[F + 2]  # P = 0.8: A zoomed in by smoothstep(0.5, 1, 0.8) = 0.648: still A's colours
        assert near(px(early, LEFT), RED) and near(px(early, MID), WHITE)
        late = frames[F + 8]  # P = 0.2: smoothstep(0, 0.5, 0.2) = 0.352 of A's centre over B
        assert near(px(late, LEFT), mean(WHITE, BLUE, 0.352)) and near(
            px(late, RIGHT), mean(WHITE, YELLOW, 0.352)
        )


def test_a_segment_between_two_transitions(stills, tmp_path):
    """The middle segment has a head (its first D frames, mixed) and a tail (D frames past its end)."""
    tl = timeline([stills["a"], stills["b"], stills["c"]], ["slide", "wipe"])
    assert [transition_frames(s, tl) for s in tl.segments] == [(0, D), (D, D), (D, 0)]
    frames, events = render(tl, tmp_path)
    assert near(px(frames[F + D // 2], LEFT), GREEN) and near(px(frames[F + D // 2], RIGHT), BLUE)  # slide
    assert near(px(frames[2 * F - 1], LEFT), BLUE) and near(
        px(frames[2 * F - 1], RIGHT), YELLOW
    )  # B to its end
    mid = frames[2 * F + D // 2]  # wipe from B (continued past its end) to C
    assert near(px(mid, LEFT), BLUE) and near(px(mid, RIGHT), CYAN)
    assert near(px(frames[3 * F - F // 2], MID), CYAN)
    # one render event per segment, each with a playable file of exactly that segment's frames
    renders = [e for e in events if e.stage == "render" and e.artifact]
    assert sorted(e.message for e in renders) == ["segment 0", "segment 1", "segment 2"]
    assert renders[-1].done == renders[-1].total == 3
    for e in renders:
        assert probe(Path(e.artifact))["video"]["frames"] == F, e.message  # type: ignore[arg-type]


def test_a_clip_keeps_playing_into_the_transition(stills, tmp_path):
    """The previous segment's clip (0.6 s, looping, shorter than the segment and its tail) is what goes."""
    clip = tmp_path / "clip.mp4"
    subprocess.run([find_ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "color=c=0xDC1EDC:s=640x360:r=30:d=0.6",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip)], check=True)  # fmt: skip
    tl = timeline([stills["a"], stills["b"]], ["crossfade"])
    first = tl.segments[0].model_copy(update={"clip": clip, "layout": "clip"})
    tl = tl.model_copy(update={"segments": (first, tl.segments[1])})
    frames, _ = render(tl, tmp_path)
    magenta = (220, 30, 220)
    assert near(px(frames[F - 1], LEFT), magenta) and near(px(frames[F], RIGHT), magenta)
    assert near(px(frames[F + D // 2], LEFT), mean(magenta, BLUE))
    assert near(px(frames[F + D // 2], RIGHT), mean(magenta, YELLOW))


def test_fade_is_the_fade_through_black_as_before(stills, tmp_path):
    tl = timeline([stills["a"], stills["b"]], ["fade"])
    assert all(s.transition == "fade" and s.fade_in > 0 and s.fade_out > 0 for s in tl.segments)
    assert [transition_frames(s, tl) for s in tl.segments] == [(0, 0), (0, 0)]
    cache = Cache(tmp_path / "cache")
    frames, events = render(tl, tmp_path, cache)
    assert frames[F - 1].mean() < 40 and frames[F].mean() < 10  # out to black, in from black
    assert near(px(frames[F // 2], LEFT), RED) and near(px(frames[F + F // 2], RIGHT), YELLOW)
    assert "transition" not in cache.stats()
    arts = [Path(e.artifact) for e in events if e.stage == "render" and e.artifact]
    assert sorted(p.name for p in arts) == ["seg.mp4", "seg.mp4"]
    assert all(sorted(q.name for q in p.parent.iterdir()) == [".complete", "seg.mp4"] for p in arts)


def made(cache: Cache) -> dict[str, dict[str, int]]:
    return {k: v for k, v in cache.stats().items() if k in ("segment", "transition")}


def test_editing_the_second_segment_renders_only_it_and_its_transition(stills, tmp_path):
    cache = Cache(tmp_path / "cache")
    tl = timeline([stills["a"], stills["b"]], ["crossfade"])
    render(tl, tmp_path / "one", cache)
    assert made(cache) == {"segment": {"hits": 0, "misses": 2}, "transition": {"hits": 0, "misses": 1}}
    edited = timeline([stills["a"], stills["b2"]], ["crossfade"])
    cache2 = Cache(tmp_path / "cache")
    frames, events = render(edited, tmp_path / "two", cache2)
    assert made(cache2) == {"segment": {"hits": 1, "misses": 1}, "transition": {"hits": 0, "misses": 1}}
    cached = {e.message: e.cached for e in events if e.stage == "render" and e.artifact}
    assert cached == {"segment 0": True, "segment 1": False}
    assert near(px(frames[F + D // 2], LEFT), mean(RED, YELLOW))  # the new picture, in the transition too
    assert near(px(frames[F + D], LEFT), YELLOW)
    # the same again: nothing is made
    cache3 = Cache(tmp_path / "cache")
    render(edited, tmp_path / "three", cache3)
    assert made(cache3) == {"segment": {"hits": 2, "misses": 0}, "transition": {"hits": 1, "misses": 0}}


def test_the_overlap_is_part_of_both_segments_keys(stills, tmp_path):
    """A shorter transition makes a different head, body and tail: both segments are made again."""
    tl = timeline([stills["a"], stills["b"]], ["wipe"])
    render(tl, tmp_path / "one", Cache(tmp_path / "cache"))
    short = tl.model_copy(
        update={"segments": (tl.segments[0], tl.segments[1].model_copy(update={"transition_frames": 4}))}
    )
    cache = Cache(tmp_path / "cache")
    frames, _ = render(short, tmp_path / "two", cache)
    assert made(cache) == {"segment": {"hits": 0, "misses": 2}, "transition": {"hits": 0, "misses": 1}}
    assert near(px(frames[F + 2], LEFT), RED) and near(px(frames[F + 2], RIGHT), YELLOW)  # P = 1/2
    assert near(px(frames[F + 4], LEFT), BLUE)


def test_auto_picks_by_style_and_short_segments_keep_the_fade(stills):
    assert set(STYLE_TRANSITIONS) == set(STYLES) and set(STYLE_TRANSITIONS.values()) <= set(TRANSITIONS)
    assert len(set(STYLE_TRANSITIONS.values())) == 4  # every overlapping kind is some style's
    segs = [Segment(kind="scene", index=i, start_frame=0, frames=n, image=stills["a"])
            for i, n in enumerate((90, 21, 5))]  # fmt: skip
    out = apply_transitions(segs, "wipe", 30)
    # D = 15 frames (0.5 s) at most, at most a third of either side; under 2 frames the fade stays
    assert [(s.transition, s.transition_frames) for s in out] == [("fade", 0), ("wipe", 7), ("fade", 0)]
    assert [(s.fade_in, s.fade_out) for s in out] == [(0.25, 0.0), (0.0, 0.25), (0.25, 0.25)]
    assert apply_transitions(segs, "fade", 30) == segs
