"""The timeline as the browser renderer reads it: asset paths become URLs, nothing else changes, and the
committed JSON Schema is the model's."""

from __future__ import annotations

import json
import re
from pathlib import Path

from reelforge.compose.export import asset_names, asset_paths, timeline_for_browser
from reelforge.models import AudioClip, AudioPlan, Cue, Keyframe, Layer, Motion, Segment, Timeline

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


def _with_layers(tmp: Path) -> Timeline:
    """The timeline with an icon and a counter over scene 0, and an arrow over scene 1 that reuses scene 0's still
    as its image (one file, one asset)."""
    tl = _timeline(tmp)
    icon = Layer(image=tmp / "icon.png", width=96, height=96,
                 keyframes=(Keyframe(t=0.2, x=100, y=80, scale=0.6, opacity=0, ease="out"),
                            Keyframe(t=0.55, x=100, y=80)))  # fmt: skip
    counter = Layer(image=tmp / "n0.png", width=64, height=40, frames=(tmp / "n0.png", tmp / "n1.png", tmp / "n 2?.PNG"),
                    frame_times=(0.3, 0.6, 0.9), keyframes=(Keyframe(t=0, x=300, y=60),))  # fmt: skip
    arrow = Layer(image=tmp / "a.png", width=40, height=10, reveal_axis="y",
                  keyframes=(Keyframe(t=0, x=20, y=20, reveal=0, ease="inout"), Keyframe(t=1, x=20, y=20)))  # fmt: skip
    segs = list(tl.segments)
    segs[1] = segs[1].model_copy(update={"layers": (icon, counter)})
    segs[2] = segs[2].model_copy(update={"layers": (arrow,), "transition": "slide", "transition_frames": 10})
    return tl.model_copy(update={"segments": tuple(segs)})


def test_layer_images_become_urls(tmp_path: Path) -> None:
    tl = _with_layers(tmp_path)
    names = asset_names(tl)
    by_path = {p: n for n, p in names.items()}
    doc = timeline_for_browser(tl, lambda p: f"assets/{by_path[p]}")
    layers = doc["segments"][1]["layers"]
    assert [ly["image"] for ly in layers] == [
        f"assets/{by_path[tmp_path / 'icon.png']}",
        f"assets/{by_path[tmp_path / 'n0.png']}",
    ]
    assert layers[1]["frames"] == [
        f"assets/{by_path[tmp_path / n]}" for n in ("n0.png", "n1.png", "n 2?.PNG")
    ]
    assert (
        doc["segments"][2]["layers"][0]["image"] == "assets/0.png"
    )  # a.png: the still it shares a file with
    assert doc["segments"][2]["transition"] == "slide" and doc["segments"][2]["transition_frames"] == 10
    assert str(tmp_path) not in json.dumps(doc)
    # every URL in the document is an asset name, and every asset is used
    urls = set(re.findall(r'"assets/([^"]+)"', json.dumps(doc)))
    assert urls == set(names)
    # everything else of a layer is the server's, field for field
    plain = tl.model_dump(mode="json", by_alias=True)["segments"][1]["layers"]
    for got, orig in zip(layers, plain, strict=True):
        assert {k: v for k, v in got.items() if k not in ("image", "frames")} == {
            k: v for k, v in orig.items() if k not in ("image", "frames")
        }
    back = Timeline.model_validate(doc)
    assert back.segments[1].layers[1].frame_times == (0.3, 0.6, 0.9)


def test_layer_assets_are_named_in_first_use_order(tmp_path: Path) -> None:
    tl = _with_layers(tmp_path)
    paths = asset_paths(tl)
    assert paths == [
        tmp_path / n for n in ("a.png", "icon.png", "n0.png", "n1.png", "n 2?.PNG", "b.PNG", "clip.mp4")
    ] + [tmp_path / "s0.wav", tmp_path / "s1.wav", tmp_path / "music.wav"]
    names = asset_names(tl)
    assert list(names) == [
        "0.png",
        "1.png",
        "2.png",
        "3.png",
        "4.png",
        "5.png",
        "6.mp4",
        "7.wav",
        "8.wav",
        "9.wav",
    ]
    assert all(re.fullmatch(r"\d+(\.[a-z0-9]+)?", n) for n in names)  # safe: no path, no odd characters
    assert list(names.values()) == paths  # unique: one name per file
