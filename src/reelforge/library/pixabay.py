"""Pixabay videos (pixabay.com/api/docs): search, pick the best file up to 1080p, download.

Needs ``PIXABAY_API_KEY`` (free at pixabay.com/api/docs; sent as the ``key`` query parameter, so it is cut
from every URL shown in a message). ``base_url`` or ``PIXABAY_BASE_URL`` points it elsewhere (tests use a
fake server). ``GET /api/videos/?key=&q=&per_page=`` answers ``{"total", "totalHits", "hits": [{"id",
"pageURL", "tags": "a, b", "duration", "user", "videos": {"large" | "medium" | "small" | "tiny": {"url",
"width", "height", "size"}}}]}``; a size that does not exist has an empty ``url``. A bad key is answered
``400 [ERROR 400] Invalid or missing API key`` (or 401/403). Pixabay asks that results are cached for 24
hours: reelforge caches each video's choice of clips and reuses downloads, so a second run asks nothing.
The credit is "Video by NAME from Pixabay".
"""

from __future__ import annotations

from typing import Any, ClassVar

from .describe import url_slug_words
from .sources import MAX_SHORT_SIDE, Candidate, HttpSource, _query_string

DEFAULT_BASE_URL = "https://pixabay.com"
SIZES = ("large", "medium", "small", "tiny")
QUERY_MAX = 100  # characters Pixabay accepts in ``q``


def best_file(hit: dict[str, Any], max_short_side: int = MAX_SHORT_SIDE) -> dict[str, Any] | None:
    """The largest rendition whose short side is at most ``max_short_side`` (and that has a URL)."""
    best: tuple[int, dict[str, Any]] | None = None
    videos = hit.get("videos") if isinstance(hit.get("videos"), dict) else {}
    for size in SIZES:
        f = (videos or {}).get(size)
        if not isinstance(f, dict) or not str(f.get("url", "")).startswith(("http://", "https://")):
            continue
        w, h = int(f.get("width") or 0), int(f.get("height") or 0)
        if not (w and h) or min(w, h) > max_short_side:
            continue
        if best is None or w * h > best[0]:
            best = (w * h, f)
    return best[1] if best else None


def candidate(hit: dict[str, Any], query: str = "") -> Candidate:
    """One Pixabay hit as a :class:`Candidate` (``link`` empty when no rendition is small enough)."""
    url = str(hit.get("pageURL") or "")
    name = str(hit.get("user") or "").strip()
    tags = tuple(t.strip() for t in str(hit.get("tags") or "").split(",") if t.strip())
    captions = tuple(c for c in (url_slug_words(url),) if c)
    f = best_file(hit) or {}
    try:
        duration = float(hit.get("duration") or 0)
    except (TypeError, ValueError):
        duration = 0.0
    credit = f"Video by {name} from Pixabay ({url})" if name else f"Video from Pixabay ({url})"
    return Candidate(source="pixabay", id=str(hit.get("id")), url=url, link=str(f.get("url") or ""),
                     width=int(f.get("width") or 0), height=int(f.get("height") or 0), duration=duration,
                     author=name, credit=credit, captions=captions, tags=tags, query=query)  # fmt: skip


class PixabaySource(HttpSource):
    name: ClassVar[str] = "pixabay"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "Pixabay videos (needs PIXABAY_API_KEY)"
    title: ClassVar[str] = "Pixabay"
    key_env: ClassVar[str] = "PIXABAY_API_KEY"
    base_env: ClassVar[str] = "PIXABAY_BASE_URL"
    default_base: ClassVar[str] = DEFAULT_BASE_URL
    signup: ClassVar[str] = "https://pixabay.com/api/docs/"

    def auth_error(self, code: int, body: str) -> bool:
        return code in (401, 403) or (code == 400 and "key" in body.lower())

    def hits(self, query: str, n: int) -> list[dict[str, Any]]:
        """Up to ``n`` hits (Pixabay's JSON) for ``query``: one page of 3 to 200."""
        qs = _query_string({"key": self.api_key or "", "q": query[:QUERY_MAX], "per_page": max(3, min(200, n)),
                            "safesearch": "true"})  # fmt: skip
        data = self.get_json(f"{self.base_url}/api/videos/?{qs}", what=f"the search for {query!r}")
        hits = data.get("hits") if isinstance(data, dict) else None
        if not isinstance(hits, list):
            return []
        return [h for h in hits if isinstance(h, dict) and "id" in h][:n]

    def search(self, query: str, n: int | None = None, *, orientation: str | None = None) -> list[Candidate]:
        # Pixabay's video search has no orientation filter: the ranking weighs each file's shape instead
        return [candidate(h, query) for h in self.hits(query, n or self.options.per_page)]
