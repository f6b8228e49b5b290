"""What a clip is about, in words: its file and folder names, sidecar captions and source tags.

``ApplyEyeMakeup`` (UCF101) becomes "apply eye makeup", ``ocean_waves-01`` becomes "ocean waves"; camera and
download noise (``v_``, ``g01``, ``c01``, ``1080p``, ``pexels``, bare numbers) is dropped. Sidecars next to a
clip (``clip.txt``, ``clip.json``, or ``clip.mp4.txt``) add captions, tags and time-ranged shot captions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
_SPLIT = re.compile(r"[\s_\-.+,;()\[\]{}]+")
_NOISE_TOKEN = re.compile(r"^(?:[a-z]?\d+[a-z]?|\d+p|\d+k|\d+x\d+|\d+fps|[a-f0-9]{8,})$")
_NOISE_WORDS = {
    "v", "vid", "video", "videos", "clip", "clips", "mov", "img", "dsc", "dji", "gopro", "mvi", "pxl",
    "dcim", "gx", "gh", "gopr", "dscf", "dscn", "imgp", "mah", "sdc",  # camera file and folder names
    "pexels", "pixabay", "videvo", "stock", "footage", "hd", "sd", "uhd", "fhd", "qhd", "final", "copy",
    "edit", "edited", "export", "raw", "proxy", "fps", "h264", "h265", "hevc", "x264", "mp4", "mkv", "avi",
    "webm",
}  # fmt: skip
_MAX_CAPTION = 2000


def humanize(name: str) -> str:
    """``v_ApplyEyeMakeup_g01_c01`` -> "apply eye makeup"; ``ocean-waves_2`` -> "ocean waves"."""
    words = []
    for part in _SPLIT.split(name):
        for tok in _CAMEL.split(part):
            low = tok.lower()
            if len(low) < 2 or low in _NOISE_WORDS or _NOISE_TOKEN.match(low):
                continue
            words.append(low)
    return " ".join(words)


def url_slug_words(url: str) -> str:
    """``https://www.pexels.com/video/waves-crashing-on-rocks-853889/`` -> "waves crashing on rocks"."""
    path = url.split("?", 1)[0].rstrip("/")
    last = path.rsplit("/", 1)[-1]
    words = [w for w in last.split("-") if w and not w.isdigit()]
    return " ".join(words)


@dataclass
class ShotCaption:
    start: float
    end: float
    text: str


@dataclass
class Description:
    """Everything known about a clip in words, and where each part came from."""

    name: str = ""  # from the file name
    folders: list[str] = field(default_factory=list)  # from the folders between the library root and the file
    captions: list[str] = field(default_factory=list)  # sidecar captions
    tags: list[str] = field(default_factory=list)
    shots: list[ShotCaption] = field(default_factory=list)  # time-ranged captions from a JSON sidecar
    source: dict[str, Any] = field(default_factory=dict)  # e.g. {"site": "pexels", "id": 1, "credit": "..."}

    def text(self, start: float | None = None, end: float | None = None) -> str:
        """One text for the embedder: captions first (the best evidence), then tags, name and folders.
        With ``start``/``end``, shot captions overlapping that span come first."""
        parts: list[str] = []
        if start is not None and end is not None:
            parts += [s.text for s in self.shots if s.start < end and s.end > start]
        parts += self.captions
        if self.tags:
            parts.append(", ".join(self.tags))
        if self.name:
            parts.append(self.name)
        parts += [f for f in reversed(self.folders) if f and f not in parts]
        seen: set[str] = set()
        out = []
        for p in parts:
            p = " ".join(p.split())
            if p and p.lower() not in seen:
                seen.add(p.lower())
                out.append(p)
        return ". ".join(out)[:_MAX_CAPTION]

    @property
    def credit(self) -> str | None:
        c = self.source.get("credit")
        return str(c) if c else None


def sidecars(path: Path) -> list[Path]:
    stem = path.with_suffix("")
    cands = [stem.with_suffix(".txt"), stem.with_suffix(".json"), Path(f"{path}.txt"), Path(f"{path}.json")]
    return [c for c in dict.fromkeys(cands) if c.is_file()]


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if isinstance(v, (list, tuple)):
        out = []
        for x in v:
            if isinstance(x, str):
                out.append(x)
            elif isinstance(x, dict) and isinstance(x.get("title") or x.get("name"), str):
                out.append(str(x.get("title") or x.get("name")))
        return out
    return []


def describe(path: Path, root: Path | None = None) -> Description:
    """The description of ``path``; ``root`` is the folder the user added (folder names below it count)."""
    d = Description(name=humanize(path.stem))
    try:
        rel = path.parent.relative_to(root) if root is not None else Path(path.parent.name)
    except ValueError:
        rel = Path(path.parent.name)
    d.folders = [h for h in (humanize(p) for p in rel.parts[-3:]) if h]
    for side in sidecars(path):
        try:
            raw = side.read_text(encoding="utf-8", errors="replace")[:100_000]
        except OSError:
            continue
        if side.suffix == ".txt":
            text = " ".join(raw.split())
            if text:
                d.captions.append(text[:_MAX_CAPTION])
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        for key in ("caption", "captions", "description", "alt", "title"):
            d.captions += [c for c in _as_list(data.get(key)) if c.strip()]
        d.tags += [t for t in _as_list(data.get("tags")) + _as_list(data.get("keywords")) if t.strip()]
        if isinstance(data.get("url"), str) and (slug := url_slug_words(data["url"])):
            d.captions.append(slug)
        for s in data.get("segments") or data.get("shots") or []:
            if isinstance(s, dict) and isinstance(s.get("caption") or s.get("text"), str):
                try:
                    d.shots.append(ShotCaption(float(s.get("start", 0)), float(s.get("end", 1e9)),
                                               str(s.get("caption") or s.get("text"))))  # fmt: skip
                except (TypeError, ValueError):
                    continue
        if isinstance(data.get("source"), dict):
            d.source = {str(k): v for k, v in data["source"].items() if isinstance(v, (str, int, float))}
    d.captions = list(dict.fromkeys(d.captions))
    d.tags = list(dict.fromkeys(d.tags))
    return d
