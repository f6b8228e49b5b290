"""A local static HTTP server for the browser renderer, and a headless-Chromium driver (tests and benchmarks).

:class:`TimelineServer` serves, on 127.0.0.1 only:

=====================  ===============================================================================
``/``                  the test page given (``web/renderer/test.html`` in the repository)
``/renderer.js``       the bundle (:func:`reelforge.webrender.bundle_path`)
``/timeline.json``     ``timeline_for_browser(timeline, ...)`` with asset URLs ``assets/<name>``
``/assets/<name>``     exactly the timeline's assets (:func:`reelforge.compose.export.asset_names`)
``/font.ttf``          the subtitle font (:func:`reelforge.tools.find_font`)
=====================  ===============================================================================

It answers byte-range requests (the clip demuxer reads clips by ranges). The REST service serves a finished job's
timeline and assets the same way, under ``/v1/videos/{id}/`` (``reelforge.service.app``).
"""

from __future__ import annotations

import base64
import json
import mimetypes
import re
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from ..compose.export import asset_names, timeline_for_browser
from ..models import Timeline
from ..tools import find_font
from . import bundle_path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
_TYPES = {".js": "text/javascript", ".json": "application/json", ".html": "text/html; charset=utf-8",
          ".ttf": "font/ttf", ".wav": "audio/wav", ".png": "image/png", ".jpg": "image/jpeg",
          ".mp4": "video/mp4", ".webm": "video/webm"}  # fmt: skip


class TimelineServer:
    """Serve a timeline, its assets, the bundle, the font and a page; use as a context manager."""

    def __init__(self, timeline: Timeline, page: Path, *, font: Path | None = None) -> None:
        names = asset_names(timeline)
        by_path = {p: n for n, p in names.items()}
        doc = timeline_for_browser(timeline, lambda p: f"assets/{by_path[p]}")
        routes: dict[str, Path | bytes] = {
            "/": page,
            "/index.html": page,
            "/renderer.js": bundle_path(),
            "/timeline.json": json.dumps(doc).encode(),
            "/font.ttf": font or find_font(),
            "/favicon.ico": b"",
        }
        for name, path in names.items():
            routes[f"/assets/{name}"] = path
        self.routes = routes
        self.requests: list[str] = []
        handler = _handler(routes, self.requests)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> TimelineServer:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(10)


def _handler(routes: dict[str, Path | bytes], log: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            path = self.path.split("?", 1)[0]
            log.append(path)
            target = routes.get(path)
            if target is None or (isinstance(target, Path) and not target.is_file()):
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            data = target if isinstance(target, bytes) else target.read_bytes()
            suffix = Path(path).suffix if path not in ("/", "/index.html") else ".html"
            ctype = _TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
            status, start, end = HTTPStatus.OK, 0, len(data)
            m = _RANGE.match(self.headers.get("Range", ""))
            if m and (m.group(1) or m.group(2)):
                if m.group(1):
                    start = int(m.group(1))
                    end = min(len(data), int(m.group(2)) + 1) if m.group(2) else len(data)
                else:
                    start = max(0, len(data) - int(m.group(2)))
                if start >= len(data) or start >= end:
                    self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = HTTPStatus.PARTIAL_CONTENT
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(end - start))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Cache-Control", "no-store")
            if status == HTTPStatus.PARTIAL_CONTENT:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
            self.end_headers()
            if body:
                self.wfile.write(data[start:end])

    return Handler


@dataclass
class BrowserRender:
    """What a render in the browser gave back."""

    data: bytes
    stats: dict[str, Any]  # the renderer's RenderStats (codec, container, fps, seconds, loudness, ...)
    wall: float  # seconds from the click to the file in Python's hands
    progress: list[float] = field(default_factory=list)  # the progress fractions the page saw
    console: list[str] = field(default_factory=list)


_READ_BLOB = """async () => {
  const buf = new Uint8Array(await window.renderResult.blob.arrayBuffer());
  let s = "";
  for (let i = 0; i < buf.length; i += 0x8000) s += String.fromCharCode.apply(null, buf.subarray(i, i + 0x8000));
  return btoa(s);
}"""


def render_in_browser(
    base_url: str,
    *,
    query: str = "",
    timeout: float = 600.0,
    chromium: str = CHROMIUM,
) -> BrowserRender:
    """Open the test page in headless Chromium, press "Render in my browser", wait, and return the file."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            console: list[str] = []
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.goto(f"{base_url}/{'?' + query if query else ''}")
            page.wait_for_function("() => window.ReelforgeRenderer !== undefined", timeout=30_000)
            t = time.perf_counter()
            page.click("#render")
            page.wait_for_function("() => window.renderResult !== null", timeout=timeout * 1000, polling=100)
            result = page.evaluate("() => ({ok: window.renderResult.ok, error: window.renderResult.error || null,"
                                   " stats: window.renderResult.stats || null, progress: window.progressLog})")  # fmt: skip
            if not result["ok"]:
                raise RuntimeError(f"the browser render failed: {result['error']}\n" + "\n".join(console))
            data = base64.b64decode(page.evaluate(_READ_BLOB))
            wall = time.perf_counter() - t
            return BrowserRender(data=data, stats=result["stats"], wall=wall, progress=result["progress"],
                                 console=console)  # fmt: skip
        finally:
            browser.close()
