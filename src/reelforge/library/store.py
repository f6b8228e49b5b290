"""The library's metadata and vectors in SQLite (WAL): the source of truth the FAISS index is built from.

One row per file (path, mtime, size, fast content hash, probe facts, status and the reason when rejected)
and one per segment (a shot: start/end, the text that was embedded, per-frame statistics, what the frames
show as ImageNet classes with probabilities, the vectors as float32 blobs). Each file is committed on its own, so a crash mid-``add`` loses at most the file in hand.
``version`` goes up on every change; with the library's random ``uid`` it keys cached retrievals.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: 2: segments.labels (content classes); text vectors may hold content. Opening a schema-1 library adds the
#: column and bumps the version, so saved FAISS files (whose note names the old version) are rebuilt.
SCHEMA = 2
HASH_CHUNK = 1 << 20  # 1 MiB from each end

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT,
    status TEXT NOT NULL,              -- ok | rejected | duplicate
    reason TEXT,
    duration REAL, width INTEGER, height INTEGER, fps REAL, codec TEXT,
    description TEXT,                  -- JSON: name, folders, captions, tags, shots, source
    credit TEXT,
    text_embedder TEXT, visual_embedder TEXT,
    frames_decoded INTEGER, sample_seconds REAL,
    added_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_hash ON files(hash);
CREATE TABLE IF NOT EXISTS segments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    start REAL NOT NULL,
    end REAL NOT NULL,
    text TEXT NOT NULL,
    frames TEXT NOT NULL,              -- JSON list of {t, luma, contrast, motion, key}
    mean_rgb TEXT,
    text_vec BLOB NOT NULL,
    visual_vec BLOB,
    labels TEXT                        -- JSON list of [class index, class name, probability]
);
CREATE INDEX IF NOT EXISTS segments_file ON segments(file_id);
"""


def content_hash(path: Path, size: int | None = None) -> str:
    """Fast fingerprint: BLAKE2b of the size and the first and last MiB (not the whole file)."""
    size = path.stat().st_size if size is None else size
    h = hashlib.blake2b(digest_size=16)
    h.update(str(size).encode())
    with path.open("rb") as fh:
        h.update(fh.read(HASH_CHUNK))
        if size > HASH_CHUNK:
            fh.seek(max(HASH_CHUNK, size - HASH_CHUNK))
            h.update(fh.read(HASH_CHUNK))
    return h.hexdigest()


def to_blob(v: np.ndarray | None) -> bytes | None:
    return None if v is None else np.asarray(v, dtype=np.float32).tobytes()


def from_blob(b: bytes | None) -> np.ndarray | None:
    return None if b is None else np.frombuffer(b, dtype=np.float32)


@dataclass(frozen=True)
class FileRow:
    id: int
    path: Path
    size: int
    mtime_ns: int
    hash: str | None
    status: str
    reason: str | None
    duration: float | None
    width: int | None
    height: int | None
    fps: float | None
    credit: str | None
    segments: int = 0
    visual_embedder: str | None = None  # what made the file's visual vectors and content labels


@dataclass(frozen=True)
class SegmentRow:
    id: int
    file_id: int
    path: Path
    start: float
    end: float
    text: str
    frames: list[dict[str, float]]
    width: int
    height: int
    credit: str | None
    labels: list[tuple[int, str, float]] = field(default_factory=list)  # what the frames show, best first
    mean_rgb: tuple[float, float, float] | None = None


class Store:
    def __init__(self, db: Path) -> None:
        db.parent.mkdir(parents=True, exist_ok=True)
        self.path = db
        self._lock = threading.RLock()
        self.conn = sqlite3.connect(str(db), timeout=30, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        with self.tx():
            for stmt in _DDL.strip().split(";"):
                if stmt.strip():
                    self.conn.execute(stmt)
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('uid', ?)", (uuid.uuid4().hex,))
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('version', '0')")
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('created', ?)", (str(time.time()),))
            self._migrate()

    def _migrate(self) -> None:
        """Bring an older library's tables up to ``SCHEMA`` (inside the opening transaction)."""
        cols = {str(r[1]) for r in self.conn.execute("PRAGMA table_info(segments)")}
        if "labels" not in cols:
            self.conn.execute("ALTER TABLE segments ADD COLUMN labels TEXT")
            Store.bump(self.conn)
        self.conn.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA),))

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction (BEGIN IMMEDIATE ... COMMIT), rolled back on any error."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    # -- meta -------------------------------------------------------------------------------------

    def meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else default

    @property
    def uid(self) -> str:
        return self.meta("uid") or ""

    @property
    def version(self) -> int:
        return int(self.meta("version", "0") or 0)

    @staticmethod
    def bump(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='version'")

    # -- files ------------------------------------------------------------------------------------

    _FILE_COLS = "id, path, size, mtime_ns, hash, status, reason, duration, width, height, fps, credit, visual_embedder"

    def _file(self, row: Sequence[Any], segments: int = 0) -> FileRow:
        return FileRow(int(row[0]), Path(row[1]), int(row[2]), int(row[3]), row[4], str(row[5]), row[6],
                       row[7], row[8], row[9], row[10], row[11], segments, row[12])  # fmt: skip

    def file_by_path(self, path: Path) -> FileRow | None:
        with self._lock:
            row = self.conn.execute(
                f"SELECT {self._FILE_COLS} FROM files WHERE path=?", (str(path),)
            ).fetchone()
        return self._file(row) if row else None

    def files_by_hash(self, digest: str) -> list[FileRow]:
        with self._lock:
            rows = self.conn.execute(
                f"SELECT {self._FILE_COLS} FROM files WHERE hash=? AND status='ok'", (digest,)
            ).fetchall()
        return [self._file(r) for r in rows]

    def files(self, status: str | None = None) -> list[FileRow]:
        q = f"SELECT {', '.join('f.' + c.strip() for c in self._FILE_COLS.split(','))}, COUNT(s.id) FROM files f "
        q += "LEFT JOIN segments s ON s.file_id=f.id "
        args: tuple[Any, ...] = ()
        if status:
            q += "WHERE f.status=? "
            args = (status,)
        q += "GROUP BY f.id ORDER BY f.path"
        with self._lock:
            rows = self.conn.execute(q, args).fetchall()
        return [self._file(r[:-1], int(r[-1])) for r in rows]

    def put_file(self, conn: sqlite3.Connection, path: Path, **cols: Any) -> int:
        """Insert or replace the row for ``path`` (its old segments go with it); returns the file id."""
        conn.execute("DELETE FROM files WHERE path=?", (str(path),))
        cols = {"path": str(path), "added_at": time.time(), **cols}
        if isinstance(cols.get("description"), dict):
            cols["description"] = json.dumps(cols["description"], ensure_ascii=False)
        names = ", ".join(cols)
        marks = ", ".join("?" for _ in cols)
        cur = conn.execute(f"INSERT INTO files ({names}) VALUES ({marks})", tuple(cols.values()))
        return int(cur.lastrowid or 0)

    def put_segment(self, conn: sqlite3.Connection, file_id: int, *, start: float, end: float, text: str,
                    frames: list[dict[str, float]], mean_rgb: Sequence[float] | None, text_vec: np.ndarray,
                    visual_vec: np.ndarray | None,
                    labels: Sequence[tuple[int, str, float]] | None = None) -> int:  # fmt: skip
        cur = conn.execute(
            "INSERT INTO segments (file_id, start, end, text, frames, mean_rgb, text_vec, visual_vec, labels) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (file_id, start, end, text, json.dumps(frames), json.dumps(list(mean_rgb)) if mean_rgb else None,
             to_blob(text_vec), to_blob(visual_vec), json.dumps([list(x) for x in labels]) if labels else None),
        )  # fmt: skip
        return int(cur.lastrowid or 0)

    def touch(self, conn: sqlite3.Connection, file_id: int, *, path: Path, size: int, mtime_ns: int) -> None:
        conn.execute(
            "UPDATE files SET path=?, size=?, mtime_ns=? WHERE id=?", (str(path), size, mtime_ns, file_id)
        )

    def delete_files(self, conn: sqlite3.Connection, ids: Sequence[int]) -> list[int]:
        """Delete files; returns the ids of their segments (to drop from the vector index)."""
        seg_ids: list[int] = []
        for fid in ids:
            seg_ids += [int(r[0]) for r in conn.execute("SELECT id FROM segments WHERE file_id=?", (fid,))]
            conn.execute("DELETE FROM segments WHERE file_id=?", (fid,))
            conn.execute("DELETE FROM files WHERE id=?", (fid,))
        return seg_ids

    # -- segments ---------------------------------------------------------------------------------

    def segment_ids(self, file_id: int) -> list[int]:
        with self._lock:
            return [
                int(r[0]) for r in self.conn.execute("SELECT id FROM segments WHERE file_id=?", (file_id,))
            ]

    def segments(self, ids: Sequence[int] | None = None) -> list[SegmentRow]:
        q = ("SELECT s.id, s.file_id, f.path, s.start, s.end, s.text, s.frames, f.width, f.height, f.credit, "
             "s.labels, s.mean_rgb FROM segments s JOIN files f ON f.id=s.file_id")  # fmt: skip
        with self._lock:
            if ids is None:
                rows = self.conn.execute(q).fetchall()
            else:
                rows = []
                uniq = list(dict.fromkeys(int(i) for i in ids))
                for k in range(0, len(uniq), 500):
                    chunk = uniq[k : k + 500]
                    rows += self.conn.execute(
                        q + f" WHERE s.id IN ({','.join('?' * len(chunk))})", chunk
                    ).fetchall()
        return [
            SegmentRow(
                int(r[0]),
                int(r[1]),
                Path(r[2]),
                float(r[3]),
                float(r[4]),
                str(r[5]),
                json.loads(r[6]),
                int(r[7] or 0),
                int(r[8] or 0),
                r[9],
                [(int(a), str(b), float(c)) for a, b, c in json.loads(r[10])] if r[10] else [],
                tuple(json.loads(r[11])) if r[11] else None,
            )
            for r in rows
        ]

    def file_segments(self, file_id: int) -> list[SegmentRow]:
        return self.segments(self.segment_ids(file_id))

    def vectors(
        self, column: str = "text_vec", dim: int | None = None, *, embedder: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """All ``(ids, vectors)`` of one vector column (rows without one are left out); with ``embedder``,
        only vectors that embedder made (vectors of another model live in another space)."""
        if column not in ("text_vec", "visual_vec"):
            raise ValueError(column)
        who = "text_embedder" if column == "text_vec" else "visual_embedder"
        q = f"SELECT s.id, s.{column} FROM segments s JOIN files f ON f.id=s.file_id WHERE s.{column} IS NOT NULL"
        args: tuple[Any, ...] = ()
        if embedder is not None:
            q += f" AND f.{who}=?"
            args = (embedder,)
        with self._lock:
            rows = self.conn.execute(q + " ORDER BY s.id", args).fetchall()
        ids = np.array([int(r[0]) for r in rows], dtype=np.int64)
        if not rows:
            return ids, np.zeros((0, dim or 0), dtype=np.float32)
        vecs = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
        return ids, vecs

    def vector(self, segment_id: int, column: str = "text_vec") -> np.ndarray | None:
        if column not in ("text_vec", "visual_vec"):
            raise ValueError(column)
        with self._lock:
            row = self.conn.execute(f"SELECT {column} FROM segments WHERE id=?", (segment_id,)).fetchone()
        return from_blob(row[0]) if row else None

    def counts(self) -> dict[str, Any]:
        with self._lock:
            c = self.conn
            by_status = dict(c.execute("SELECT status, COUNT(*) FROM files GROUP BY status").fetchall())
            segs, with_visual = c.execute("SELECT COUNT(*), COUNT(visual_vec) FROM segments").fetchone()
            hours, size = c.execute(
                "SELECT COALESCE(SUM(duration), 0), COALESCE(SUM(size), 0) FROM files WHERE status='ok'"
            ).fetchone()
            embedders = c.execute(
                "SELECT DISTINCT text_embedder, visual_embedder FROM files WHERE status='ok'"
            ).fetchall()
        return {"files": by_status, "segments": int(segs), "visual_vectors": int(with_visual),
                "seconds": float(hours), "bytes": int(size),
                "embedders": [[a, b] for a, b in embedders]}  # fmt: skip
