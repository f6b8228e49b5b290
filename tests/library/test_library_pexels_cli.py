"""``reelforge library ...`` end to end, and ``fetch --source pexels`` against a local fake Pexels API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from libclips import make_clip

from reelforge.library import Library
from reelforge.library.pexels import best_file, fetch


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "reelforge", *args], capture_output=True, text=True, env=e,
                          timeout=180)  # fmt: skip


def test_cli_add_search_stats_list_remove(tmp_path: Path, footage: Path):
    env = {"REELFORGE_LIBRARY_DIR": str(tmp_path / "libs")}
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.mp4").write_bytes(b"\x00" * 100)
    r = cli("library", "add", str(footage), str(bad), "--recursive", env=env)
    assert r.returncode == 0, r.stderr
    assert "3 added" in r.stdout and "1 rejected" in r.stdout and "broken.mp4" in r.stdout
    r = cli("library", "add", str(footage), "-r", env=env)
    assert "0 added" in r.stdout and "3 unchanged" in r.stdout
    r = cli("library", "search", "waves crashing on rocks", "-k", "2", "--json", env=env)
    rows = json.loads(r.stdout)
    assert len(rows) == 2 and rows[0]["path"].endswith("ocean_waves.mp4")
    r = cli("library", "stats", env=env)
    assert "3 indexed, 1 rejected" in r.stdout and "broken.mp4" in r.stdout and "flat" in r.stdout
    r = cli("library", "list", "--json", env=env)
    assert {row["status"] for row in json.loads(r.stdout)} == {"ok", "rejected"}
    r = cli("library", "remove", str(footage / "CampFire.mp4"), env=env)
    assert r.returncode == 0 and "removed 1" in r.stdout
    r = cli("library", "rebuild", env=env)
    assert r.returncode == 0, r.stderr
    r = cli("library", "remove", str(tmp_path / "never.mp4"), env=env)
    assert r.returncode == 2 and "not in the library" in r.stderr
    r = cli("library", "stats", "--library", "bad name!", env=env)
    assert r.returncode == 2 and "invalid library name" in r.stderr and "Traceback" not in r.stderr
    r = cli("library", "search", "x", "--library", "missing", env=env)
    assert r.returncode == 2 and "no clip library named 'missing'" in r.stderr
    r = cli("make", "Ocean waves", "--library", "missing", "-o", str(tmp_path / "v.mp4"), env=env)
    assert r.returncode == 2 and "no clip library named 'missing'" in r.stderr  # before any work
    assert not (tmp_path / "v.mp4").exists()


# ---- a fake Pexels API on 127.0.0.1 -------------------------------------------------------------------


@pytest.fixture
def pexels(tmp_path: Path):
    media = tmp_path / "served"
    files = {
        "waves.mp4": make_clip(media / "waves.mp4", (30, 60, 220), 1.0, size="192x108"),
        "waves_small.mp4": make_clip(media / "waves_small.mp4", (30, 60, 220), 1.0, size="96x54"),
        "desert.mp4": make_clip(media / "desert.mp4", (210, 180, 90), 1.0, size="192x108"),
    }
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):  # quiet
            pass

        def do_GET(self):
            u = urlparse(self.path)
            seen.append(
                {"path": u.path, "query": parse_qs(u.query), "auth": self.headers.get("Authorization")}
            )
            if u.path == "/videos/search":
                if self.headers.get("Authorization") != "test-key":
                    self.send_response(401)
                    self.end_headers()
                    return
                base = f"http://127.0.0.1:{self.server.server_address[1]}/files"
                videos = [
                    {"id": 1001, "url": "https://www.pexels.com/video/waves-crashing-on-rocks-1001/", "duration": 1,
                     "width": 3840, "height": 2160, "tags": ["sea", "surf"],
                     "user": {"id": 7, "name": "Ann Lee", "url": "https://www.pexels.com/@ann"},
                     "video_pictures": [{"id": 1, "picture": f"{base}/none.jpg", "nr": 0}],
                     "video_files": [
                         {"id": 1, "quality": "uhd", "file_type": "video/mp4", "width": 3840, "height": 2160,
                          "link": f"{base}/missing-4k.mp4"},
                         {"id": 2, "quality": "hd", "file_type": "video/mp4", "width": 192, "height": 108,
                          "link": f"{base}/waves.mp4"},
                         {"id": 3, "quality": "sd", "file_type": "video/mp4", "width": 96, "height": 54,
                          "link": f"{base}/waves_small.mp4"}]},
                    {"id": 1002, "url": "https://www.pexels.com/video/sand-dunes-in-the-desert-1002/", "duration": 1,
                     "width": 192, "height": 108, "user": {"id": 8, "name": "Bo"},
                     "video_pictures": [],
                     "video_files": [{"id": 4, "quality": "hd", "file_type": "video/mp4", "width": 192, "height": 108,
                                      "link": f"{base}/desert.mp4"}]},
                ]  # fmt: skip
                n = int(parse_qs(u.query).get("per_page", ["15"])[0])
                body = json.dumps(
                    {"page": 1, "per_page": n, "total_results": 2, "videos": videos[:n]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            name = u.path.rsplit("/", 1)[-1]
            if u.path.startswith("/files/") and name in files:
                data = files[name].read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_response(404)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_downloads_the_best_file_and_indexes_its_tags(tmp_path: Path, pexels):
    base, seen = pexels
    with Library("web", tmp_path / "libs", visual="none") as lib:
        r = fetch(lib, "ocean waves", 2, api_key="test-key", base_url=base)
        assert sorted(p.name for p in r.downloaded) == [
            "1001-waves-crashing-on-rocks.mp4",
            "1002-sand-dunes-in-the-desert.mp4",
        ]
        assert not r.failed and len(r.added.added) == 2
        # the <=1080p file with the most pixels, never the 4K one
        assert [s["path"] for s in seen if s["path"].startswith("/files/")] == [
            "/files/waves.mp4",
            "/files/desert.mp4",
        ]
        assert seen[0]["query"] == {"query": ["ocean waves"], "per_page": ["2"], "page": ["1"]}
        top = lib.search("surf on the sea", 1)[0]
        assert top.path.name.startswith("1001-") and "waves crashing on rocks" in top.text
        assert (
            top.credit
            == "Video by Ann Lee on Pexels (https://www.pexels.com/video/waves-crashing-on-rocks-1001/)"
        )
        # fetching again downloads nothing and indexes nothing again
        again = fetch(lib, "ocean waves", 2, api_key="test-key", base_url=base)
        assert not again.downloaded and len(again.present) == 2 and again.added.unchanged == 2


def test_fetch_errors_are_clear(tmp_path: Path, pexels, monkeypatch):
    base, _ = pexels
    from reelforge.errors import ReelforgeError

    monkeypatch.delenv("PEXELS_API_KEY", raising=False)
    with Library("web", tmp_path / "libs", visual="none") as lib:
        with pytest.raises(ReelforgeError, match="PEXELS_API_KEY is not set"):
            fetch(lib, "waves", 2, base_url=base)
        with pytest.raises(ReelforgeError, match="refused the API key"):
            fetch(lib, "waves", 2, api_key="wrong", base_url=base)
    r = cli("library", "fetch", "ocean waves", "-n", "1", "--base-url", base,
            env={"PEXELS_API_KEY": "test-key", "REELFORGE_LIBRARY_DIR": str(tmp_path / "cli")})  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "1 downloaded" in r.stdout and "1 added" in r.stdout


def test_best_file_skips_oversized_and_non_mp4():
    v = {"video_files": [
        {"link": "https://x/4k.mp4", "file_type": "video/mp4", "width": 3840, "height": 2160, "quality": "uhd"},
        {"link": "https://x/a.webm", "file_type": "video/webm", "width": 1920, "height": 1080},
        {"link": "https://x/hd.mp4", "file_type": "video/mp4", "width": 1920, "height": 1080, "quality": "hd"},
        {"link": "https://x/sd.mp4", "file_type": "video/mp4", "width": 960, "height": 540, "quality": "sd"},
        {"link": "ftp://x/odd.mp4", "file_type": "video/mp4", "width": 1280, "height": 720}]}  # fmt: skip
    assert best_file(v)["link"] == "https://x/hd.mp4"
    assert best_file({"video_files": []}) is None
