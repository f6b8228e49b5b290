"""Fake Pexels and Pixabay APIs on 127.0.0.1 for the stock-footage tests.

Each speaks its API's real JSON (Pexels: ``GET /videos/search`` with the key in ``Authorization``; Pixabay:
``GET /api/videos/`` with ``key=`` in the query), serves small generated MP4s as the downloads, logs every
request, and can be told to fail the next API requests (429, 5xx) or to refuse the key.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

KEY = "test-key"


@dataclass(frozen=True)
class Video:
    """One video in a fake catalogue; ``file`` is the generated MP4 it serves."""

    id: int
    slug: str  # the words of its page URL: waves-crashing-on-rocks
    colour: tuple[int, int, int]
    file: Path
    tags: str = ""  # Pixabay's "a, b, c"
    user: str = "Ann Lee"
    size: tuple[int, int] = (320, 180)
    seconds: float = 2.0


@dataclass
class FakeStock:
    kind: str  # "pexels" or "pixabay"
    videos: list[Video]
    key: str = KEY
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: (status, headers) answered to the next API requests, one each
    fail: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    #: ids whose file answers 404 (a download that fails)
    gone: set[int] = field(default_factory=set)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def searches(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if not r["path"].startswith("/files/")]

    @property
    def downloads(self) -> list[str]:
        return [r["path"] for r in self.requests if r["path"].startswith("/files/")]

    # -- the APIs' JSON ---------------------------------------------------------------------------

    def _pexels(self, query: dict[str, list[str]]) -> dict[str, Any]:
        base = f"{self.base_url}/files"
        per_page = int(query.get("per_page", ["15"])[0])
        videos = []
        for v in self.videos[:per_page]:
            w, h = v.size
            videos.append({
                "id": v.id, "width": 3840 if w > h else 2160, "height": 2160 if w > h else 3840,
                "url": f"https://www.pexels.com/video/{v.slug}-{v.id}/",
                "image": f"https://images.pexels.com/videos/{v.id}/preview.jpeg", "full_res": None, "tags": [],
                "duration": v.seconds, "avg_color": None,
                "user": {"id": v.id * 10, "name": v.user, "url": f"https://www.pexels.com/@user{v.id}"},
                "video_files": [
                    {"id": v.id * 10 + 1, "quality": "uhd", "file_type": "video/mp4", "width": 3840 if w > h else 2160,
                     "height": 2160 if w > h else 3840, "fps": 25, "link": f"{base}/{v.id}-4k.mp4"},
                    {"id": v.id * 10 + 2, "quality": "hd", "file_type": "video/mp4", "width": w, "height": h,
                     "fps": 25, "link": f"{base}/{v.id}.mp4"},
                ],
                "video_pictures": [{"id": v.id, "nr": 0, "picture": f"https://images.pexels.com/{v.id}.jpeg"}],
            })  # fmt: skip
        return {"page": 1, "per_page": per_page, "videos": videos, "total_results": len(self.videos),
                "url": "https://www.pexels.com/search/videos/x/"}  # fmt: skip

    def _pixabay(self, query: dict[str, list[str]]) -> dict[str, Any]:
        base = f"{self.base_url}/files"
        per_page = int(query.get("per_page", ["20"])[0])
        hits = []
        for v in self.videos[:per_page]:
            w, h = v.size
            size = v.file.stat().st_size

            def rendition(
                url: str, rw: int, rh: int, n: int = size, thumb: str = f"{base}/{v.id}.jpg"
            ) -> dict[str, Any]:
                return {"url": url, "width": rw, "height": rh, "size": n, "thumbnail": thumb}

            hits.append({
                "id": v.id, "pageURL": f"https://pixabay.com/videos/{v.slug}-{v.id}/", "type": "film",
                "tags": v.tags, "duration": int(v.seconds),
                "videos": {"large": rendition(f"{base}/{v.id}-4k.mp4", 3840, 2160, 9_000_000),
                           "medium": rendition(f"{base}/{v.id}.mp4", w, h),
                           "small": rendition("", 0, 0, 0), "tiny": rendition("", 0, 0, 0)},
                "views": 1000, "downloads": 100, "likes": 10, "comments": 1, "user_id": v.id * 10,
                "user": v.user, "userImageURL": "",
            })  # fmt: skip
        return {"total": len(self.videos), "totalHits": len(self.videos), "hits": hits}

    # -- the server -------------------------------------------------------------------------------

    def start(self) -> FakeStock:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _send(
                self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                u = urlparse(self.path)
                q = parse_qs(u.query)
                fake.requests.append({"path": u.path, "query": q, "auth": self.headers.get("Authorization")})
                if u.path.startswith("/files/"):
                    name = u.path.rsplit("/", 1)[-1]
                    found = [v for v in fake.videos if name == f"{v.id}.mp4" and v.id not in fake.gone]
                    if found:
                        self._send(200, found[0].file.read_bytes(), "video/mp4")
                    else:
                        self._send(404, b"not found", "text/plain")
                    return
                api = "/videos/search" if fake.kind == "pexels" else "/api/videos/"
                if u.path != api:
                    self._send(404, b"not found", "text/plain")
                    return
                if fake.fail:
                    status, headers = fake.fail.pop(0)
                    self._send(
                        status, json.dumps({"error": f"HTTP {status}"}).encode(), "application/json", headers
                    )
                    return
                if fake.kind == "pexels":
                    if self.headers.get("Authorization") != fake.key:
                        self._send(401, b'{"error": "Unauthorized"}', "application/json")
                        return
                    body = fake._pexels(q)
                else:
                    if q.get("key", [""])[0] != fake.key:
                        self._send(400, b"[ERROR 400] Invalid or missing API key", "text/plain")
                        return
                    body = fake._pixabay(q)
                self._send(200, json.dumps(body).encode(), "application/json",
                           {"X-Ratelimit-Limit": "200", "X-Ratelimit-Remaining": "199"})  # fmt: skip

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeStock:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def closed_port() -> str:
    """The URL of a port nothing listens on (a service that is down)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
