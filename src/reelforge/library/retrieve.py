"""Per-scene clip retrieval: each scene is searched with its OWN visual description and keywords.

* A scene whose best match scores below the threshold keeps its still.
* No clip segment (file + shot) is used twice in one video, and picks are diversified with maximal
  marginal relevance (MMR): a candidate similar to clips already chosen scores lower. Scenes with the
  strongest matches choose first, so a weak scene cannot take the clip a strong one needs.
* Within the chosen shot, the start is the window of the scene's length with the most motion
  (frame-difference energy) and without black or blank frames, from the statistics stored at index time.
* Results are cached; the key holds the library's uid and change counter, so any change to the library
  (add, remove, rebuild) gives new picks, and nothing else does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import Cache, cache_key
from ..models import ProgressEvent, SceneClip, Storyboard
from .library import Hit, Library

log = logging.getLogger("reelforge.library")

FETCH = 24  # candidates per scene
MMR_LAMBDA = 0.75  # relevance vs. diversity
SHORT_PENALTY = 0.05  # score lost by a shot much shorter than the scene (it would loop or run on)
RETRIEVE_VERSION = 1


def scene_query(visual: str, keywords: Sequence[str]) -> str:
    """The scene's own query: its visual description, then its keywords."""
    kw = ", ".join(k for k in keywords if k)
    return f"{visual}. {kw}" if kw else visual


def _bad(f: dict[str, float]) -> bool:
    """A black, white-out or blank frame (fades, slates, lens cap)."""
    return f.get("luma", 0.5) < 0.06 or f.get("luma", 0.5) > 0.97 or f.get("contrast", 1.0) < 0.005


def best_start(frames: Sequence[dict[str, float]], start: float, end: float, length: float) -> float:
    """Where to start in the shot ``[start, end)`` for a scene of ``length`` seconds: the window with the
    most motion and the fewest black/blank frames (by the per-frame statistics stored at index time)."""
    inside = sorted((f for f in frames if start <= f.get("t", 0.0) < end), key=lambda f: f["t"])
    if not inside:
        return start
    latest = max(start, end - length)
    cands = sorted({start, *(f["t"] for f in inside if f["t"] <= latest)})
    if len(cands) == 1 and latest <= start:  # the shot is no longer than the scene
        good = [f for f in inside if not _bad(f)]
        if good and _bad(inside[0]) and good[0]["t"] < end - min(length, end - start) / 2:
            return round(float(good[0]["t"]), 3)
        return round(start, 3)
    top = max(1e-6, max(f.get("motion", 0.0) for f in inside))

    def score(t0: float) -> float:
        win = [f for f in inside if t0 <= f["t"] < t0 + length] or [
            min(inside, key=lambda f: abs(f["t"] - t0))
        ]
        motion = float(np.mean([f.get("motion", 0.0) for f in win])) / top
        bad = sum(_bad(f) for f in win) / len(win)
        return motion - 2.0 * bad - 0.01 * (t0 - start) / max(length, 1e-3)

    return round(float(max(cands, key=score)), 3)


def choose(
    hits: Sequence[Sequence[Hit]],
    durations: Sequence[float],
    vector: Callable[[int], np.ndarray | None],
    *,
    threshold: float,
    mmr_lambda: float = MMR_LAMBDA,
) -> list[Hit | None]:
    """One hit (or None) per scene: above the threshold, never the same segment twice, diversified."""
    n = len(hits)
    picks: list[Hit | None] = [None] * n
    used: set[int] = set()
    chosen_vecs: list[np.ndarray] = []
    vec_cache: dict[int, np.ndarray | None] = {}

    def vec(sid: int) -> np.ndarray | None:
        if sid not in vec_cache:
            vec_cache[sid] = vector(sid)
        return vec_cache[sid]

    order = sorted(range(n), key=lambda i: -(hits[i][0].score if hits[i] else -1.0))
    for i in order:
        length = durations[i]
        best: tuple[float, Hit] | None = None
        for h in hits[i]:
            if h.score < threshold or h.segment_id in used or not h.path.exists():
                continue
            rel = h.score - SHORT_PENALTY * (1.0 - min(1.0, h.length / max(length, 1e-3)))
            red = 0.0
            v = vec(h.segment_id)
            if v is not None and chosen_vecs:
                red = max(float(v @ c) for c in chosen_vecs)
            mmr = mmr_lambda * rel - (1.0 - mmr_lambda) * red
            if best is None or mmr > best[0]:
                best = (mmr, h)
        if best is not None:
            h = best[1]
            picks[i] = h
            used.add(h.segment_id)
            v = vec(h.segment_id)
            if v is not None:
                chosen_vecs.append(v)
    return picks


def retrieve(
    library: Library, queries: Sequence[str], durations: Sequence[float], *, threshold: float
) -> list[SceneClip | None]:
    """The clip for each scene (None: keep the still)."""
    hits = library.search_many(list(queries), k=FETCH, fetch=FETCH)
    picks = choose(hits, durations, library.segment_vector, threshold=threshold)
    out: list[SceneClip | None] = []
    for h, length in zip(picks, durations, strict=True):
        if h is None:
            out.append(None)
            continue
        out.append(SceneClip(path=h.path, start=best_start(h.frames, h.start, h.end, length), end=h.end,
                             score=round(h.score, 4), width=h.width, height=h.height, segment_id=h.segment_id,
                             credit=h.credit))  # fmt: skip
    return out


def scene_clips(
    settings: Any,
    cache: Cache,
    storyboard: Storyboard,
    progress: Callable[[ProgressEvent], None] | None = None,
) -> list[SceneClip | None]:
    """Clips for the storyboard's scenes from ``settings.library`` (cached by the library's version)."""
    report = progress or (lambda e: None)
    n = len(storyboard.scenes)
    report(ProgressEvent(stage="clips", done=0, total=n))
    with Library(settings.library, Path(settings.library_dir), create=False) as lib:
        queries = [scene_query(s.visual, s.keywords) for s in storyboard.scenes]
        durations = [s.duration for s in storyboard.scenes]
        key = cache_key("library-retrieve", RETRIEVE_VERSION, settings.library, lib.version, queries,
                        [round(d, 2) for d in durations], settings.library_threshold)  # fmt: skip

        def build(d: Path) -> None:
            picks = retrieve(lib, queries, durations, threshold=settings.library_threshold)
            data = [p.model_dump(mode="json") if p else None for p in picks]
            (d / "clips.json").write_text(json.dumps(data, indent=1), encoding="utf-8")

        entry, hit = cache.get_or_build("library-retrieve", key, build)
    raw = json.loads((entry / "clips.json").read_text(encoding="utf-8"))
    clips = [SceneClip.model_validate(c) if c else None for c in raw]
    for i, c in enumerate(clips):
        if c is not None and not c.path.is_file():
            log.warning(
                "scene %d: clip %s is gone; using the still (run 'reelforge library rebuild')", i + 1, c.path
            )
            clips[i] = None
    found = sum(c is not None for c in clips)
    log.info("library %s: clips for %d of %d scenes", settings.library, found, n)
    report(ProgressEvent(stage="clips", done=n, total=n, cached=hit, message=f"{found} of {n} scenes"))
    return clips
