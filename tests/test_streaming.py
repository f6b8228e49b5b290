"""Scenes as a stream (#16): each scene is spoken, drawn and rendered while the writer writes the next one;
the final video is the one the finished storyboard gives, made from the segments already rendered."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from reelforge.errors import Cancelled
from reelforge.models import ProgressEvent, Request, Storyboard
from reelforge.pipeline import Pipeline
from reelforge.registry import default_registry
from reelforge.script.base import ScriptHead, StoryPart, parts_of
from reelforge.script.template import TemplateWriter
from reelforge.service.hls import PLAYLIST, HlsBuilder
from reelforge.tools import find_ffmpeg

from .mediatools import loudness, probe

REQ = Request(prompt="How bees make honey", duration=16, resolution="480p", seed=2)
SCENE_DELAY = 1.2  # the stand-in writer takes this long per scene, like a small local model


class SlowWriter(TemplateWriter):
    """The template writer's storyboard, streamed a scene at a time with a delay (a slow model). Before its
    last scene it waits (up to a minute) for scene 1 to be playable, and before scene 2 for the title card:
    a pipeline that waited for the whole script could never get there, so the test does not depend on how
    fast the machine is."""

    name: ClassVar[str] = "slow"
    written_at: ClassVar[dict[int, float]] = {}
    playable: ClassVar[dict[str, threading.Event]] = {}
    overlapped: ClassVar[dict[str, bool]] = {}

    def stream(self, request: Request) -> Iterator[StoryPart]:
        parts = list(parts_of(self.execute(request)))
        last = max(p.index for p in parts if not isinstance(p, ScriptHead))
        for part in parts:
            if not isinstance(part, ScriptHead):
                if part.index == 1 and "title" in SlowWriter.playable:
                    SlowWriter.overlapped["title"] = SlowWriter.playable["title"].wait(60)
                if part.index == last and "scene0" in SlowWriter.playable:
                    SlowWriter.overlapped["scene0"] = SlowWriter.playable["scene0"].wait(60)
                time.sleep(SCENE_DELAY)
                SlowWriter.written_at[part.index] = time.monotonic()
            yield part


def registry() -> Any:
    reg = default_registry()
    reg.register("script", SlowWriter)
    return reg


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[float, ProgressEvent]] = []
        self.lock = threading.Lock()

    def __call__(self, e: ProgressEvent) -> None:
        with self.lock:
            self.events.append((time.monotonic(), e))
        if e.stage == "preview" and e.done > 0:
            name = "title" if e.scene is None else f"scene{e.scene}"
            if name in SlowWriter.playable:
                SlowWriter.playable[name].set()

    def of(self, stage: str) -> list[tuple[float, ProgressEvent]]:
        return [(t, e) for t, e in self.events if e.stage == stage and e.done > 0]


@pytest.fixture(scope="module")
def streamed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from reelforge.config import load_settings

    root = tmp_path_factory.mktemp("stream")
    settings = load_settings(None, cache_dir=root / "cache", writer="slow", images="illustrated")
    rec = Recorder()
    written: list[Storyboard] = []
    SlowWriter.written_at.clear()
    SlowWriter.overlapped.clear()
    SlowWriter.playable.update(title=threading.Event(), scene0=threading.Event())
    result = Pipeline(settings, registry=registry(), progress=rec).make(
        REQ, root / "v.mp4", preview_sound=True, on_storyboard=written.append
    )
    return {"root": root, "settings": settings, "rec": rec, "result": result, "written": written}


def test_scenes_are_rendered_while_later_scenes_are_being_written(streamed: dict[str, Any]) -> None:
    rec, result = streamed["rec"], streamed["result"]
    n = len(result.storyboard.scenes)
    assert n >= 3
    previews = rec.of("preview")
    assert len(previews) == len(result.timeline.segments)  # the title card and every scene
    last_written = max(SlowWriter.written_at.values())
    # scene 1 was playable before the writer wrote the last scene, and the title card before scene 2: the
    # stages overlap instead of adding up
    assert SlowWriter.overlapped == {"title": True, "scene0": True}
    first_scene_ready = min(t for t, e in previews if e.scene == 0)
    assert first_scene_ready < last_written
    # every scene's narration started before the last scene was written
    spoken = {e.scene: t for t, e in rec.of("narration")}
    assert spoken[0] < last_written


def test_the_final_render_reuses_every_streamed_segment(streamed: dict[str, Any]) -> None:
    rec, result = streamed["rec"], streamed["result"]
    renders = [e for _, e in rec.of("render") if e.message.startswith("segment")]
    assert len(renders) == len(result.timeline.segments)
    assert all(e.cached for e in renders), "a segment was rendered twice"
    assert probe(result.video)["duration"] == pytest.approx(REQ.duration, abs=0.05)
    # the storyboard was reported as soon as it was written (a job run again need not write it again)
    assert streamed["written"] and streamed["written"][0].title == result.storyboard.title


def test_preview_sound_covers_each_segment_at_about_the_target_loudness(streamed: dict[str, Any]) -> None:
    """Each preview carries its own provisional mix, exactly its segment's length; the scenes' mixes are
    levelled near the video's target (the final mix is measured over the whole video)."""
    result, settings, root = streamed["result"], streamed["settings"], streamed["root"]
    tl = result.timeline
    # the run above deleted its scratch sounds with its work folder: stream it again (from the cache) into a
    # progressive-playback builder, as the service does
    hls = HlsBuilder(root / "job", find_ffmpeg(None), tag="t")
    again = Pipeline(settings, registry=registry(), progress=hls).make(
        REQ, root / "again.mp4", preview_sound=True
    )
    segments = hls.finish(ended=True)
    assert len(segments) == len(tl.segments)
    assert sum(s.duration for s in segments) == pytest.approx(REQ.duration, abs=0.02)
    playlist = (root / "job" / PLAYLIST).read_text()
    assert playlist.rstrip().endswith("#EXT-X-ENDLIST")
    for seg in segments[1:]:  # the scenes (the title card is music only)
        ts = root / "job" / "hls" / seg.name
        info = probe(ts)
        assert info["video"]["codec"] == "h264" and info["audio"]["codec"] == "aac"
        assert loudness(ts)[0] == pytest.approx(-14.0, abs=3.0)
    assert again.video.exists()


def test_cancel_while_the_writer_writes_stops_quickly(tmp_path: Path, make_settings: Any) -> None:
    """Cancelled as scene 1 is written (the rest still to come): make stops within seconds of the cancel,
    however long the set-up before it took on a loaded machine, and writes nothing."""
    cancel = threading.Event()
    settings = make_settings(writer="slow", images="procedural")
    cancelled_at: list[float] = []

    def on_event(e: ProgressEvent) -> None:
        if e.stage == "script" and e.done == 1 and not cancel.is_set():
            cancelled_at.append(time.monotonic())
            cancel.set()

    pipe = Pipeline(settings, registry=registry(), progress=on_event, cancel=cancel)
    with pytest.raises(Cancelled):
        pipe.make(REQ, tmp_path / "v.mp4")
    assert cancelled_at and time.monotonic() - cancelled_at[0] < 3 * SCENE_DELAY + 2
    assert not (tmp_path / "v.mp4").exists()
