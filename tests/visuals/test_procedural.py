from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge.errors import ConfigError, VisualsError
from reelforge.models import ImageRequest, Scene
from reelforge.registry import default_registry
from reelforge.visuals.procedural import ProceduralImages, palette_for, render

LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def make_request(
    *,
    index: int = 0,
    style: str = "calm",
    width: int = 320,
    height: int = 180,
    seed: int = 0,
    visual: str | None = None,
    keywords: tuple[str, ...] = ("bees", "flowers"),
) -> ImageRequest:
    scene = Scene(
        index=index,
        narration="Bees visit flowers to collect nectar.",
        visual=visual or f"Scene {index}: bees collecting nectar from flowers in a meadow",
        keywords=keywords,
        duration=5.0,
    )
    return ImageRequest(
        scene=scene, title="How bees make honey", style=style, width=width, height=height, seed=seed
    )


def pixels(request: ImageRequest) -> np.ndarray:
    return np.asarray(render(request), dtype=np.float32)


@pytest.mark.parametrize(
    ("width", "height"),
    [(1472, 828), (828, 1472), (828, 828), (333, 187)],
    ids=["16:9", "9:16", "1:1", "odd"],
)
def test_exact_size_png(tmp_path: Path, width: int, height: int) -> None:
    request = make_request(index=2, width=width, height=height, style="cinematic")
    out = tmp_path / "scene.png"
    visual = ProceduralImages().execute(request, out)
    assert visual.index == 2
    assert visual.path == out
    assert (visual.width, visual.height) == (width, height)
    assert visual.credits == ()
    with Image.open(out) as img:
        assert img.format == "PNG"
        assert img.mode == "RGB"
        assert img.size == (width, height)


def test_same_request_gives_identical_bytes(tmp_path: Path) -> None:
    request = make_request(style="playful", width=400, height=240)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    ProceduralImages().execute(request, a)
    ProceduralImages({"detail": 3}).execute(request, b)
    assert a.read_bytes() == b.read_bytes()


def test_grain_is_light_and_deterministic() -> None:
    request = make_request(style="ambient")
    plain = pixels(request)
    grainy = np.asarray(render(request, grain=2), dtype=np.float32)
    assert np.array_equal(grainy, np.asarray(render(request, grain=2), dtype=np.float32))
    assert 0 < np.abs(grainy - plain).max() <= 2


@pytest.mark.parametrize("style", ["calm", "dramatic", "playful", "corporate"])
def test_scenes_of_one_video_differ(style: str) -> None:
    first = pixels(make_request(index=0, style=style))
    second = pixels(make_request(index=1, style=style))
    assert np.abs(first - second).mean() > 6.0


def test_description_and_seed_change_the_picture() -> None:
    base = pixels(make_request())
    other_text = pixels(make_request(visual="A glass of water on a wooden table"))
    other_seed = pixels(make_request(seed=99))
    assert np.abs(base - other_text).mean() > 6.0
    assert np.abs(base - other_seed).mean() > 6.0


def test_styles_shift_brightness_and_hue() -> None:
    def mean_rgb(style: str) -> np.ndarray:
        means = [pixels(make_request(index=i, style=style)).reshape(-1, 3).mean(axis=0) for i in range(3)]
        return np.asarray(np.mean(means, axis=0))

    dramatic, playful, calm = mean_rgb("dramatic"), mean_rgb("playful"), mean_rgb("calm")
    upbeat, corporate = mean_rgb("upbeat"), mean_rgb("corporate")
    assert float(dramatic @ LUMA) + 80 < float(playful @ LUMA)
    assert float(dramatic @ LUMA) + 80 < float(calm @ LUMA)
    assert dramatic[0] > dramatic[2] + 20  # deep reds
    assert calm[2] > calm[0] + 10  # blues/greens
    assert upbeat[0] > upbeat[2] + 60  # warm yellow/orange
    assert corporate[2] > corporate[0] + 20  # navy/teal


@pytest.mark.parametrize(
    "style", ["upbeat", "calm", "dramatic", "corporate", "ambient", "cinematic", "playful"]
)
def test_not_flat(style: str) -> None:
    img = pixels(make_request(style=style, index=1))
    luma = img @ LUMA
    assert luma.std() > 8.0
    # smooth: neighbouring pixels are close almost everywhere (no high-frequency noise)
    step = np.abs(np.diff(luma, axis=1))
    assert float(np.median(step)) < 2.0


def test_palette_for() -> None:
    request = make_request(style="dramatic")
    pal = palette_for(request)
    assert len(pal) == 8
    assert all(len(c) == 3 and all(0 <= v <= 255 and isinstance(v, int) for v in c) for c in pal)
    assert pal == palette_for(request)
    # one video: same family; the scenes differ in their picks
    palettes = [palette_for(make_request(index=i, style="dramatic")) for i in range(6)]
    assert len({tuple(p) for p in palettes}) > 1
    assert palette_for(make_request(style="calm")) != pal


def test_unknown_style_falls_back() -> None:
    img = render(make_request(style="no-such-style", width=64, height=36))
    assert img.size == (64, 36)


def test_unicode_description() -> None:
    request = make_request(visual="Пчёлы 🐝 собирают нектар — עברית", keywords=("蜂蜜",))
    assert render(request).size == (320, 180)


def test_options_are_validated() -> None:
    assert ProceduralImages().identity()["options"]["detail"] == 3
    with pytest.raises(ConfigError):
        ProceduralImages({"detail": 0})
    with pytest.raises(ConfigError):
        ProceduralImages({"detail": 7})
    with pytest.raises(ConfigError):
        ProceduralImages({"colour": "red"})


@pytest.mark.parametrize("detail", [1, 6])
def test_detail_levels_render(detail: int) -> None:
    assert render(make_request(style="upbeat"), detail=detail).size == (320, 180)


def test_bad_size_is_a_visuals_error(tmp_path: Path) -> None:
    with pytest.raises(VisualsError):
        ProceduralImages().execute(make_request(width=4, height=4), tmp_path / "x.png")


def test_unwritable_path_is_a_visuals_error(tmp_path: Path) -> None:
    with pytest.raises(VisualsError):
        ProceduralImages().execute(make_request(), tmp_path / "missing" / "x.png")


def test_registered_as_entry_point() -> None:
    assert default_registry().get("visuals", "procedural") is ProceduralImages
