"""Clip libraries: index your footage once, then let scenes pick matching clips.

``Library`` (add, search, remove, rebuild, stats) in ``library.py``; probing in ``probe.py``; one-pass
frame sampling and shot detection in ``sampling.py``; names and captions in ``describe.py``; embedders in
``features.py``; SQLite in ``store.py``; FAISS in ``index.py``; per-scene retrieval in ``retrieve.py``;
the online sources in ``sources.py`` (shared: candidates, retries, downloads), ``pexels.py`` and ``pixabay.py``;
stock footage per scene (``--images stock``) in ``stock.py``; the ``reelforge library`` commands in ``cli.py``.

Importing this package is cheap: FAISS, PyAV and the embedder load only when ``Library`` is first used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AddReport", "Hit", "Library"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import library

        return getattr(library, name)
    raise AttributeError(name)
