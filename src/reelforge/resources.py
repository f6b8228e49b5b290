"""Process-wide model caches (a loaded voice, the sentence embedder, icon vectors) and how to let them go.

A long-running service keeps them warm between jobs. A one-shot ``reelforge make`` releases them once
the scene assets exist, so the render, where the ffmpeg processes need the memory, runs beside a small
Python process (a Piper voice alone keeps 0.3-0.6 GB of onnxruntime arena after synthesis).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
import threading
from collections.abc import Callable

_releasers: list[Callable[[], None]] = []
_lock = threading.Lock()


def on_release(fn: Callable[[], None]) -> Callable[[], None]:
    """Register ``fn`` to drop a cache when models are released (usable as a decorator)."""
    with _lock:
        _releasers.append(fn)
    return fn


def release_models() -> None:
    """Drop every registered model cache, collect, and hand freed heap pages back to the OS."""
    with _lock:
        fns = list(_releasers)
    for fn in fns:
        fn()
    gc.collect()
    if sys.platform.startswith("linux"):
        # not glibc (musl): the pages go back on the allocator's own terms
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)
