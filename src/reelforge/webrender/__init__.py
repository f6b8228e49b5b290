"""The browser renderer: one JavaScript bundle (``renderer.js``) that draws, encodes and muxes a timeline in the
browser, so a client can make the same video the server makes (see docs/timeline-schema.md).

The bundle is built from ``web/renderer/`` (TypeScript, esbuild) by ``make web`` (a part of ``make install``); it
is generated, not committed. A page loads it with ``<script src=".../renderer.js">`` and calls
``ReelforgeRenderer.render(timelineUrl, {fontUrl, onProgress})``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BUNDLE_NAME", "bundle_path", "is_built"]

BUNDLE_NAME = "renderer.js"


def bundle_path() -> Path:
    """Where the built bundle lives (it may not exist: check :func:`is_built`)."""
    return Path(__file__).resolve().parent / BUNDLE_NAME


def is_built() -> bool:
    """Whether ``make web`` has built the bundle."""
    return bundle_path().is_file()
