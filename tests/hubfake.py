"""A fake Hugging Face Hub on 127.0.0.1 for the ``reelforge models`` tests (``HF_ENDPOINT`` points at it).

It answers what ``huggingface_hub`` asks: ``HEAD``/``GET /{repo}/resolve/{revision}/{path}`` with the
``X-Repo-Commit``, ``ETag`` (the SHA-256 of an LFS file, the git blob SHA-1 of a small one) and
``Content-Length`` headers, ``Range: bytes=N-`` requests answered ``206`` with ``Content-Range``, Hub-style
404s (``X-Error-Code``), and ``GET /api/models/{repo}/revision/{revision}`` with the repo's ``sha`` and
``siblings``. It logs every request, and can drop a download midway (``cut_after``) and then refuse what
comes next (``refuse``), like a connection that went away.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlparse


@dataclass
class FakeRepo:
    files: dict[str, bytes]
    commit: str = "0123456789abcdef0123456789abcdef01234567"
    lfs: frozenset[str] = frozenset()  # files stored in LFS (etag = SHA-256), others are git blobs

    def etag(self, name: str) -> str:
        data = self.files[name]
        if name in self.lfs:
            return hashlib.sha256(data).hexdigest()
        return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass
class FakeHub:
    repos: dict[str, FakeRepo]
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: file name -> bytes after which the next GET of it closes the connection (once)
    cut_after: dict[str, int] = field(default_factory=dict)
    #: answer every request with this status (503: the Hub went away); None: serve normally
    refuse: int | None = None
    #: set ``refuse`` to 503 as soon as a download has been cut (so its automatic retry fails too)
    refuse_after_cut: bool = False
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def gets(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "GET" and r["path"].endswith("/" + name)]

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _error(self, status: int, code: str | None = None) -> None:
                self.send_response(status)
                if code:
                    self.send_header("X-Error-Code", code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _serve(self, body: bool) -> None:
                path = unquote(urlparse(self.path).path)
                hub.requests.append(
                    {"method": self.command, "path": path, "range": self.headers.get("Range")}
                )
                if hub.refuse is not None:
                    return self._error(hub.refuse)
                parts = path.strip("/").split("/")
                if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] == "revision":
                    repo = hub.repos.get(f"{parts[2]}/{parts[3]}")
                    if repo is None:
                        return self._error(404, "RepoNotFound")
                    data = json.dumps({"id": f"{parts[2]}/{parts[3]}", "sha": repo.commit,
                                       "siblings": [{"rfilename": n} for n in repo.files]}).encode()  # fmt: skip
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if body:
                        self.wfile.write(data)
                    return None
                if len(parts) < 5 or parts[2] != "resolve":
                    return self._error(404)
                repo = hub.repos.get(f"{parts[0]}/{parts[1]}")
                if repo is None:
                    return self._error(404, "RepoNotFound")
                name = "/".join(parts[4:])
                if name not in repo.files:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("X-Repo-Commit", repo.commit)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                data = repo.files[name]
                start = 0
                rng = self.headers.get("Range")
                if body and rng and rng.startswith("bytes=") and rng.endswith("-"):
                    start = int(rng[len("bytes=") : -1])
                self.send_response(206 if start else 200)
                self.send_header("X-Repo-Commit", repo.commit)
                self.send_header("ETag", f'"{repo.etag(name)}"')
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(data) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if not body:
                    return None
                cut = hub.cut_after.pop(name, None)
                if cut is not None and cut > start:
                    self.wfile.write(data[start:cut])
                    self.wfile.flush()
                    if hub.refuse_after_cut:
                        hub.refuse = 503
                    self.close_connection = True
                    import socket

                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                self.wfile.write(data[start:])
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
