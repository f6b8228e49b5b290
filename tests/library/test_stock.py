"""Stock footage (``--images stock`` / ``auto``): queries, ranking, both APIs' JSON, retries, fallbacks, and
real videos made against fake Pexels and Pixabay servers on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from libclips import make_clip
from mediatools import frame_at
from stockfake import KEY, FakeStock, Video, closed_port

from reelforge.cache import Cache
from reelforge.errors import ConfigError
from reelforge.library.pexels import PexelsSource
from reelforge.library.pixabay import PixabaySource
from reelforge.library.sources import Candidate, SourceAuthError, SourceUnavailable
from reelforge.library.stock import StockFinder, assign, merge_clips, rank, scene_queries
from reelforge.models import Request, Scene, SceneClip, Storyboard
from reelforge.visuals.stock import AutoImages, StockImages

BLUE, TEAL, RED = (30, 60, 220), (20, 160, 140), (220, 40, 20)
SAND, MAGENTA = (210, 180, 90), (200, 40, 160)
FAST = {"backoff": 0.01, "timeout": 5.0}


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> dict[str, Path]:
    """One small MP4 per fake video, each a distinct solid colour (with temporal noise: it moves)."""
    d = tmp_path_factory.mktemp("served")
    colours = {"blue": BLUE, "teal": TEAL, "red": RED, "sand": SAND, "magenta": MAGENTA}
    return {name: make_clip(d / f"{name}.mp4", rgb, 2.0, size="320x180") for name, rgb in colours.items()}


def pexels_catalogue(served: dict[str, Path]) -> list[Video]:
    return [Video(2001, "waves-crashing-on-rocks", BLUE, served["blue"], user="Ann Lee"),
            Video(2002, "sand-dunes-in-the-desert", SAND, served["sand"], user="Bo Berg")]  # fmt: skip


def pixabay_catalogue(served: dict[str, Path]) -> list[Video]:
    return [Video(3001, "ocean-waves-sea", TEAL, served["teal"], tags="ocean, waves, sea, water", user="Cai"),
            Video(3002, "city-traffic-night", MAGENTA, served["magenta"], tags="city, traffic, night, cars",
                  user="Dee"),
            Video(3003, "beach-surf-waves", RED, served["red"], tags="beach, surf, waves, ocean", user="Eli")]  # fmt: skip


@pytest.fixture
def fakes(served):
    with (
        FakeStock("pexels", pexels_catalogue(served)) as px,
        FakeStock("pixabay", pixabay_catalogue(served)) as pb,
    ):
        yield px, pb


def ocean_storyboard(n: int = 3) -> Storyboard:
    """What the template writer writes for "Ocean waves", 10 s (its first ``n`` scenes)."""
    rows = [("Today, we're exploring ocean waves.", "bold opening shot of ocean waves, vivid colors", 2.5),
            ("A big part of the story is ocean waves.", "close-up of ocean waves in action, warm light", 3.4),
            ("So, that's ocean waves!", "peaceful final view of ocean waves, warm sunset colors", 2.6)]  # fmt: skip
    scenes = tuple(Scene(index=i, narration=text, visual=v, keywords=("ocean", "waves"), duration=d)
                   for i, (text, v, d) in enumerate(rows[:n]))  # fmt: skip
    total = 1.5 + sum(sc.duration for sc in scenes)
    return Storyboard(
        title="Ocean Waves", prompt="Ocean waves", duration=total, title_duration=1.5, scenes=scenes
    )


def sources(px: FakeStock | None, pb: FakeStock | None, **extra) -> list:
    out = []
    if px is not None:
        out.append(PexelsSource({"api_key": KEY, "base_url": px.base_url, **FAST, **extra}))
    if pb is not None:
        out.append(PixabaySource({"api_key": KEY, "base_url": pb.base_url, **FAST, **extra}))
    return out


REQ = Request(prompt="Ocean waves", duration=10, resolution="480p")


# ---- queries and ranking -------------------------------------------------------------------------------


def test_scene_queries_are_short_and_drop_style_words():
    s = Scene(index=0, narration="Bees carry nectar back to the hive in their honey stomachs.",
              visual="close-up of a honey bee on a sunflower, warm light, shallow depth of field",
              keywords=("honey bee", "pollen"), duration=3)  # fmt: skip
    assert scene_queries(s, 3) == ["honey bee pollen", "sunflower", "bees carry nectar"]
    assert scene_queries(s, 1) == ["honey bee pollen"]
    same = Scene(index=0, narration="So, that's ocean waves!", visual="final view of ocean waves, soft focus",
                 keywords=("ocean", "waves"), duration=3)  # fmt: skip
    assert scene_queries(same, 3) == ["ocean waves"]  # nothing new in the visual or the narration


def cand(key: str, w: int = 1920, h: int = 1080, seconds: float = 10.0) -> Candidate:
    return Candidate(source="pexels", id=key, url="", link="https://x/a.mp4", width=w, height=h, duration=seconds,
                     author="", credit="")  # fmt: skip


def test_rank_weighs_text_then_orientation_resolution_and_length():
    frame = (1280, 720)
    # the same words: the landscape, sharp, long enough one first
    cs = [cand("portrait", 1080, 1920), cand("small", 320, 180), cand("short", seconds=1.0), cand("best")]
    order = [r.candidate.id for r in rank(cs, [0.5] * 4, frame, 5.0)]
    assert order[0] == "best" and order[-1] == "portrait"
    by = {r.candidate.id: r for r in rank(cs, [0.5] * 4, frame, 5.0)}
    assert by["portrait"].orientation == 0.0 and by["best"].orientation == 1.0
    assert by["small"].resolution == 0.25 and by["best"].resolution == 1.0
    assert by["short"].duration == 0.2 and by["best"].duration == 1.0
    # a portrait frame turns it around
    assert rank(cs, [0.5] * 4, (720, 1280), 5.0)[0].candidate.id == "portrait"
    # a better text match beats every fit term
    assert (
        rank([cand("fits"), cand("words", 320, 180, 1.0)], [0.4, 0.8], frame, 5.0)[0].candidate.id == "words"
    )


def test_assign_never_reuses_a_clip_strongest_scene_first_and_respects_min_score():
    a, b, c = cand("a"), cand("b"), cand("c")
    ranked = [rank([a, b], [0.6, 0.5], (1280, 720), 5), rank([a, c], [0.9, 0.2], (1280, 720), 5),
              rank([c], [0.25], (1280, 720), 5)]  # fmt: skip
    picks = assign(ranked, min_score=0.3)
    assert picks[1].candidate.id == "a"  # the strongest match chose first
    assert picks[0].candidate.id == "b"  # so scene 0 takes its second choice
    assert picks[2] is None  # 0.25 is below min_score: the scene keeps its still
    assert assign(ranked, min_score=0.3, skip={"pexels:b"})[0] is None
    assert assign(ranked, min_score=0.3, used={"pexels:a"})[1] is None


def test_merge_clips_fills_gaps_without_reusing_a_file(tmp_path: Path):
    x, y = SceneClip(path=tmp_path / "x.mp4", start=0, end=2, score=1, width=2, height=2), None
    z = SceneClip(path=tmp_path / "z.mp4", start=0, end=2, score=1, width=2, height=2)
    assert merge_clips([x, y, None], [z, x, z]) == [x, None, z]  # x is already used; z goes in once
    assert merge_clips([], [z, None]) == [z, None]


# ---- the two APIs -------------------------------------------------------------------------------------


def test_pexels_json_is_read_and_the_best_file_up_to_1080p_chosen(fakes):
    px, _ = fakes
    found = PexelsSource({"api_key": KEY, "base_url": px.base_url}).search(
        "ocean waves", 5, orientation="landscape"
    )
    assert [c.key for c in found] == ["pexels:2001", "pexels:2002"]
    c = found[0]
    assert c.link.endswith("/files/2001.mp4") and (c.width, c.height, c.duration) == (
        320,
        180,
        2.0,
    )  # never 4K
    assert (
        c.credit == "Video by Ann Lee on Pexels (https://www.pexels.com/video/waves-crashing-on-rocks-2001/)"
    )
    assert "waves crashing on rocks" in c.text
    r = px.searches[0]
    assert (
        r["auth"] == KEY
        and r["query"]["query"] == ["ocean waves"]
        and r["query"]["orientation"] == ["landscape"]
    )


def test_pixabay_json_is_read_and_the_key_never_shown(fakes):
    _, pb = fakes
    found = PixabaySource({"api_key": KEY, "base_url": pb.base_url}).search("ocean waves", 5)
    assert [c.key for c in found] == ["pixabay:3001", "pixabay:3002", "pixabay:3003"]
    c = found[0]
    assert c.link.endswith("/files/3001.mp4") and (c.width, c.height) == (320, 180)  # the 4K "large" skipped
    assert c.tags == ("ocean", "waves", "sea", "water") and c.credit.startswith("Video by Cai from Pixabay (")
    assert pb.searches[0]["query"]["key"] == [KEY] and pb.searches[0]["query"]["q"] == ["ocean waves"]
    with pytest.raises(SourceAuthError) as bad:
        PixabaySource({"api_key": "wrong-secret", "base_url": pb.base_url}).search("ocean")
    assert "PIXABAY_API_KEY" in str(bad.value) and "wrong-secret" not in str(bad.value)


def test_429_is_retried_then_succeeds_and_an_outage_stops_asking(fakes):
    px, _ = fakes
    px.fail = [(429, {"Retry-After": "0"}), (503, {})]
    slept: list[float] = []
    src = PexelsSource({"api_key": KEY, "base_url": px.base_url, "backoff": 0.5}, sleep=slept.append)
    assert [c.id for c in src.search("ocean")] == ["2001", "2002"]
    assert len(px.searches) == 3 and slept == [0.0, 1.0]  # Retry-After honoured, then exponential backoff
    px.fail = [(503, {})] * 3
    src = PexelsSource({"api_key": KEY, "base_url": px.base_url, "attempts": 3}, sleep=slept.append)
    with pytest.raises(SourceUnavailable, match="HTTP 503"):
        src.search("ocean")
    assert len(px.searches) == 6
    with pytest.raises(SourceUnavailable):  # down for this run: not asked again
        src.search("waves")
    assert len(px.searches) == 6
    px.fail = [(429, {"Retry-After": "3600"})]
    with pytest.raises(SourceUnavailable, match="rate limit"):  # asked to wait an hour: no retry
        PexelsSource({"api_key": KEY, "base_url": px.base_url}, sleep=slept.append).search("ocean")
    assert len(px.searches) == 7


# ---- the finder ---------------------------------------------------------------------------------------


def test_finder_downloads_indexes_and_caches_the_choice(tmp_path: Path, fakes):
    px, pb = fakes
    sb, cache = ocean_storyboard(), Cache(tmp_path / "cache")
    finder = StockFinder(sources(px, pb))
    clips = finder.find(REQ, sb, cache=cache, library_dir=tmp_path / "libs")
    assert all(c is not None for c in clips)
    names = [c.path.name for c in clips]
    assert len(set(names)) == 3  # no clip twice
    assert {n.split("-")[0] for n in names} == {
        "2001",
        "3001",
        "3003",
    }  # the ocean videos, not desert or city
    assert all(c.path.is_relative_to(tmp_path / "libs" / "stock" / "media") for c in clips)
    assert sorted(px.downloads + pb.downloads) == ["/files/2001.mp4", "/files/3001.mp4", "/files/3003.mp4"]
    assert {c.credit.split(" (")[0] for c in clips} == {"Video by Ann Lee on Pexels", "Video by Cai from Pixabay",
                                                        "Video by Eli from Pixabay"}  # fmt: skip
    asked, searched = len(px.requests) + len(pb.requests), len(px.searches) + len(pb.searches)
    assert searched == 4  # "ocean waves" (three scenes share it, asked once) and "sunset", at each source
    again = StockFinder(sources(px, pb)).find(REQ, sb, cache=cache, library_dir=tmp_path / "libs")
    assert again == clips and len(px.requests) + len(pb.requests) == asked  # the choice was cached
    # without the cache: searched again, but nothing downloaded again (the files are in the library)
    fresh = Cache(tmp_path / "cache2")
    third = StockFinder(sources(px, pb)).find(REQ, sb, cache=fresh, library_dir=tmp_path / "libs")
    assert [c.path for c in third] == [c.path for c in clips]
    assert len(px.downloads + pb.downloads) == 3 and len(px.searches) + len(pb.searches) == 2 * searched


def test_outage_falls_back_to_clips_downloaded_before_with_a_warning(tmp_path: Path, fakes, caplog):
    px, pb = fakes
    sb, libs = ocean_storyboard(), tmp_path / "libs"
    down = [PexelsSource({"api_key": KEY, "base_url": closed_port(), **FAST}),
            PixabaySource({"api_key": KEY, "base_url": closed_port(), **FAST})]  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="reelforge.library"):
        nothing = StockFinder(down).find(REQ, sb, cache=Cache(tmp_path / "c1"), library_dir=libs)
    assert nothing == [None, None, None]  # no library yet: every scene keeps its still
    assert "stock footage unavailable" in caplog.text and "cannot reach" in caplog.text
    StockFinder(sources(px, pb)).find(
        REQ, sb, cache=Cache(tmp_path / "c2"), library_dir=libs
    )  # fills the library
    caplog.clear()
    cache = Cache(tmp_path / "c3")
    with caplog.at_level(logging.WARNING, logger="reelforge.library"):
        clips = StockFinder(down).find(REQ, sb, cache=cache, library_dir=libs)
    assert "stock footage unavailable" in caplog.text
    assert all(c is not None for c in clips) and len({c.path for c in clips}) == 3  # found again offline
    assert not list((tmp_path / "c3").glob("stock-clips/*/*"))  # the stand-in is not cached
    # rate limited on one source: the other's results are used, with a warning, and not cached either
    pb.fail = [(429, {})] * 6  # both searches ("ocean waves", "sunset"), every attempt
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="reelforge.library"):
        some = StockFinder(sources(px, pb)).find(REQ, sb, cache=Cache(tmp_path / "c4"), library_dir=libs)
    assert "Pixabay: rate limit reached (HTTP 429)" in caplog.text
    assert [c.path.name.split("-")[0] if c else None for c in some].count("2001") == 1
    assert not list((tmp_path / "c4").glob("stock-clips/*/*"))


def test_a_failed_download_gives_the_scene_the_next_candidate(tmp_path: Path, fakes, caplog):
    px, pb = fakes
    pb.gone = {3001}  # the best match of the strongest scene
    cache = Cache(tmp_path / "cache")
    with caplog.at_level(logging.WARNING, logger="reelforge.library"):
        clips = StockFinder(sources(px, pb)).find(
            REQ, ocean_storyboard(2), cache=cache, library_dir=tmp_path / "l"
        )
    got = sorted(c.path.name.split("-")[0] for c in clips if c is not None)
    assert got == ["2001", "3003"]  # that scene took the next candidate no other scene uses
    assert pb.downloads.count("/files/3001.mp4") == 1 and "HTTP 404" in caplog.text  # a 404 is not retried
    assert not list((tmp_path / "cache").glob("stock-clips/*/*"))  # tried again next time


def test_offline_asks_nothing_and_uses_the_library(tmp_path: Path, fakes, monkeypatch):
    px, pb = fakes
    sb, libs = ocean_storyboard(), tmp_path / "libs"
    StockFinder(sources(px, pb)).find(REQ, sb, cache=Cache(tmp_path / "c1"), library_dir=libs)
    asked = len(px.requests) + len(pb.requests)
    monkeypatch.setenv("REELFORGE_OFFLINE", "1")
    clips = StockFinder(sources(px, pb)).find(REQ, sb, cache=Cache(tmp_path / "c2"), library_dir=libs)
    assert len(px.requests) + len(pb.requests) == asked
    assert len({c.path for c in clips if c is not None}) == 3


def test_refused_key_is_an_error_for_stock_and_a_warning_for_auto(tmp_path: Path, fakes, caplog):
    px, pb = fakes
    bad = [PexelsSource({"api_key": "nope", "base_url": px.base_url, **FAST}), *sources(None, pb)]
    sb = ocean_storyboard()
    with pytest.raises(SourceAuthError, match="PEXELS_API_KEY"):
        StockFinder(bad).find(REQ, sb, cache=Cache(tmp_path / "c"), library_dir=tmp_path / "libs")
    with caplog.at_level(logging.WARNING, logger="reelforge.library"):
        clips = StockFinder(bad, strict=False).find(
            REQ, sb, cache=Cache(tmp_path / "c"), library_dir=tmp_path / "l"
        )
    assert "Pexels refused the API key" in caplog.text
    assert sum(c is not None for c in clips) == 2  # Pixabay's two ocean videos


def test_auto_picks_stock_only_with_a_key(monkeypatch, caplog):
    for var in ("PEXELS_API_KEY", "PIXABAY_API_KEY", "REELFORGE_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    with caplog.at_level(logging.INFO, logger="reelforge.visuals"):
        auto = AutoImages()
    assert not auto.active and auto.stills == "illustrated"
    assert "auto chose illustrated (no PEXELS_API_KEY or PIXABAY_API_KEY set)" in caplog.text
    with pytest.raises(ConfigError, match="needs an API key: set PEXELS_API_KEY or PIXABAY_API_KEY"):
        StockImages()
    monkeypatch.setenv("PIXABAY_API_KEY", "secret-123")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="reelforge.visuals"):
        auto = AutoImages({"stills": "procedural"})
    assert (
        auto.active
        and auto.stills == "procedural"
        and "auto chose stock footage (PIXABAY_API_KEY" in caplog.text
    )
    assert StockImages().active
    assert "secret-123" not in json.dumps(StockImages().identity()) + json.dumps(auto.finder().identity())
    with pytest.raises(ConfigError, match="stills"):
        StockImages({"stills": "stock"})


# ---- real videos through the command line ---------------------------------------------------------------


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if k not in ("REELFORGE_OFFLINE", "REELFORGE_CONFIG")}
    return subprocess.run([sys.executable, "-m", "reelforge", *args], capture_output=True, text=True,
                          env={**e, **env}, timeout=280)  # fmt: skip


def make_args(out: Path, cfg: Path) -> list[str]:
    return ["make", "Ocean waves", "--images", "stock", "-d", "10", "--resolution", "480p", "--writer", "template",
            "--no-music", "--no-subtitles", "--keep-work", "--config", str(cfg), "-o", str(out)]  # fmt: skip


def near(rgb: np.ndarray, colours: dict[str, tuple[int, int, int]]) -> str | None:
    for name, c in colours.items():
        if np.abs(rgb - np.array(c)).max() < 30:
            return name
    return None


@pytest.mark.slow
def test_make_with_stock_footage_uses_credits_and_reuses_the_downloads(tmp_path: Path, fakes):
    px, pb = fakes
    cfg = tmp_path / "reelforge.toml"
    cfg.write_text('[options.stock]\nstills = "procedural"\n[options.pexels]\nbackoff = 0.01\n'
                   '[options.pixabay]\nbackoff = 0.01\n')  # fmt: skip
    env = {"REELFORGE_CACHE_DIR": str(tmp_path / "cache"), "REELFORGE_LIBRARY_DIR": str(tmp_path / "libs"),
           "PEXELS_API_KEY": KEY, "PEXELS_BASE_URL": px.base_url, "PIXABAY_API_KEY": KEY,
           "PIXABAY_BASE_URL": pb.base_url}  # fmt: skip
    out = tmp_path / "out" / "ocean.mp4"
    r = cli(*make_args(out, cfg), env=env)
    assert r.returncode == 0, r.stderr
    tl = json.loads((tmp_path / "out" / "ocean.work" / "timeline.json").read_text())
    scenes = [s for s in tl["segments"] if s["kind"] == "scene"]
    media = (tmp_path / "libs" / "stock" / "media").resolve()
    clips = [Path(s["clip"]) for s in scenes]
    assert all(s["layout"] == "clip" for s in scenes) and len(set(clips)) == len(scenes) == 3  # never twice
    assert all(c.is_relative_to(media) for c in clips)  # the downloaded, indexed files
    colours = {"blue": BLUE, "teal": TEAL, "red": RED, "sand": SAND, "magenta": MAGENTA}
    seen = []
    for s in scenes:  # each scene shows its clip, full frame
        mid = (s["start_frame"] + s["frames"] / 2) / tl["fps"]
        seen.append(near(frame_at(out, mid).reshape(-1, 3).mean(axis=0), colours))
    assert sorted(seen) == ["blue", "red", "teal"]  # the ocean videos; never the desert or the city
    credits = (tmp_path / "out" / "ocean.credits.txt").read_text().splitlines()
    expected = ["Video by Ann Lee on Pexels (https://www.pexels.com/video/waves-crashing-on-rocks-2001/)",
                "Video by Cai from Pixabay (https://pixabay.com/videos/ocean-waves-sea-3001/)",
                "Video by Eli from Pixabay (https://pixabay.com/videos/beach-surf-waves-3003/)"]  # fmt: skip
    assert set(expected) <= set(credits)
    with av.open(str(out)) as c:
        meta = " ".join(str(v) for v in c.metadata.values())
    assert all(e in meta for e in expected)
    assert sorted(px.downloads + pb.downloads) == ["/files/2001.mp4", "/files/3001.mp4", "/files/3003.mp4"]
    config = json.loads((tmp_path / "out" / "ocean.config.json").read_text())
    assert config["backends"]["visuals"] == "stock" and config["backends"]["stills"] == "procedural"
    assert KEY not in json.dumps(config)

    asked = len(px.requests) + len(pb.requests)
    r = cli(*make_args(tmp_path / "again" / "ocean.mp4", cfg), env=env)
    assert r.returncode == 0, r.stderr
    assert len(px.requests) + len(pb.requests) == asked  # a second run asks nothing: no search, no download
    tl2 = json.loads((tmp_path / "again" / "ocean.work" / "timeline.json").read_text())
    assert [Path(s["clip"]) for s in tl2["segments"] if s["kind"] == "scene"] == clips

    # both services down (another address): a warning, and the clips downloaded before are found offline
    down = {**env, "PEXELS_BASE_URL": closed_port(), "PIXABAY_BASE_URL": closed_port()}
    r = cli(*make_args(tmp_path / "down" / "ocean.mp4", cfg), env=down)
    assert r.returncode == 0, r.stderr
    assert "stock footage unavailable" in r.stderr and "Traceback" not in r.stderr
    tl3 = json.loads((tmp_path / "down" / "ocean.work" / "timeline.json").read_text())
    assert {Path(s["clip"]) for s in tl3["segments"] if s["kind"] == "scene"} == set(clips)


@pytest.mark.slow
def test_make_with_a_refused_key_is_one_clear_line(tmp_path: Path, fakes):
    px, pb = fakes
    cfg = tmp_path / "reelforge.toml"
    cfg.write_text('[options.stock]\nstills = "procedural"\n')
    env = {"REELFORGE_CACHE_DIR": str(tmp_path / "cache"), "REELFORGE_LIBRARY_DIR": str(tmp_path / "libs"),
           "PEXELS_API_KEY": "wrong", "PEXELS_BASE_URL": px.base_url, "PIXABAY_API_KEY": KEY,
           "PIXABAY_BASE_URL": pb.base_url}  # fmt: skip
    out = tmp_path / "v.mp4"
    r = cli(*make_args(out, cfg), env=env)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert (
        lines[-1].startswith("error: Pexels refused the API key (HTTP 401)") and "PEXELS_API_KEY" in lines[-1]
    )
    assert "Traceback" not in r.stderr and not out.exists()
    asked = len(px.requests) + len(pb.requests)
    r = cli(*make_args(out, cfg), env={**env, "PEXELS_API_KEY": "", "PIXABAY_API_KEY": ""})
    assert r.returncode == 2 and "needs an API key: set PEXELS_API_KEY or PIXABAY_API_KEY" in r.stderr
    assert len(px.requests) + len(pb.requests) == asked  # stopped before asking anything


def test_library_fetch_from_pixabay(tmp_path: Path, fakes):
    _, pb = fakes
    env = {"PIXABAY_API_KEY": KEY, "REELFORGE_LIBRARY_DIR": str(tmp_path / "libs")}
    r = cli(
        "library",
        "fetch",
        "ocean waves",
        "--source",
        "pixabay",
        "-n",
        "3",
        "--base-url",
        pb.base_url,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "3 downloaded" in r.stdout and "3 added" in r.stdout
    side = json.loads(
        (tmp_path / "libs" / "default" / "media" / "pixabay" / "3001-ocean-waves-sea.json").read_text()
    )
    assert side["tags"] == ["ocean", "waves", "sea", "water", "ocean waves"]
    assert (
        side["source"]["credit"]
        == "Video by Cai from Pixabay (https://pixabay.com/videos/ocean-waves-sea-3001/)"
    )
    r = cli("library", "fetch", "ocean", "--source", "vimeo", env=env)
    assert r.returncode == 2 and "available: pexels, pixabay" in r.stderr
