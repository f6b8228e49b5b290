"""Pexels videos (pexels.com/api): search, pick the best file up to 1080p, download.

Needs ``PEXELS_API_KEY`` (free at pexels.com/api; sent as the ``Authorization`` header). The base URL is
configurable (``base_url``, ``--base-url`` or ``PEXELS_BASE_URL``) so tests run against a local fake
server. ``GET /videos/search?query=&per_page=&page=&orientation=`` answers
``{"page", "per_page", "total_results", "videos": [{"id", "width", "height", "duration", "url", "image",
"user": {"name", "url"}, "video_files": [{"id", "quality", "file_type", "width", "height", "link"}]}]}``.
What a download is about comes from the words of its page URL (``/video/waves-crashing-on-rocks-1001/``),
plus ``tags``/``alt`` when present; the credit is the one Pexels asks for: "Video by NAME on Pexels".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from .describe import url_slug_words
from .library import Library
from .sources import MAX_SHORT_SIDE, Candidate, FetchReport, HttpSource, _query_string
from .sources import SourceError as SourceError  # re-exported: the name callers knew
from .sources import fetch as fetch_from

DEFAULT_BASE_URL = "https://api.pexels.com"
PER_PAGE_MAX = 80
TIMEOUT = 60.0


def best_file(video: dict[str, Any], max_short_side: int = MAX_SHORT_SIDE) -> dict[str, Any] | None:
    """The largest MP4 whose short side is at most ``max_short_side`` (files without sizes rank by quality)."""
    rank = {"uhd": 3, "hd": 2, "sd": 1}
    best: tuple[tuple[int, int], dict[str, Any]] | None = None
    for f in video.get("video_files") or []:
        if not isinstance(f, dict) or not str(f.get("link", "")).startswith(("http://", "https://")):
            continue
        if f.get("file_type") not in (None, "video/mp4"):
            continue
        w, h = int(f.get("width") or 0), int(f.get("height") or 0)
        if w and h and min(w, h) > max_short_side:
            continue
        if not (w and h) and f.get("quality") == "uhd":
            continue
        key = (w * h, rank.get(str(f.get("quality")), 0))
        if best is None or key > best[0]:
            best = (key, f)
    return best[1] if best else None


def candidate(video: dict[str, Any], query: str = "") -> Candidate:
    """One Pexels video object as a :class:`Candidate` (``link`` empty when no file is small enough)."""
    url = str(video.get("url") or "")
    user = video.get("user") if isinstance(video.get("user"), dict) else {}
    name = str((user or {}).get("name") or "").strip()
    captions = tuple(
        c
        for c in (video.get("alt"), video.get("description"), url_slug_words(url))
        if isinstance(c, str) and c
    )
    tags = tuple(t for t in (video.get("tags") or []) if isinstance(t, str))
    f = best_file(video) or {}
    w, h = int(f.get("width") or video.get("width") or 0), int(f.get("height") or video.get("height") or 0)
    try:
        duration = float(video.get("duration") or 0)
    except (TypeError, ValueError):
        duration = 0.0
    credit = f"Video by {name} on Pexels ({url})" if name else f"Video from Pexels ({url})"
    return Candidate(source="pexels", id=str(video.get("id")), url=url, link=str(f.get("link") or ""), width=w,
                     height=h, duration=duration, author=name, credit=credit, captions=captions, tags=tags,
                     query=query)  # fmt: skip


def sidecar(video: dict[str, Any], query: str) -> dict[str, Any]:
    return candidate(video, query).sidecar()


class PexelsSource(HttpSource):
    name: ClassVar[str] = "pexels"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "Pexels videos (needs PEXELS_API_KEY)"
    title: ClassVar[str] = "Pexels"
    key_env: ClassVar[str] = "PEXELS_API_KEY"
    base_env: ClassVar[str] = "PEXELS_BASE_URL"
    default_base: ClassVar[str] = DEFAULT_BASE_URL
    signup: ClassVar[str] = "https://www.pexels.com/api/"

    def videos(self, query: str, n: int, *, orientation: str | None = None) -> list[dict[str, Any]]:
        """Up to ``n`` video objects (Pexels' JSON) for ``query``."""
        videos: list[dict[str, Any]] = []
        page = 1
        while len(videos) < n:
            per_page = min(PER_PAGE_MAX, n - len(videos)) if page == 1 else PER_PAGE_MAX
            qs = _query_string(
                {"query": query, "per_page": per_page, "page": page, "orientation": orientation}
            )
            data = self.get_json(f"{self.base_url}/videos/search?{qs}", {"Authorization": self.api_key or ""},
                                 what=f"the search for {query!r}")  # fmt: skip
            batch = data.get("videos") if isinstance(data, dict) else None
            if not isinstance(batch, list) or not batch:
                break
            videos += [v for v in batch if isinstance(v, dict) and "id" in v]
            total = int(data.get("total_results") or 0)
            if page * per_page >= total or len(batch) < per_page:
                break
            page += 1
        return videos[:n]

    def search(self, query: str, n: int | None = None, *, orientation: str | None = None) -> list[Candidate]:
        return [
            candidate(v, query)
            for v in self.videos(query, n or self.options.per_page, orientation=orientation)
        ]


def search_videos(
    query: str, n: int, *, api_key: str, base_url: str = DEFAULT_BASE_URL, timeout: float = TIMEOUT
) -> list[dict[str, Any]]:
    """Up to ``n`` video objects (Pexels' JSON) for ``query``."""
    return PexelsSource({"api_key": api_key, "base_url": base_url, "timeout": timeout}).videos(query, n)


def fetch(
    library: Library,
    query: str,
    n: int = 10,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float = TIMEOUT,
    progress: Callable[[int, int, str], None] | None = None,
) -> FetchReport:
    """Search Pexels for ``query``, download up to ``n`` videos into the library's media folder, index them."""
    source = PexelsSource({"api_key": api_key, "base_url": base_url, "timeout": timeout})
    return fetch_from(library, source, query, n, progress=progress)
