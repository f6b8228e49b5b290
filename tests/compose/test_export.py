"""The timeline as the browser renderer reads it: asset paths become URLs, nothing else changes, and the
committed JSON Schema is the model's."""

from __future__ import annotations

import json
from pathlib import Path

from reelforge.compose.export import asset_names, asset_paths, timeline_for_browser
from reelforge.models import AudioClip, AudioPlan, Cue, Motion, Segment, Timeline

ROOT = Path(__file__).resolve().parents[2]


def _timeline(tmp: Path) -> Timeline:
    a, b, clip = tmp / "a.png", tmp / "b.PNG", tmp / "clip.mp4"
    return Timeline(
        width=854,
        height=480,
        fps=30,
        frames=120,
        title="T",
        segments=(
            Segment(kind="title", index=-1, start_frame=0, frames=30, image=a, text="T", dim=0.45, blur=8),
            Segment(
                kind="scene",
                index=0,
                start_frame=30,
                frames=40,
                image=a,
                motion=Motion(zoom_from=1.1, zoom_to=1.0, pan_from=(0.3, 0.6), pan_to=(0.7, 0.4)),
                cues=(Cue(start=1.5, end=2.0, text="one\ntwo"),),
            ),
            Segment(
                kind="scene",
                index=1,
                start_frame=70,
                frames=50,
                image=b,
                clip=clip,
                clip_start=1.5,
                layout="blend",
            ),
        ),
        cues=(Cue(start=1.5, end=2.0, text="one\ntwo"),),
        audio=AudioPlan(
            narration=(AudioClip(path=tmp / "s0.wav", start=1.4), AudioClip(path=tmp / "s1.wav", start=2.5)),
            music=tmp / "music.wav",
            speech=((1.4, 2.0), (2.5, 3.0)),
        ),
    )


def test_asset_paths_become_urls_and_nothing_else_changes(tmp_path: Path) -> None:
    tl = _timeline(tmp_path)
    calls: list[Path] = []

    def url_for(p: Path) -> str:
        calls.append(p)
        return f"/v1/videos/abc/assets/{p.name}"

    doc = timeline_for_browser(tl, url_for)
    assert doc["schema"] == "reelforge.timeline/1"
    assert [s["image"] for s in doc["segments"]] == ["/v1/videos/abc/assets/a.png"] * 2 + [
        "/v1/videos/abc/assets/b.PNG"
    ]
    assert [s["clip"] for s in doc["segments"]] == [None, None, "/v1/videos/abc/assets/clip.mp4"]
    assert [c["path"] for c in doc["audio"]["narration"]] == [
        "/v1/videos/abc/assets/s0.wav",
        "/v1/videos/abc/assets/s1.wav",
    ]
    assert doc["audio"]["music"] == "/v1/videos/abc/assets/music.wav"
    assert len(calls) == len(set(calls)) == 6  # once per distinct file (a.png is used twice)
    # no local path leaks into the document
    assert str(tmp_path) not in json.dumps(doc)
    # everything else is the server's timeline, field for field
    plain = tl.model_dump(mode="json", by_alias=True)
    for seg, orig in zip(doc["segments"], plain["segments"], strict=True):
        assert {k: v for k, v in seg.items() if k not in ("image", "clip")} == {
            k: v for k, v in orig.items() if k not in ("image", "clip")
        }
    assert {k: v for k, v in doc.items() if k not in ("segments", "audio")} == {
        k: v for k, v in plain.items() if k not in ("segments", "audio")
    }
    # and it is still a valid timeline document
    back = Timeline.model_validate(doc)
    assert back.frames == tl.frames and back.segments[2].layout == "blend"
    json.dumps(doc)  # JSON-ready


def test_without_music_or_clips(tmp_path: Path) -> None:
    tl = _timeline(tmp_path)
    tl = tl.model_copy(update={"audio": AudioPlan(), "segments": tl.segments[:2]})
    doc = timeline_for_browser(tl, lambda p: "u/" + p.name)
    assert doc["audio"]["music"] is None
    assert doc["audio"]["narration"] == []
    assert all(s["clip"] is None for s in doc["segments"])


def test_asset_names_are_safe_and_stable(tmp_path: Path) -> None:
    tl = _timeline(tmp_path)
    names = asset_names(tl)
    assert list(names) == ["0.png", "1.png", "2.mp4", "3.wav", "4.wav", "5.wav"]
    assert list(names.values()) == asset_paths(tl)
    assert asset_names(tl) == names
    odd = tl.model_copy(
        update={
            "segments": (tl.segments[0].model_copy(update={"image": tmp_path / "x.p?n g", "text": None}),)
        }
    )
    assert next(iter(asset_names(odd))) == "0"  # a suffix that is not plain letters/digits is dropped


def test_committed_json_schema_is_the_models() -> None:
    committed = json.loads((ROOT / "docs" / "timeline.schema.json").read_text(encoding="utf-8"))
    generated = Timeline.model_json_schema(by_alias=True)
    assert {k: v for k, v in committed.items() if not k.startswith("$") or k == "$defs"} == generated, (
        "docs/timeline.schema.json is stale: run `python scripts/export_timeline_schema.py`"
    )
    assert committed["$id"].endswith("timeline.schema.json")
    assert committed["properties"]["schema"]["const"] == "reelforge.timeline/1"
