"""The timeline as the browser renderer reads it: the same document the server renders, with every asset
path (stills, clips, layer images, narration, music) rewritten to a URL the browser can fetch.

The schema is documented in docs/timeline-schema.md (JSON Schema: docs/timeline.schema.json).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..models import Timeline

UrlFor = Callable[[Path], str]
_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")


def timeline_for_browser(timeline: Timeline, url_for: UrlFor) -> dict[str, Any]:
    """The timeline as JSON-ready data with ``url_for(path)`` in place of every asset path.

    ``url_for`` is called once per distinct path (a still shared by the title card and the first scene is one
    asset); relative URLs are resolved by the renderer against the timeline document's own URL. The result still
    validates as a :class:`Timeline` (a URL is a valid path string), so it can be read back with
    ``Timeline.model_validate``.
    """
    urls: dict[Path, str] = {}

    def url(path: Path | str | None) -> str | None:
        if path is None:
            return None
        p = Path(path)
        if p not in urls:
            urls[p] = url_for(p)
        return urls[p]

    doc: dict[str, Any] = timeline.model_dump(mode="json", by_alias=True)
    for seg, model in zip(doc["segments"], timeline.segments, strict=True):
        seg["image"] = url(model.image)
        seg["clip"] = url(model.clip)
        for layer, model_layer in zip(seg["layers"], model.layers, strict=True):
            layer["image"] = url(model_layer.image)
            layer["frames"] = [url(f) for f in model_layer.frames]
    audio = doc["audio"]
    for clip, model_clip in zip(audio["narration"], timeline.audio.narration, strict=True):
        clip["path"] = url(model_clip.path)
    audio["music"] = url(timeline.audio.music)
    return doc


def asset_paths(timeline: Timeline) -> list[Path]:
    """Every distinct asset file the timeline refers to, in first-use order: each segment's still, clip and
    layer images (a layer's ``image``, then a counter's ``frames``), then the narration and the music."""
    seen: dict[Path, None] = {}
    for seg in timeline.segments:
        seen.setdefault(seg.image)
        if seg.clip is not None:
            seen.setdefault(seg.clip)
        for layer in seg.layers:
            seen.setdefault(layer.image)
            for f in layer.frames:
                seen.setdefault(f)
    for clip in timeline.audio.narration:
        seen.setdefault(clip.path)
    if timeline.audio.music is not None:
        seen.setdefault(timeline.audio.music)
    return list(seen)


def asset_names(timeline: Timeline) -> dict[str, Path]:
    """A public name for every asset (``"0.png"``, ``"1.wav"``, ...: first-use index + the file's suffix) mapped to
    its path. An assets route serves exactly these names, so a URL can never reach any other file::

        names = asset_names(tl)
        by_path = {p: n for n, p in names.items()}
        doc = timeline_for_browser(tl, lambda p: f"assets/{by_path[p]}")  # relative to the timeline's URL
    """
    names: dict[str, Path] = {}
    for i, p in enumerate(asset_paths(timeline)):
        suffix = p.suffix.lower()
        names[f"{i}{suffix if _SUFFIX.fullmatch(suffix) else ''}"] = p
    return names
