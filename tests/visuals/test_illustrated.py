"""The ``illustrated`` backend: relevant icons, exact sizes, determinism, credits, a calm bottom band."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge.config import load_settings
from reelforge.embed import default_embedder
from reelforge.errors import ConfigError, VisualsError
from reelforge.models import ImageRequest, Scene
from reelforge.registry import default_registry
from reelforge.visuals import icons
from reelforge.visuals.icons import CREDIT, choose_icons, description_terms, icon_index, vocabulary
from reelforge.visuals.illustrated import IllustratedImages, dominant_color, icon_sprite, render

FLOWERS = {"1F33C", "1F338", "1F33A", "1F33B", "1F337", "1F339", "1F4AE", "1F490", "1FAB7"}


@pytest.fixture(scope="module")
def emb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embeddings")


@pytest.fixture(scope="module")
def backend(emb_dir: Path) -> IllustratedImages:
    return IllustratedImages({"cache_dir": str(emb_dir)})


@pytest.fixture(scope="module")
def index(emb_dir: Path) -> icons.IconIndex:
    # start from an empty in-process cache, so this module's directory really gets the file written
    icons._indexes.clear()
    icons._by_embedder.clear()
    return icon_index(default_embedder(), emb_dir)


def make_request(
    visual: str = "a honey bee collecting nectar from a flower",
    keywords: tuple[str, ...] = ("bees", "honey"),
    *,
    index: int = 0,
    style: str = "calm",
    width: int = 368,
    height: int = 208,
    seed: int = 0,
) -> ImageRequest:
    scene = Scene(
        index=index, narration="Bees visit flowers.", visual=visual, keywords=keywords, duration=5.0
    )
    return ImageRequest(scene=scene, title="How bees make honey", style=style, width=width, height=height,
                        seed=seed)  # fmt: skip


# ---- relevance ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("visual", "expected"),
    [
        ("a red apple on a table", [{"1F34E"}]),
        ("a rocket launching", [{"1F680"}]),
        ("a honey bee on a flower", [{"1F41D"}, FLOWERS]),
        ("a dog playing in the park", [{"1F415", "1F436", "1F429", "1F9AE"}]),
        ("a cup of hot coffee", [{"2615"}]),
        ("a car driving on a highway", [{"1F697", "1F698", "1F3CE"}]),
        ("a cat sleeping on a sofa", [{"1F408", "1F431"}]),
        ("the sun setting over the ocean", [{"2600", "1F305", "1F307", "1F304", "1F31E"}, {"1F30A"}]),
        ("a laptop computer on a desk", [{"1F4BB"}]),
        ("a pizza fresh from the oven", [{"1F355"}]),
        ("a doctor with a stethoscope", [{"1FA7A", "1F9D1-200D-2695-FE0F"}]),
        ("a snowy mountain", [{"1F3D4", "26F0"}]),
        ("a person reading a book", [{"1F4D6", "1F4DA", "1F4D5", "1F4D7", "1F4D8", "1F4D9"}]),
        ("fish swimming in the sea", [{"1F41F", "1F420", "1F421"}]),
        ("a tree in a forest", [{"1F333", "1F332"}]),
        ("an airplane flying above clouds", [{"2708", "1F6EB"}, {"2601"}]),
        ("a bicycle in the city", [{"1F6B2"}]),
        ("a guitar on stage", [{"1F3B8"}]),
    ],
)
def test_obvious_subjects_get_their_icon(
    index: icons.IconIndex, visual: str, expected: list[set[str]]
) -> None:
    picked = {p.icon.code for p in choose_icons(index, visual)}
    for alternatives in expected:
        assert picked & alternatives, f"{visual!r}: picked {picked}, expected one of {alternatives}"


def test_hero_is_the_subject_and_style_words_are_ignored(index: icons.IconIndex) -> None:
    picks = choose_icons(index, "eye-catching macro view of bees, crisp detail, soft bokeh background",
                         ("bees", "honey"))  # fmt: skip
    assert picks[0].icon.code == "1F41D"  # honeybee, first
    assert "1F36F" in {p.icon.code for p in picks}  # honey pot (a keyword)
    picks = choose_icons(
        index, "peaceful final view of honey, soft focus, warm sunset colors", ("honey", "bees")
    )
    assert picks[0].icon.code == "1F36F"
    # colour words describe the look, not a thing: "muted tones" is not a muted speaker
    picks = choose_icons(
        index, "panoramic view that sets the scene for volcanoes, muted tones", ("volcanoes",)
    )
    assert [p.icon.code for p in picks] == ["1F30B"]
    assert len({p.icon.code for p in picks}) == len(picks) <= 4


def test_the_narration_adds_what_the_scene_says(index: icons.IconIndex) -> None:
    """A hive-only visual description under narration about flowers gets a flower; off-topic filler in
    the narration adds nothing; ``narration_icons=0`` turns it off."""
    visual, kw = "eye-catching macro view of bees, crisp detail", ("bees", "honey")
    said = "Bees collect sweet nectar from flowers all day."
    base = {p.icon.code for p in choose_icons(index, visual, kw)}
    with_said = choose_icons(index, visual, kw, narration=said)
    assert not base & FLOWERS and {p.icon.code for p in with_said} & FLOWERS
    assert with_said[0].icon.code == "1F41D"  # the hero still comes from the visual description
    assert choose_icons(index, visual, kw, narration=said, narration_icons=0) == choose_icons(
        index, visual, kw
    )
    filler = choose_icons(index, visual, kw, narration="Thanks for watching, and keep exploring.")
    assert {p.icon.code for p in filler} == base
    # figures of speech and asides unrelated to the scene add nothing (no globe, no mouth)
    # ("wax" alone is beeswax now, a candle: only the saliva is left to refuse)
    for aside in ("Building it is one of the most impressive feats on earth.", "They use their saliva."):
        assert {p.icon.code for p in choose_icons(index, visual, kw, narration=aside)} == base, aside


def test_supporting_icons_must_relate_to_the_scene(index: icons.IconIndex) -> None:
    """A phrase of the description that is not what the scene shows ("their own food") adds no icon."""
    visual = "A beehive filled with honeycomb, a testament to the intricate process of bees producing their own food"
    names = [p.icon.names[0] for p in choose_icons(index, visual, ("beehives", "honeybee", "bees", "honey"))]
    assert names[0] == "honeybee" and "honey pot" in names and "pot of food" not in names, names
    loose = choose_icons(index, visual, ("beehives", "honeybee", "bees", "honey"), support_coherence=0.0)
    assert "pot of food" in [p.icon.names[0] for p in loose]  # what the check keeps out


def test_icons_fit_the_videos_topic(index: icons.IconIndex) -> None:
    """The small model's descriptions wander ("a masterpiece of art and science"): with the video's title as
    the topic the hero stays the subject and off-topic extras stay out; colours are not things; no
    prohibition signs."""
    visual, kw = (
        "A bee's final stretch before the task is a masterpiece of art and science",
        ("bees", "art", "honey"),
    )
    loose = [p.icon.names[0] for p in choose_icons(index, visual, kw)]
    assert loose[0] == "artist palette"  # what happened before: the first keyword with a match led
    names = [p.icon.names[0] for p in choose_icons(index, visual, kw, topic="How Bees Create Honey")]
    assert names[0] == "honeybee" and "honey pot" in names and "artist palette" not in names, names
    sky = choose_icons(index, "A sunset with a canvas of blue on its horizon", ("sky", "blue"),
                       topic="Why the Sky Is Blue")  # fmt: skip
    assert "sport utility vehicle" not in [p.icon.names[0] for p in sky]
    abstract = choose_icons(
        index, "a person writing in a notebook", ("habits",), topic="Morning routines that stick"
    )
    assert abstract  # an abstract title gates nothing
    assert not [i for i in index.icons if i.names[0].startswith("no ")]


def test_description_terms() -> None:
    assert description_terms("eye-catching macro view of bees, crisp detail, soft bokeh background") == [
        "bees"
    ]
    assert description_terms("a cup of hot coffee") == ["hot coffee", "cup"]
    assert description_terms("a bee collecting nectar from a flower") == ["bee", "nectar", "flower"]
    assert description_terms("") == []


def test_no_match_still_draws_the_best_icon(index: icons.IconIndex) -> None:
    picks = choose_icons(index, "the quarterly synergy of stakeholder alignment")
    assert len(picks) == 1


def test_vocabulary() -> None:
    vocab = vocabulary()
    assert len(vocab) > 1800
    codes = {i.code for i in vocab}
    assert {"1F41D", "1F36F", "1F680", "1F34E"} <= codes
    assert not any(c in code for code in codes for c in ("1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF"))
    assert all(i.names and i.names[0] for i in vocab)


# ---- the embedding cache ------------------------------------------------------------------------


def test_icon_embeddings_are_cached_on_disk(index: icons.IconIndex, emb_dir: Path) -> None:
    files = list(emb_dir.glob("openmoji-*.npy"))
    assert len(files) == 1
    saved = np.load(files[0])
    assert saved.shape == index.vectors.shape
    # a new process (no memory cache) reads the file instead of embedding again
    icons._indexes.clear()
    icons._by_embedder.clear()

    class NoEmbed:
        name, dim = default_embedder().name, default_embedder().dim

        def embed(self, texts: list[str]) -> np.ndarray:
            if len(texts) > 20:
                raise AssertionError("the icon names were embedded again")
            return default_embedder().embed(texts)

    again = icon_index(NoEmbed(), emb_dir)
    assert np.array_equal(again.vectors, index.vectors)


# ---- drawing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height"), [(736, 414), (414, 736), (414, 414), (333, 187)], ids=["16:9", "9:16", "1:1", "odd"]
)
def test_exact_size_png_with_credits(
    backend: IllustratedImages, tmp_path: Path, width: int, height: int
) -> None:
    out = tmp_path / "scene.png"
    visual = backend.execute(make_request(index=2, width=width, height=height), out)
    assert (visual.index, visual.path, visual.width, visual.height) == (2, out, width, height)
    assert visual.credits == (CREDIT,) and "OpenMoji" in CREDIT and "CC BY-SA 4.0" in CREDIT
    with Image.open(out) as img:
        assert img.format == "PNG" and img.mode == "RGB" and img.size == (width, height)


def test_deterministic_and_scenes_differ(backend: IllustratedImages, tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    backend.execute(make_request(), a)
    backend.execute(make_request(), b)
    assert a.read_bytes() == b.read_bytes()
    backend.execute(make_request("a rocket launching", (), index=1), c)
    assert a.read_bytes() != c.read_bytes()
    other_seed = np.asarray(
        render(make_request(seed=7), backend.pick(make_request(seed=7))), dtype=np.float32
    )
    assert np.abs(other_seed - np.asarray(Image.open(a), dtype=np.float32)).mean() > 2


@pytest.mark.parametrize(
    "style", ["calm", "upbeat", "dramatic", "corporate", "ambient", "cinematic", "playful"]
)
def test_icons_are_drawn_and_the_bottom_stays_calm(backend: IllustratedImages, style: str) -> None:
    req = make_request(style=style, width=736, height=414)
    px = np.asarray(render(req, backend.pick(req)), dtype=np.float32)
    luma = px @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    edges = np.abs(np.diff(luma, axis=0))[:, :-1] + np.abs(np.diff(luma, axis=1))[:-1, :]
    h = edges.shape[0]
    # crisp icon outlines where the icons are; only soft backdrop in the bottom band (subtitles live there)
    assert (edges[: int(h * 0.8)] > 120).sum() > 300
    assert edges[int(h * 0.82) :].max() < 40
    assert px.std() > 20


def test_icon_sprite_and_colour() -> None:
    bee = next(i for i in vocabulary() if i.code == "1F41D")
    sprite = icon_sprite(bee, 200)
    assert sprite.mode == "RGBA" and 190 <= max(sprite.size) <= 210
    r, g, _b = dominant_color(sprite)
    assert r > 150 and g > 120  # a yellow bee
    zwj = next(i for i in vocabulary() if i.code == "1F469-200D-1F680")  # woman astronaut: one glyph
    assert max(icon_sprite(zwj, 100).size) <= 110


def test_identity_leaves_out_the_cache_dir(tmp_path: Path) -> None:
    a = IllustratedImages({"cache_dir": str(tmp_path / "x")}).identity()
    b = IllustratedImages({"cache_dir": str(tmp_path / "y")}).identity()
    assert a == b
    assert a["icons"].startswith("openmoji-") and "MiniLM" in a["embedder"]
    assert IllustratedImages({"max_icons": 2}).identity() != a


def test_bad_options_and_sizes(backend: IllustratedImages, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        IllustratedImages({"max_icons": 9})
    with pytest.raises(VisualsError, match="cannot draw"):
        backend.execute(make_request(width=8, height=8), tmp_path / "x.png")
    with pytest.raises(VisualsError, match="could not write"):
        backend.execute(make_request(), tmp_path / "missing" / "x.png")


def test_default_backend_and_entry_point() -> None:
    assert load_settings(None).images == "illustrated"
    assert default_registry().get("visuals", "illustrated") is IllustratedImages
