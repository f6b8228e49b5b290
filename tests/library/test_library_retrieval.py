"""Per-scene retrieval, sub-segment choice, the blurred fill, and a real video made with --library."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from libclips import CLIPS
from mediatools import frame_at, probe
from PIL import Image

from reelforge.cache import Cache
from reelforge.compose.ffmpeg import FFmpegComposer
from reelforge.compose.timeline import _clip_fields
from reelforge.library import Hit, Library
from reelforge.library.retrieve import best_start, choose, scene_clips, scene_query
from reelforge.models import Motion, Request, SceneClip, Segment, Timeline
from reelforge.pipeline import Pipeline


def hit(sid: int, score: float, start: float = 0.0, end: float = 5.0, path: Path = Path(__file__)) -> Hit:
    return Hit(segment_id=sid, file_id=sid, path=path, start=start, end=end, score=score, text="", frames=[],
               width=640, height=360)  # fmt: skip


def test_choose_never_reuses_a_segment_and_respects_the_threshold():
    vecs = {1: np.array([1.0, 0.0]), 2: np.array([0.0, 1.0]), 3: np.array([1.0, 0.0])}
    hits = [[hit(1, 0.9), hit(2, 0.5)], [hit(1, 0.8), hit(3, 0.7)], [hit(2, 0.3)]]
    picks = choose(hits, [5, 5, 5], vecs.get, threshold=0.4)
    assert [p.segment_id if p else None for p in picks] == [1, 3, None]  # scene 3: 0.3 < threshold


def test_choose_prefers_diversity_and_lets_strong_scenes_choose_first():
    vecs = {1: np.array([1.0, 0.0]), 2: np.array([1.0, 0.0]), 3: np.array([0.0, 1.0])}
    # scene 1 picked segment 1; for scene 0, segment 2 (a near copy of 1) scores a bit higher than 3 but MMR
    # prefers the different-looking 3
    hits = [[hit(2, 0.62), hit(3, 0.6)], [hit(1, 0.95)]]
    picks = choose(hits, [5, 5], vecs.get, threshold=0.4)
    assert [p.segment_id for p in picks if p] == [3, 1]


def test_best_start_avoids_black_and_prefers_motion():
    frames = [{"t": 0.0, "luma": 0.01, "contrast": 0.0, "motion": 0.0},  # black lead-in
              {"t": 2.0, "luma": 0.5, "contrast": 0.2, "motion": 0.1},
              {"t": 4.0, "luma": 0.5, "contrast": 0.2, "motion": 0.9},
              {"t": 6.0, "luma": 0.5, "contrast": 0.2, "motion": 0.8},
              {"t": 8.0, "luma": 0.5, "contrast": 0.2, "motion": 0.1}]  # fmt: skip
    assert best_start(frames, 0.0, 10.0, 3.0) == 4.0
    assert best_start(frames, 0.0, 10.0, 20.0) == 2.0  # shot shorter than the scene: skip the black start
    assert best_start([], 1.0, 2.0, 3.0) == 1.0


def test_scene_query_is_the_scenes_own_text():
    assert scene_query("waves at dusk", ("ocean", "waves")) == "waves at dusk. ocean, waves"


def test_blurfill_only_when_cropping_would_cut_too_much():
    landscape = SceneClip(path=Path("a.mp4"), start=0, end=1, score=1, width=1920, height=1080)
    assert _clip_fields(landscape, "clip", 1080, 1920)["fit"] == "blurfill"  # 16:9 into 9:16
    assert _clip_fields(landscape, "clip", 1280, 720)["fit"] == "cover"
    assert _clip_fields(landscape, "clip", 720, 720)["fit"] == "cover"
    assert _clip_fields(None, "clip", 1280, 720) == {}


def test_blurfill_renders_the_whole_clip_over_a_blurred_fill(tmp_path: Path):
    from libclips import ffmpeg

    still = tmp_path / "s.png"
    Image.new("RGB", (208, 368), (200, 200, 200)).save(still)
    # green | red | blue thirds: cropping the wide clip to portrait would show only the red middle
    clip = tmp_path / "wide.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=green:s=200x180:d=1[l];color=c=red:s=200x180:d=1[m];"
           "color=c=blue:s=200x180:d=1[r];[l][m][r]hstack=inputs=3",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip))  # fmt: skip
    w, h, fps = 180, 320, 25
    comp = FFmpegComposer()
    frames = {}
    for fit in ("cover", "blurfill"):
        seg = Segment(kind="scene", index=0, start_frame=0, frames=fps, image=still, motion=Motion(zoom_to=1.0),
                      fade_in=0, fade_out=0, clip=clip, layout="clip", fit=fit)  # fmt: skip
        tl = Timeline(width=w, height=h, fps=fps, frames=fps, title="t", segments=(seg,))
        d = tmp_path / fit
        d.mkdir()
        out = comp.render_segment(seg, tl, d, comp._font_dir(d))
        assert probe(out)["video"]["width"] == w and probe(out)["video"]["height"] == h
        frames[fit] = frame_at(out, 0.5).astype(int)
    cover, fill = frames["cover"], frames["blurfill"]
    assert cover[h // 2, 4][0] > 150 > cover[h // 2, 4][1]  # cover: only the red middle is left
    left, right = fill[h // 2, 3], fill[h // 2, w - 4]
    assert left[1] > 100 > left[0] and right[2] > 150 > right[0]  # blurfill: both outer thirds are visible
    band = round(w * 180 / 600)  # the whole clip scaled to the width: a band 54 px high in the middle
    inside, outside = fill[h // 2 - band // 2 + 6, w // 2], fill[h // 2 - band // 2 - 12, w // 2]
    assert inside[0] > 150  # the clip's red middle
    assert outside.sum() < inside.sum() - 30 and outside[0] > outside[2]  # the fill: darker, blurred red
    assert fill[8, w // 2].sum() < inside.sum() - 30


@pytest.fixture(scope="module")
def library_video(tmp_path_factory, footage: Path):
    root = tmp_path_factory.mktemp("with-library")
    with Library("demo", root / "libs", visual="none") as lib:
        lib.add([footage], recursive=True)
    from reelforge.config import load_settings

    settings = load_settings(None, cache_dir=root / "cache", writer="template", images="procedural",
                             library="demo", library_dir=root / "libs", clip_layout="clip", no_music=True)  # fmt: skip
    req = Request(prompt="Ocean waves crashing on rocks", duration=10, resolution="480p", subtitles=False)
    events: list = []
    result = Pipeline(settings, progress=events.append).make(req, root / "out" / "ocean.mp4")
    return {"root": root, "settings": settings, "result": result, "events": events}


def test_video_made_with_library_shows_the_matching_clip(library_video):
    res = library_video["result"]
    tl = res.timeline
    used = [s for s in tl.segments if s.clip is not None]
    assert [s.clip.name for s in used] == ["ocean_waves.mp4"]  # fire and forest do not match any scene
    seg = used[0]
    assert seg.layout == "clip" and seg.fit == "cover"
    mid = (seg.start_frame + seg.frames / 2) / tl.fps
    colour = frame_at(res.video, mid).reshape(-1, 3).mean(axis=0)
    assert np.abs(colour - np.array(CLIPS["ocean"][1])).max() < 30, colour
    others = [s for s in tl.segments if s.kind == "scene" and s.clip is None]
    assert others  # the other scenes keep their stills
    assert any(e.stage == "clips" for e in library_video["events"])


def test_retrieval_is_cached_by_library_version(library_video, footage: Path, tmp_path: Path):
    st = library_video["settings"]
    sb = library_video["result"].storyboard
    cache = Cache(st.cache_dir)
    first = scene_clips(st, cache, sb)
    misses = cache.misses["library-retrieve"]
    again = scene_clips(st, cache, sb)
    assert (
        first == again and cache.misses["library-retrieve"] == misses and cache.hits["library-retrieve"] >= 1
    )
    with Library("demo", st.library_dir, visual="none") as lib:  # any change to the library: a new key
        lib.remove(footage / "CampFire.mp4")
    scene_clips(st, cache, sb)
    assert cache.misses["library-retrieve"] == misses + 1
