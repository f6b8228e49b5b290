"""Keyframed layers: the maths, the ffmpeg graph that draws them, and elements that come in on their words."""

from __future__ import annotations

import math
import re
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from reelforge.compose.animate import ANTICIPATE, Word, cue_time, entry_times, timeline_layers
from reelforge.compose.ffmpeg import FFmpegComposer
from reelforge.compose.layers import ease, layer_state, opacity_ramps, property_expr, visible_span
from reelforge.models import Keyframe, Layer, SceneVisual, Segment, SpriteLayer, Timeline

W, H, FPS = 320, 180, 30
BG = (40, 60, 90)


# ---- the maths ----------------------------------------------------------------------------------


def ffmpeg_eval(expr: str, t: float) -> float:
    """Evaluate the subset of ffmpeg's expression language that ``property_expr`` writes."""
    py = re.sub(r"\bif\(", "_if(", expr)
    env = {
        "_if": lambda c, a, b: a if c else b,
        "lt": lambda a, b: float(a < b),
        "gte": lambda a, b: float(a >= b),
        "pow": math.pow,
        "floor": math.floor,
        "max": max,
        "t": t,
    }
    return float(eval(py, {"__builtins__": {}}, env))


KEYS = (
    Keyframe(t=0.5, x=100, y=50, scale=0.5, opacity=0, ease="out"),
    Keyframe(t=1.0, x=160, y=50, scale=1.0, opacity=1, ease="inout"),
    Keyframe(t=2.0, x=160, y=120, scale=1.2, opacity=1, ease="in"),
    Keyframe(t=3.0, x=200, y=120, scale=1.2, opacity=1),
)


@pytest.mark.parametrize("prop", ["x", "y", "scale"])
def test_the_ffmpeg_expression_is_the_documented_maths(prop: str) -> None:
    layer = Layer(image=Path("x.png"), width=40, height=20, keyframes=KEYS)
    expr = property_expr(KEYS, prop)
    for t in np.linspace(0, 3.5, 71):
        state = layer_state(layer, float(t))
        got = ffmpeg_eval(expr, float(t))
        if prop == "scale":
            assert 2 * math.floor(40 * got / 2) == state.width, t
        else:
            size = state.width if prop == "x" else state.height
            corner = state.x0 if prop == "x" else state.y0
            assert (int(got - size / 2) & ~1) == corner, (t, got)


def test_eases_and_holds() -> None:
    assert ease("linear", 0.5) == 0.5
    assert ease("out", 0.5) == pytest.approx(0.875)
    assert ease("in", 0.5) == pytest.approx(0.125)
    assert ease("inout", 0.5) == pytest.approx(0.5) and ease("inout", 0.25) == pytest.approx(0.15625)
    layer = Layer(image=Path("x.png"), width=40, height=20, keyframes=KEYS)
    assert layer_state(layer, 0.0).x0 == layer_state(layer, 0.5).x0  # held before the first keyframe
    assert layer_state(layer, 9.0).x0 == layer_state(layer, 3.0).x0  # and after the last
    # x at t=0.75 with the "out" ease: 100 + 60 * 0.875 = 152.5; scale 0.5 + 0.5 * 0.875
    s = layer_state(layer, 0.75)
    assert s.width == 2 * math.floor(40 * 0.9375 / 2) and s.x0 == int(152.5 - s.width / 2) & ~1
    assert s.opacity == pytest.approx(0.5)  # opacity ramps linearly whatever the ease


def test_opacity_is_shown_once() -> None:
    up_down = (
        Keyframe(t=0, x=0, y=0, opacity=0),
        Keyframe(t=1, x=0, y=0),
        Keyframe(t=2, x=0, y=0, opacity=0),
    )
    assert visible_span(up_down, 30) == (0.0, 2.0)
    assert opacity_ramps(up_down, 30)[1][1].up is False
    with pytest.raises(ValueError, match="shown at most once"):
        Layer(image=Path("x.png"), width=4, height=4,
              keyframes=(*up_down, Keyframe(t=3, x=0, y=0)))  # fmt: skip
    with pytest.raises(ValueError, match="0 \\(hidden\\) or 1"):
        Keyframe(t=0, x=0, y=0, opacity=0.5)
    with pytest.raises(ValueError, match="scale or its reveal"):
        Layer(image=Path("x.png"), width=4, height=4,
              keyframes=(Keyframe(t=0, x=0, y=0, scale=0.5, reveal=0), Keyframe(t=1, x=0, y=0)))  # fmt: skip
    hidden = (Keyframe(t=0, x=0, y=0, opacity=0),)
    assert visible_span(hidden, 30) is None


# ---- rendering ----------------------------------------------------------------------------------


def solid(path: Path, size: tuple[int, int], rgb: tuple[int, int, int]) -> Path:
    Image.new("RGBA", size, (*rgb, 255)).save(path)
    return path


def render(tmp_path: Path, layers: tuple[Layer, ...], frames: int = 60) -> list[np.ndarray]:
    still = tmp_path / "still.png"
    Image.new("RGB", (368, 208), BG).save(still)
    seg = Segment(kind="scene", index=0, start_frame=0, frames=frames, image=still, fade_in=0, fade_out=0,
                  layers=layers)  # fmt: skip
    tl = Timeline(width=W, height=H, fps=FPS, frames=frames, title="t", segments=(seg,))
    composer = FFmpegComposer()
    out = tmp_path / "seg"
    out.mkdir()
    composer.render_segment(seg, tl, out, composer._font_dir(tmp_path))
    with av.open(str(out / "seg.mp4")) as c:
        return [f.to_ndarray(format="rgb24").astype(int) for f in c.decode(video=0)]


def near(px: np.ndarray, rgb: tuple[int, int, int], tol: int = 24) -> bool:
    return bool(np.abs(px - np.array(rgb)).max() <= tol)


def test_layers_are_drawn_where_and_when_the_maths_says(tmp_path: Path) -> None:
    red = solid(tmp_path / "red.png", (40, 24), (250, 20, 20))
    pop = Layer(image=red, width=40, height=24, keyframes=(
        Keyframe(t=0.5, x=60, y=40, scale=0.5, opacity=0, ease="out"), Keyframe(t=0.8, x=60, y=40)))  # fmt: skip
    green = solid(tmp_path / "green.png", (60, 20), (20, 230, 20))
    draw = Layer(image=green, width=60, height=20, reveal_axis="x", keyframes=(
        Keyframe(t=0.2, x=200, y=40, reveal=0), Keyframe(t=1.2, x=200, y=40, reveal=1)))  # fmt: skip
    digits = [solid(tmp_path / f"d{k}.png", (30, 30), (20, 20, 60 + 60 * k)) for k in range(4)]
    count = Layer(image=digits[-1], width=30, height=30, frames=tuple(digits), frame_times=(0.0, 0.5, 1.0, 1.5),
                  keyframes=(Keyframe(t=0, x=160, y=130),))  # fmt: skip
    rise = Layer(image=red, width=40, height=24, keyframes=(
        Keyframe(t=1.0, x=260, y=150, opacity=0, ease="out"), Keyframe(t=1.4, x=260, y=130)))  # fmt: skip
    frames = render(tmp_path, (pop, draw, count, rise))
    assert len(frames) == 60
    # the pop: nothing before 0.5 s, half-way in (scale and opacity) at 0.65 s, whole from 0.8 s
    assert near(frames[14][40, 60], BG)
    assert near(frames[30][40, 60], (250, 20, 20))
    s = layer_state(pop, 19 / FPS)  # mid-pop: a smaller, fainter box than the full 40 px
    assert s.width < 40 and 0 < s.opacity < 1
    px = frames[19][40, 60]
    assert not near(px, BG) and not near(px, (250, 20, 20))  # blended
    assert near(frames[30][40, 60 + 18], (250, 20, 20)) and near(frames[19][40, 60 + 18], BG)
    # the reveal: the left part first, the right end only at the end
    left, right = 200 - 30 + 4, 200 + 30 - 4
    t10 = layer_state(draw, 10 / FPS)
    assert 0 < t10.shown < 60
    assert near(frames[10][40, left], (20, 230, 20)) and near(frames[10][40, right], BG)
    assert near(frames[40][40, right], (20, 230, 20))
    # the counter: the k-th image from its time on
    for n, k in ((5, 0), (20, 1), (35, 2), (50, 3)):
        assert near(frames[n][130, 160], (20, 20, 60 + 60 * k), 30), (n, frames[n][130, 160])
    # the rise: it comes up from below into place
    assert near(frames[45][130, 260], (250, 20, 20)) and near(frames[25][130, 260], BG)


def test_elements_come_in_on_the_words_that_name_them(tmp_path: Path) -> None:
    """A scene says "apples" at 1.0 s and "bananas" at 2.0 s: each element appears then, not before."""
    solid(tmp_path / "a.png", (40, 40), (250, 20, 20))
    solid(tmp_path / "b.png", (40, 40), (20, 20, 250))
    Image.new("RGB", (368, 208), BG).save(tmp_path / "image.png")
    visual = SceneVisual(index=0, path=tmp_path / "image.png", width=368, height=208, layers=(
        SpriteLayer(file="a.png", x=0.25, y=0.4, width=40, height=40, cue="Apples", order=0, enter="pop"),
        SpriteLayer(file="b.png", x=0.75, y=0.4, width=40, height=40, cue="Bananas", order=1, enter="pop"),
    ))  # fmt: skip
    words = [Word("We", 0.4), Word("love", 0.6), Word("apples", 1.0), Word("and", 1.6), Word("bananas.", 2.0)]
    layers = timeline_layers(visual, words, 3.0, W, H, lead=0.35)
    # the first element is there from the start (never an empty frame); the second comes on its word
    assert layers[0].keyframes[0].t == pytest.approx(0.35)
    assert layers[1].keyframes[0].t == pytest.approx(2.0 - ANTICIPATE)
    frames = render(tmp_path, layers, frames=90)
    x_b = round(0.75 * W)
    enter_b = round((2.0 - ANTICIPATE) * FPS)
    assert near(frames[enter_b - 2][72, x_b], BG)
    assert near(frames[enter_b + 14][72, x_b], (20, 20, 250))
    assert near(frames[30][72, round(0.25 * W)], (250, 20, 20))


def test_cues_find_their_words() -> None:
    words = [Word("Solar", 0.1), Word("panels", 0.4), Word("turn", 0.8), Word("sunlight", 1.0),
             Word("into", 1.5), Word("electricity.", 1.7)]  # fmt: skip
    assert cue_time("sunlight", words) == 1.0
    assert cue_time("Solar panels", words) == 0.4  # the head noun first
    assert cue_time("electricity", words) == 1.7  # punctuation on the spoken word
    assert cue_time("Panel", words) == 0.4  # singular/plural
    assert cue_time("batteries", words) is None
    assert cue_time(None, words) is None
    layers = [SpriteLayer(file="a", x=0, y=0, width=2, height=2, cue=c, order=k, enter="pop")
              for k, c in enumerate(["sunlight", "missing", "electricity"])]  # fmt: skip
    times = entry_times(layers, words, duration=4.0, lead=0.35)
    assert times[0] == pytest.approx(0.35)  # the first element comes at once
    assert times[2] == pytest.approx(1.7 - ANTICIPATE)
    assert 0.35 < times[1] < 4.0 - 0.8  # not named: at its turn, never in the last moments


def test_a_constant_partial_reveal_draws_part_of_the_image(tmp_path: Path) -> None:
    green = solid(tmp_path / "green.png", (60, 20), (20, 230, 20))
    half = Layer(image=green, width=60, height=20, keyframes=(Keyframe(t=0, x=200, y=40, reveal=0.5),))
    frames = render(tmp_path, (half,), frames=10)
    assert near(frames[5][40, 200 - 30 + 4], (20, 230, 20)) and near(frames[5][40, 200 + 30 - 4], BG)
