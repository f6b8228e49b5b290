"""End-to-end: real short renders, checked with libavformat probes, ebur128 loudness and frame pixels."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mediatools import frame_at, loudness, probe, top_level_atoms

from reelforge.config import load_settings
from reelforge.models import Request, Storyboard
from reelforge.pipeline import Pipeline

DUR = 10.0


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    settings = load_settings(None, cache_dir=root / "cache", writer="template")
    req = Request(prompt="How bees make honey", duration=DUR, resolution="480p", style="upbeat", seed=3)
    events = []
    pipe = Pipeline(settings, progress=events.append)
    result = pipe.make(req, root / "out" / "bees.mp4")
    return {
        "root": root,
        "settings": settings,
        "request": req,
        "result": result,
        "events": events,
        "pipe": pipe,
    }


def test_video_container_streams_and_duration(rendered):
    res = rendered["result"]
    info = probe(res.video)
    assert abs(info["duration"] - DUR) <= 0.5
    v, a = info["video"], info["audio"]
    assert (v["codec"], v["profile"], v["pix_fmt"]) == ("h264", "High", "yuv420p")
    assert v["colour"] == (1, 1, 1)  # BT.709 matrix, primaries and transfer survive the join and mux
    assert (v["width"], v["height"]) == (854, 480)
    assert v["fps"] == pytest.approx(30.0)
    assert (a["codec"], a["sample_rate"], a["channels"]) == ("aac", 48000, 2)
    assert abs(v["duration"] - DUR) <= 1 / 30 + 1e-6
    atoms = top_level_atoms(res.video)
    assert atoms.index("moov") < atoms.index("mdat")  # +faststart
    assert info["metadata"].get("title")


def test_loudness_and_true_peak(rendered):
    i, tp = loudness(rendered["result"].video)
    assert -15.0 <= i <= -13.0
    assert tp <= -1.0 + 0.3  # ebur128 true-peak meter resolution; the mix targets -1 dBTP


def test_sidecars_written_and_valid(rendered):
    res = rendered["result"]
    side = res.sidecars
    for k in ("storyboard", "config", "srt", "vtt", "poster"):
        assert side[k].exists() and side[k].stat().st_size > 0, k
    sb = Storyboard.model_validate_json(side["storyboard"].read_text())
    assert sb.duration == DUR and 3 <= len(sb.scenes) <= 5
    cfg = json.loads(side["config"].read_text())
    assert cfg["request"]["prompt"] == "How bees make honey"
    assert side["vtt"].read_text().startswith("WEBVTT")
    assert "-->" in side["srt"].read_text()
    from PIL import Image

    with Image.open(side["poster"]) as im:
        assert im.size == (854, 480)
    # nothing half-written left beside the output
    assert not [p for p in res.video.parent.iterdir() if ".part" in p.name]


def test_cues_fall_inside_scene_bounds(rendered):
    tl = rendered["result"].timeline
    assert tl.cues
    for seg in tl.segments:
        a, b = seg.start_frame / tl.fps, (seg.start_frame + seg.frames) / tl.fps
        for c in seg.cues:
            assert a <= c.start < c.end <= b + 1e-6


def test_frames_show_picture_title_and_fades(rendered):
    res = rendered["result"]
    tl = res.timeline
    first = frame_at(res.video, 0.0)
    assert first.mean() < 40  # fades in from black
    mid_scene = tl.segments[1]
    t = (mid_scene.start_frame + mid_scene.frames / 2) / tl.fps
    frame = frame_at(res.video, t)
    assert frame.std() > 10 and frame.mean() > 30  # a real picture, not black or flat


def test_progress_events_cover_every_stage(rendered):
    stages = {e.stage for e in rendered["events"]}
    assert {"script", "narration", "visuals", "render", "audio", "mux"} <= stages
    last_render = [e for e in rendered["events"] if e.stage == "render"][-1]
    assert last_render.done == last_render.total == len(rendered["result"].timeline.segments)


def test_second_run_is_all_cache_hits(rendered):
    root = rendered["root"]
    pipe = Pipeline(rendered["settings"])  # a new process would see the same disk cache
    res2 = pipe.make(rendered["request"], root / "out" / "again.mp4")
    assert sum(v["misses"] for v in res2.cache.values()) == 0, res2.cache
    # the streamed previews look the segments up too (and find them), then the final render does
    assert res2.cache["segment"]["hits"] >= len(res2.timeline.segments)
    assert res2.elapsed < rendered["result"].elapsed
    assert probe(res2.video)["duration"] == pytest.approx(
        probe(rendered["result"].video)["duration"], abs=0.05
    )


def test_editing_one_scene_rerenders_one_segment(rendered):
    root = rendered["root"]
    sb = rendered["result"].storyboard
    edited = sb.with_scene(sb.scenes[1].model_copy(update={"narration": "Bees dance to share directions."}))
    pipe = Pipeline(rendered["settings"])
    res = pipe.make(rendered["request"], root / "out" / "edited.mp4", storyboard=edited)
    assert res.cache["segment"]["misses"] == 1
    # the illustrated backend reads the narration (it can add an icon for what is said): only the edited
    # scene's picture is drawn again (the other scenes' and the title card's are cache hits)
    assert res.cache["visuals"] == {"hits": len(sb.scenes) - 1 + 1, "misses": 1}
    assert res.cache["narration"]["misses"] == 1
    assert res.storyboard.scenes[1].narration == "Bees dance to share directions."
    assert abs(probe(res.video)["duration"] - DUR) <= 0.5


def test_portrait_1080_has_portrait_frames(tmp_path, make_settings):
    req = Request(prompt="Rain in the city", duration=6, aspect="9:16", resolution="480p", seed=1)
    res = Pipeline(make_settings(writer="template")).make(req, tmp_path / "p.mp4")
    v = probe(res.video)["video"]
    assert (v["width"], v["height"]) == (480, 854)
    frame = frame_at(res.video, 3.0)
    assert frame.shape[:2] == (854, 480)
    assert np.isfinite(frame).all()


def test_the_picture_key_holds_the_narration_only_for_backends_that_read_it():
    """``illustrated`` draws an icon from the opening sentence: that sentence is in its key, the rest (which
    duration fitting may drop) is not; ``procedural`` never reads the narration; the duration never counts."""
    from reelforge.models import ImageRequest, Scene
    from reelforge.visuals.illustrated import IllustratedImages
    from reelforge.visuals.procedural import ProceduralImages

    def req(narration: str, duration: float = 5.0) -> ImageRequest:
        scene = Scene(index=0, narration=narration, visual="a bee hive", duration=duration)
        return ImageRequest(scene=scene, title="t", style="calm", width=64, height=36, seed=1)

    texts = (
        "Bees fly to flowers. They carry nectar home.",
        "Bees fly to flowers.",
        "Bees make wax. They carry nectar home.",
    )
    for backend, reads in ((ProceduralImages(), False), (IllustratedImages(), True)):
        ident = backend.identity()
        full, first, other = (Pipeline._visual_key(backend, ident, req(t)) for t in texts)
        assert full == first  # a dropped trailing sentence keeps the picture
        assert (full != other) is reads  # a new opening sentence redraws it, if the backend reads it
        assert full == Pipeline._visual_key(backend, ident, req(texts[0], 9.0))  # the duration never counts
