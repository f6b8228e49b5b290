"""Stock footage per scene: search Pexels and Pixabay, rank what they offer, download the best into a library.

For each scene:

1. **Queries.** Stock searches match words, so each query is short: the scene's keywords, then the main
   noun chunk of its visual description, then of its narration (style words such as "close-up", "warm
   light" and filler such as "today" are dropped); at most ``queries`` different ones. A query two scenes
   share is sent once.
2. **Search.** Every query goes to every source that has a key, a few at a time (``concurrency``).
3. **Rank.** Each candidate's words (tags, alt text, the words of its page URL) are compared with the
   scene's own text (visual description, keywords, narration) by MiniLM cosine; the score adds how well
   its shape fits the frame (landscape for 16:9, portrait for 9:16), its resolution (at least the frame's,
   files are at most 1080p) and its length (at least the scene's). A candidate whose text similarity is
   below ``min_score`` is never used: that scene keeps its still.
4. **Choose.** Scenes with the strongest matches choose first, and no video is used twice in one film.
5. **Download** the chosen files (up to 1080p) into the ``stock`` library (``<library_dir>/stock/media/``),
   each with a sidecar of its words and credit, and index them: they are reused by later videos without
   downloading again, and found offline. A failed download gives its scene the next candidate.

The choice is cached per storyboard (scene texts, lengths, frame size, sources): a second run of the same
video asks nothing online. When every source fails (down, rate limited, too slow after the bounded
retries) or ``REELFORGE_OFFLINE`` is set, scenes take matching clips already in the stock library, with a
logged warning, and the rest keep their stills; such a stand-in is never cached. A refused key is an error
(``strict``, ``--images stock``) or a warning and the same fallback (``auto``).
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import Cache, cache_key
from ..embed import TextEmbedder, default_embedder
from ..models import ProgressEvent, Request, Scene, SceneClip, Storyboard
from ..visuals.icons import STOP_WORDS, STYLE_WORDS
from .names import DB_NAME, library_path
from .retrieve import best_start, retrieve, scene_query
from .sources import (
    Candidate,
    HttpSource,
    SourceAuthError,
    SourceError,
    SourceUnavailable,
    media_path,
    offline,
    orientation_of,
    write_sidecar,
)

log = logging.getLogger("reelforge.library")

STAGE = "stock-clips"
STOCK_VERSION = 1
#: weights of the fit terms next to the text similarity (about 0 to 0.8)
W_ORIENT, W_RES, W_DUR = 0.15, 0.10, 0.10
ROUNDS = 3  # choose-and-download rounds: a failed download gives its scene the next candidate
QUERY_WORDS = 4

_FILLER = frozenset(
    {
        "today", "story", "explore", "exploring", "let's", "lets", "we're", "we've", "that's", "here's",
        "there's", "you'll", "you're", "it's", "so", "thing", "things", "part", "parts", "way", "ways",
        "look", "looks", "learn", "discover", "know", "see", "say", "says", "said", "tell", "talk", "think",
        "bold", "vivid", "centered", "centred", "action", "idea", "ideas", "fact", "facts", "key", "main",
        "important", "new", "good", "great", "best", "better", "like", "now", "next", "again", "well",
    }
)  # fmt: skip
_CHUNK = re.compile(
    r"[,;:.!?()\[\]{}/|\"“”]|\b(?:and|or|with|without|of|on|in|into|at|from|under|over|near|by|for|to|is|are|"
    r"was|were|as|while|during|through|across|about|after|before)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z][a-z'’-]*")


def _words(text: str) -> list[str]:
    return [
        w for w in (x.strip("'’-") for x in _WORD.findall(text.lower()))
        if len(w) > 1 and w not in STOP_WORDS and w not in STYLE_WORDS and w not in _FILLER
    ]  # fmt: skip


def _chunks(text: str) -> list[list[str]]:
    """The content words of each noun-ish chunk of ``text`` (split at punctuation and small words)."""
    return [list(dict.fromkeys(c))[:QUERY_WORDS] for c in (_words(p) for p in _CHUNK.split(text or "")) if c]


def scene_queries(scene: Scene, limit: int = 2) -> list[str]:
    """Short search queries for a scene: its keywords, then the fullest chunk of its visual description,
    then of its narration, that says something new (words no query before has all of); at most ``limit``."""
    kw: list[str] = []
    for k in scene.keywords:
        kw += [w for w in _words(k) if w not in kw]
    out: list[str] = []
    seen: list[set[str]] = []
    for chunks in ([kw[:QUERY_WORDS]] if kw else [], _chunks(scene.visual), _chunks(scene.narration)):
        new = [c for c in chunks if not any(set(c) <= s for s in seen)]
        if not new:
            continue
        words = max(new, key=len)  # the first of the longest
        seen.append(set(words))
        out.append(" ".join(words))
        if len(out) >= limit:
            break
    return out


def scene_text(scene: Scene) -> str:
    """What a candidate's words are compared with: the visual description, keywords and narration."""
    return f"{scene_query(scene.visual, scene.keywords)}. {scene.narration}"


# ---- ranking ------------------------------------------------------------------------------------------


def orientation_fit(width: int, height: int, frame_w: int, frame_h: int) -> float:
    """1 for the frame's own shape, 0 for the opposite one (16:9 footage in a 9:16 frame); 0.5 unknown."""
    if not (width and height):
        return 0.5
    diff = abs(math.log((width / height) / (frame_w / frame_h)))
    return max(0.0, 1.0 - diff / math.log((16 / 9) ** 2))


def resolution_fit(width: int, height: int, frame_w: int, frame_h: int) -> float:
    """1 when the file covers the frame without upscaling, else the fraction it does; 0.5 unknown."""
    if not (width and height):
        return 0.5
    return min(1.0, width / frame_w, height / frame_h)


def duration_fit(duration: float, seconds: float) -> float:
    """1 when the video lasts the scene (it would loop otherwise), else the fraction it does; 0.5 unknown."""
    if duration <= 0:
        return 0.5
    return min(1.0, duration / max(seconds, 1e-3))


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    score: float
    text: float  # cosine of the candidate's words with the scene's text
    orientation: float
    resolution: float
    duration: float


def rank(
    candidates: Sequence[Candidate], similarity: Sequence[float], frame: tuple[int, int], seconds: float
) -> list[Ranked]:
    """Candidates for one scene, best first: text similarity plus orientation, resolution and length fit."""
    fw, fh = frame
    out = []
    for c, sim in zip(candidates, similarity, strict=True):
        o = orientation_fit(c.width, c.height, fw, fh)
        r = resolution_fit(c.width, c.height, fw, fh)
        d = duration_fit(c.duration, seconds)
        score = float(sim) + W_ORIENT * o + W_RES * r + W_DUR * d
        out.append(Ranked(c, round(score, 4), round(float(sim), 4), round(o, 3), round(r, 3), round(d, 3)))
    return sorted(out, key=lambda x: (-x.score, x.candidate.key))


def assign(
    ranked: Sequence[Sequence[Ranked]], *, min_score: float, used: set[str] | None = None,
    skip: set[str] | None = None, scenes: Sequence[int] | None = None,
) -> dict[int, Ranked | None]:  # fmt: skip
    """One candidate (or None) for each of ``scenes``: text similarity at least ``min_score``, never one
    in ``used`` or ``skip`` nor one another scene took; scenes with the strongest matches choose first."""
    taken = set(used or ())
    skip = skip or set()
    which = list(range(len(ranked))) if scenes is None else list(scenes)

    def ok(r: Ranked) -> bool:
        return r.text >= min_score and r.candidate.key not in taken and r.candidate.key not in skip

    top = {i: next((r.score for r in ranked[i] if ok(r)), -1.0) for i in which}
    out: dict[int, Ranked | None] = {}
    for i in sorted(which, key=lambda i: (-top[i], i)):
        pick = next((r for r in ranked[i] if ok(r)), None)
        out[i] = pick
        if pick is not None:
            taken.add(pick.candidate.key)
    return out


# ---- the finder ---------------------------------------------------------------------------------------


class _Uncached(Exception):
    """Carries a result out of a cache build that must not be stored (a fallback, a partial search)."""

    def __init__(self, clips: list[SceneClip | None]) -> None:
        super().__init__("not cached")
        self.clips = clips


@dataclass
class StockFinder:
    """Finds a stock clip for each scene (see the module's docstring)."""

    sources: Sequence[HttpSource]
    library: str = "stock"
    min_score: float = 0.3
    queries: int = 2
    concurrency: int = 4
    #: a refused key is an error (``--images stock``); else a warning and the fallback (``auto``)
    strict: bool = True
    embedder: TextEmbedder | None = None
    #: what happened in the last ``find`` (for logs and tests): searches, downloads, reused files
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def active(self) -> list[HttpSource]:
        return [s for s in self.sources if s.available]

    def identity(self) -> dict[str, Any]:
        return {"version": STOCK_VERSION, "sources": [s.identity() for s in self.active], "library": self.library,
                "min_score": self.min_score, "queries": self.queries,
                "weights": [W_ORIENT, W_RES, W_DUR]}  # fmt: skip

    def find(
        self,
        request: Request,
        storyboard: Storyboard,
        *,
        cache: Cache,
        library_dir: Path,
        progress: Callable[[ProgressEvent], None] | None = None,
    ) -> list[SceneClip | None]:
        """A clip (or None: keep the still) for each scene."""
        report = progress or (lambda e: None)
        scenes = list(storyboard.scenes)
        n = len(scenes)
        report(ProgressEvent(stage="clips", done=0, total=n))
        self.stats = {"searches": 0, "downloads": 0, "reused": 0, "failed": 0}
        frame = request.size
        plans = [scene_queries(s, self.queries) for s in scenes]
        key = cache_key(STAGE, self.identity(), list(frame), [scene_text(s) for s in scenes], plans,
                        [round(s.duration, 2) for s in scenes])  # fmt: skip

        def build(d: Path) -> None:
            clips, complete = self._search(scenes, plans, frame, Path(library_dir))
            if not complete:
                raise _Uncached(clips)
            data = [c.model_dump(mode="json") if c else None for c in clips]
            (d / "clips.json").write_text(json.dumps(data, indent=1), encoding="utf-8")

        hit = False
        clips: list[SceneClip | None] = [None] * n
        for _ in range(2):
            try:
                entry, hit = cache.get_or_build(STAGE, key, build)
            except _Uncached as stand_in:
                clips, hit = stand_in.clips, False
                break
            raw = json.loads((entry / "clips.json").read_text(encoding="utf-8"))
            clips = [SceneClip.model_validate(c) if c else None for c in raw]
            if all(c is None or c.path.is_file() for c in clips):
                break
            log.info("stock footage: a clip chosen before is gone; searching again")
            shutil.rmtree(entry, ignore_errors=True)
        found = sum(c is not None for c in clips)
        if hit:
            log.info("stock footage: clips for %d of %d scenes (the choice was cached: nothing asked online)",
                     found, n)  # fmt: skip
        report(ProgressEvent(stage="clips", done=n, total=n, cached=hit, message=f"{found} of {n} scenes"))
        return clips

    # -- searching --------------------------------------------------------------------------------

    def _search(
        self, scenes: list[Scene], plans: list[list[str]], frame: tuple[int, int], library_dir: Path
    ) -> tuple[list[SceneClip | None], bool]:
        """``(clips, complete)``; not complete: a fallback or a partial search (not to be cached)."""
        if offline():
            log.warning("stock footage: REELFORGE_OFFLINE is set; using clips downloaded before")
            return self._from_library(scenes, library_dir), False
        try:
            found, problems = self._candidates(scenes, plans, frame)
        except SourceAuthError:
            raise
        except SourceError as exc:
            log.warning("stock footage unavailable (%s); using clips downloaded before (library '%s'), stills "
                        "for the rest", exc, self.library)  # fmt: skip
            return self._from_library(scenes, library_dir), False
        for p in problems:
            log.warning("stock footage: %s; using the other source's results", p)
        ranked = self._rank(scenes, found, frame)
        clips, complete = self._fetch(scenes, ranked, library_dir)
        log.info("stock footage: clips for %d of %d scenes (%d searches, %d downloaded, %d reused)",
                 sum(c is not None for c in clips), len(scenes), self.stats["searches"], self.stats["downloads"],
                 self.stats["reused"])  # fmt: skip
        return clips, complete and not problems

    def _candidates(
        self, scenes: list[Scene], plans: list[list[str]], frame: tuple[int, int]
    ) -> tuple[list[list[Candidate]], list[str]]:
        """Every scene's candidates (deduplicated, with a file to download), and what failed where some
        source failed; raises when every search failed (or on a refused key, when strict)."""
        sources = self.active
        if not sources:
            raise SourceUnavailable("no stock footage source has an API key")
        orientation = orientation_of(*frame)
        pairs = list(dict.fromkeys((s.name, q) for qs in plans for q in qs for s in sources))
        by_name = {s.name: s for s in sources}
        results: dict[tuple[str, str], list[Candidate] | SourceError] = {}

        def one(pair: tuple[str, str]) -> list[Candidate] | SourceError:
            try:
                return by_name[pair[0]].search(pair[1], orientation=orientation)
            except SourceError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(pairs)))) as pool:
            for pair, res in zip(pairs, pool.map(one, pairs), strict=True):
                results[pair] = res
        self.stats["searches"] = len(pairs)
        errors = {p: r for p, r in results.items() if isinstance(r, SourceError)}
        refused = [e for e in errors.values() if isinstance(e, SourceAuthError)]
        if refused and self.strict:
            raise refused[0]
        first: dict[str, str] = {}  # each failed source's first error
        for (name, _), e in errors.items():
            first.setdefault(name, str(e))
        if pairs and len(errors) == len(pairs):
            raise SourceUnavailable("; ".join(first.values()))
        problems = list(first.values())
        out: list[list[Candidate]] = []
        for qs in plans:
            seen: dict[str, Candidate] = {}
            for q in qs:
                for s in sources:
                    got = results.get((s.name, q))
                    for c in got if isinstance(got, list) else []:
                        if c.link and c.key not in seen:
                            seen[c.key] = c
            out.append(list(seen.values()))
        return out, problems

    def _rank(
        self, scenes: list[Scene], found: list[list[Candidate]], frame: tuple[int, int]
    ) -> list[list[Ranked]]:
        texts = list(dict.fromkeys(c.text or c.query for cs in found for c in cs))
        if not texts:
            return [[] for _ in scenes]
        emb = self.embedder or default_embedder()
        vecs = emb.embed([scene_text(s) for s in scenes] + texts)
        svec, cvec = vecs[: len(scenes)], vecs[len(scenes) :]
        row = {t: i for i, t in enumerate(texts)}
        ranked = []
        for i, (s, cs) in enumerate(zip(scenes, found, strict=True)):
            sims = [float(np.dot(svec[i], cvec[row[c.text or c.query]])) for c in cs]
            ranked.append(rank(cs, sims, frame, s.duration))
            if ranked[-1]:
                top = ranked[-1][0]
                log.debug("scene %d: best stock candidate %s (score %.3f: text %.3f, orientation %.2f, "
                          "resolution %.2f, length %.2f)", i + 1, top.candidate.key, top.score, top.text,
                          top.orientation, top.resolution, top.duration)  # fmt: skip
        return ranked

    # -- downloading and indexing -------------------------------------------------------------------

    def _fetch(
        self, scenes: list[Scene], ranked: list[list[Ranked]], library_dir: Path
    ) -> tuple[list[SceneClip | None], bool]:
        from .library import Library

        by_name = {s.name: s for s in self.active}
        clips: list[SceneClip | None] = [None] * len(scenes)
        used: set[str] = set()
        bad: set[str] = set()
        complete = True
        pending = list(range(len(scenes)))
        with Library(self.library, library_dir, visual="none") as lib:
            for _ in range(ROUNDS):
                picks = {i: r for i, r in assign(ranked, min_score=self.min_score, used=used, skip=bad,
                                                 scenes=pending).items() if r is not None}  # fmt: skip
                if not picks:
                    break
                paths = self._download(lib, [r.candidate for r in picks.values()], by_name, bad)
                if bad:
                    complete = False
                lib.add(list(paths.values()))
                for i, r in picks.items():
                    c = r.candidate
                    clip = self._clip(lib, paths[c.key], r, scenes[i].duration) if c.key in paths else None
                    if clip is None:
                        bad.add(c.key)
                        if c.key in paths:  # not a video after all: forget it, a later run downloads it again
                            log.warning(
                                "stock footage: %s from %s is not a usable video; skipped", c.id, c.source
                            )
                            lib.remove(paths[c.key])
                            paths[c.key].unlink(missing_ok=True)
                        continue
                    clips[i] = clip
                    used.add(c.key)
                pending = [i for i in picks if clips[i] is None]
                if not pending:
                    break
        return clips, complete

    def _download(
        self, lib: Any, chosen: list[Candidate], sources: dict[str, HttpSource], bad: set[str]
    ) -> dict[str, Path]:
        """The library path of each chosen candidate, downloading what is not there yet (in parallel);
        failures go to ``bad``."""
        todo: list[tuple[Candidate, Path]] = []
        paths: dict[str, Path] = {}
        for c in chosen:
            dest = media_path(lib, c)
            if dest.is_file() and dest.stat().st_size > 0:
                paths[c.key] = dest.resolve()
                self.stats["reused"] += 1
                if not dest.with_suffix(".json").is_file():
                    write_sidecar(dest, c)
            else:
                todo.append((c, dest))

        def get(item: tuple[Candidate, Path]) -> SourceError | None:
            c, dest = item
            try:
                sources[c.source].download(c, dest)
                write_sidecar(dest, c)
                return None
            except SourceError as exc:
                return exc

        if todo:
            with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(todo)))) as pool:
                for (c, dest), err in zip(todo, pool.map(get, todo), strict=True):
                    if err is None:
                        paths[c.key] = dest.resolve()
                        self.stats["downloads"] += 1
                    else:
                        log.warning("stock footage: %s; trying the next candidate", err.message)
                        self.stats["failed"] += 1
                        bad.add(c.key)
        return paths

    @staticmethod
    def _clip(lib: Any, path: Path, r: Ranked, seconds: float) -> SceneClip | None:
        """The scene's clip from an indexed file: its first shot that lasts the scene, else its longest."""
        row = lib.store.file_by_path(path)
        if row is None or row.status != "ok":
            return None
        segs = lib.store.segments(lib.store.segment_ids(row.id))
        if not segs:
            return None
        seg = max(segs, key=lambda s: (min(s.end - s.start, seconds), -s.start))
        return SceneClip(path=seg.path, start=best_start(seg.frames, seg.start, seg.end, seconds), end=seg.end,
                         score=r.score, width=seg.width, height=seg.height, segment_id=seg.id,
                         credit=seg.credit or r.candidate.credit)  # fmt: skip

    def _from_library(self, scenes: list[Scene], library_dir: Path) -> list[SceneClip | None]:
        """Matching clips downloaded before (offline, or the sources failed); None where nothing fits."""
        from .library import Library

        if not (library_path(self.library, library_dir) / DB_NAME).is_file():
            return [None] * len(scenes)
        with Library(self.library, library_dir, visual="none", create=False) as lib:
            queries = [scene_query(s.visual, s.keywords) for s in scenes]
            clips = retrieve(lib, queries, [s.duration for s in scenes], threshold=self.min_score)
        log.info("stock footage: %d of %d scenes found a clip downloaded before", sum(c is not None for c in clips),
                 len(scenes))  # fmt: skip
        return clips


def merge_clips(
    first: Sequence[SceneClip | None], then: Sequence[SceneClip | None]
) -> list[SceneClip | None]:
    """Each scene's clip from ``first``, else from ``then`` unless that file is already used."""
    n = max(len(first), len(then))
    a = list(first) + [None] * (n - len(first))
    b = list(then) + [None] * (n - len(then))
    used = {c.path for c in a if c is not None}
    out: list[SceneClip | None] = []
    for x, y in zip(a, b, strict=True):
        if x is None and y is not None and y.path not in used:
            used.add(y.path)
            x = y
        out.append(x)
    return out
