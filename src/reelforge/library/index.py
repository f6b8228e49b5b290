"""Vectors in FAISS, on disk: exact inner product (flat) for small libraries, HNSW above a size threshold.

The index is a derived copy: the vectors also live in SQLite, so a lost, stale or corrupt index file is
rebuilt from there. Files are written to a temporary name and renamed into place (atomic on POSIX), with a
small JSON beside them saying which library version they reflect.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import faiss
import numpy as np

HNSW_THRESHOLD = 20_000  # vectors; above this an approximate HNSW graph replaces the exact flat index
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 96


def _as_matrix(vectors: np.ndarray, dim: int) -> np.ndarray:
    v = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, dim))
    return v


class VectorIndex:
    """Inner-product search over unit vectors with int64 ids (the segments' row ids)."""

    def __init__(self, dim: int, *, kind: str = "flat") -> None:
        self.dim = dim
        self.kind = kind
        if kind == "hnsw":
            base: Any = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            base.hnsw.efSearch = HNSW_EF_SEARCH
        elif kind == "flat":
            base = faiss.IndexFlatIP(dim)
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        self._base = base
        self.index: Any = faiss.IndexIDMap2(base)

    @classmethod
    def build(
        cls, ids: np.ndarray, vectors: np.ndarray, dim: int, *, hnsw_threshold: int = HNSW_THRESHOLD
    ) -> VectorIndex:
        kind = "hnsw" if len(ids) > hnsw_threshold else "flat"
        idx = cls(dim, kind=kind)
        idx.add(ids, vectors)
        return idx

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        self.index.add_with_ids(_as_matrix(vectors, self.dim), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> bool:
        """Remove ids; False when the index kind cannot (HNSW): the caller rebuilds it instead."""
        if self.kind != "flat":
            return False
        self.index.remove_ids(np.asarray(ids, dtype=np.int64))
        return True

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, ids)``, each ``(n, k)``; missing results have id -1."""
        q = _as_matrix(queries, self.dim)
        k = max(1, min(k, max(1, self.ntotal)))
        scores, ids = self.index.search(q, k)
        return scores, ids

    def reconstruct(self, id_: int) -> np.ndarray:
        out: np.ndarray = self.index.reconstruct(int(id_))
        return out

    # -- persistence ------------------------------------------------------------------------------

    def save(self, path: Path, *, version: int) -> None:
        """Write atomically: temp file + rename, then the version note (a crash between the two leaves
        a note that does not match, which means "rebuild", never a half-written index)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            faiss.write_index(self.index, str(tmp))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        note = {"version": version, "ntotal": self.ntotal, "kind": self.kind, "dim": self.dim}
        ntmp = path.with_name(f".{path.name}.json.{uuid.uuid4().hex[:8]}.tmp")
        ntmp.write_text(json.dumps(note), encoding="utf-8")
        os.replace(ntmp, meta_path(path))

    @classmethod
    def load(cls, path: Path, *, version: int, dim: int) -> VectorIndex | None:
        """The saved index if it reflects ``version``; None when missing, stale or unreadable."""
        try:
            note = json.loads(meta_path(path).read_text(encoding="utf-8"))
            if note.get("version") != version or note.get("dim") != dim:
                return None
            raw: Any = faiss.read_index(str(path))
        except (OSError, ValueError, RuntimeError):
            return None
        if int(raw.ntotal) != int(note.get("ntotal", -1)):
            return None
        obj = cls.__new__(cls)
        obj.dim = dim
        obj.kind = str(note.get("kind", "flat"))
        obj.index = raw
        obj._base = faiss.downcast_index(raw.index)
        if obj.kind == "hnsw":
            obj._base.hnsw.efSearch = HNSW_EF_SEARCH
        return obj


def meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")
