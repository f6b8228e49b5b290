"""An optional online source: search Pexels videos, download the best file up to 1080p, index it.

Needs ``PEXELS_API_KEY`` (free at pexels.com/api). The base URL is configurable (``--base-url`` or
``PEXELS_BASE_URL``) so tests run against a local fake server. Each download gets a JSON sidecar with
what Pexels says about it (tags, alt text, the words of its page URL, the author) - the captions the text
embedder reads - and the attribution Pexels asks for, which ends up in the video's credits.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, ReelforgeError
from .describe import url_slug_words
from .library import AddReport, Library

DEFAULT_BASE_URL = "https://api.pexels.com"
MAX_SHORT_SIDE = 1080
MAX_DOWNLOAD = 1 << 30  # bytes
PER_PAGE_MAX = 80
TIMEOUT = 60.0


class SourceError(ReelforgeError):
    kind = "source"


@dataclass
class FetchReport:
    downloaded: list[Path] = field(default_factory=list)
    present: list[Path] = field(default_factory=list)  # fetched before: not downloaded again
    failed: list[tuple[str, str]] = field(default_factory=list)  # (url or id, reason)
    added: AddReport = field(default_factory=AddReport)


def _get(url: str, api_key: str, timeout: float) -> Any:
    req = urllib.request.Request(url, headers={"Authorization": api_key, "User-Agent": "reelforge"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read(20_000_000).decode("utf-8"))
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise SourceError("Pexels refused the API key", hint="check PEXELS_API_KEY") from None
        if exc.code == 429:
            raise SourceError("Pexels rate limit reached", hint="wait and try again") from None
        raise SourceError(f"Pexels answered HTTP {exc.code} for {url}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceError(f"cannot reach Pexels at {url}: {reason}") from None
    except ValueError:
        raise SourceError(f"Pexels sent something that is not JSON from {url}") from None


def search_videos(
    query: str, n: int, *, api_key: str, base_url: str = DEFAULT_BASE_URL, timeout: float = TIMEOUT
) -> list[dict[str, Any]]:
    """Up to ``n`` video objects (Pexels' JSON) for ``query``."""
    videos: list[dict[str, Any]] = []
    page = 1
    while len(videos) < n:
        per_page = min(PER_PAGE_MAX, n - len(videos)) if page == 1 else PER_PAGE_MAX
        qs = urllib.parse.urlencode({"query": query, "per_page": per_page, "page": page})
        data = _get(f"{base_url.rstrip('/')}/videos/search?{qs}", api_key, timeout)
        batch = data.get("videos") if isinstance(data, dict) else None
        if not isinstance(batch, list) or not batch:
            break
        videos += [v for v in batch if isinstance(v, dict) and "id" in v]
        total = int(data.get("total_results") or 0)
        if page * per_page >= total or len(batch) < per_page:
            break
        page += 1
    return videos[:n]


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


def sidecar(video: dict[str, Any], query: str) -> dict[str, Any]:
    url = str(video.get("url") or "")
    user = video.get("user") if isinstance(video.get("user"), dict) else {}
    name = str((user or {}).get("name") or "").strip()
    captions = [
        c
        for c in (video.get("alt"), video.get("description"), url_slug_words(url))
        if isinstance(c, str) and c
    ]
    tags = [t for t in (video.get("tags") or []) if isinstance(t, str)] + [query]
    credit = f"Video by {name} on Pexels ({url})" if name else f"Video from Pexels ({url})"
    return {"caption": list(dict.fromkeys(captions)), "tags": list(dict.fromkeys(tags)),
            "source": {"site": "pexels", "id": video.get("id"), "url": url, "author": name, "credit": credit}}  # fmt: skip


def _download(url: str, dest: Path, timeout: float) -> None:
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
    req = urllib.request.Request(url, headers={"User-Agent": "reelforge"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r, tmp.open("wb") as fh:
            got = 0
            while chunk := r.read(1 << 20):
                got += len(chunk)
                if got > MAX_DOWNLOAD:
                    raise SourceError(f"{url} is larger than {MAX_DOWNLOAD >> 20} MB")
                fh.write(chunk)
        os.replace(tmp, dest)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise SourceError(f"download failed: {getattr(exc, 'reason', exc)}") from None
    finally:
        tmp.unlink(missing_ok=True)


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
    query = " ".join(query.split())
    if not query:
        raise InputError("the search query is empty")
    if not 1 <= n <= 500:
        raise InputError(f"-n {n} is out of range: fetch 1 to 500 videos")
    key = api_key or os.environ.get("PEXELS_API_KEY")
    if not key:
        raise InputError("PEXELS_API_KEY is not set", hint="get a free key at https://www.pexels.com/api/")
    base = base_url or os.environ.get("PEXELS_BASE_URL") or DEFAULT_BASE_URL
    videos = search_videos(query, n, api_key=key, base_url=base, timeout=timeout)
    folder = library.media_dir / "pexels"
    folder.mkdir(parents=True, exist_ok=True)
    report = FetchReport()
    for k, v in enumerate(videos):
        vid = re.sub(r"[^0-9A-Za-z]", "", str(v.get("id")))[:20] or "x"
        slug = re.sub(r"[^a-z0-9]+", "-", url_slug_words(str(v.get("url") or "")).lower()).strip("-")[:60]
        dest = folder / (f"{vid}-{slug}.mp4" if slug else f"{vid}.mp4")
        if progress:
            progress(k + 1, len(videos), dest.name)
        side = dest.with_suffix(".json")
        if dest.is_file() and dest.stat().st_size > 0:
            report.present.append(dest)
        else:
            f = best_file(v)
            if f is None:
                report.failed.append((vid, "no MP4 file up to 1080p"))
                continue
            try:
                _download(str(f["link"]), dest, timeout)
            except SourceError as exc:
                report.failed.append((str(f["link"]), exc.message))
                continue
            report.downloaded.append(dest)
        side.write_text(json.dumps(sidecar(v, query), indent=1, ensure_ascii=False), encoding="utf-8")
    report.added = library.add(report.downloaded + report.present)
    return report
