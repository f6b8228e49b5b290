"""Browser rendering through the service (issue #8): a finished job's timeline and its assets (nothing else),
the renderer bundle and font, and the upload of the browser's render (``PUT .../client-render``), checked with
PyAV before it is stored. One real 5 s job, owned by a token, so "the same auth as the job" is tested too."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from fastapi.testclient import TestClient

from reelforge.compose.export import asset_names
from reelforge.config import load_settings
from reelforge.models import Timeline
from reelforge.service.app import UploadRejected, create_app, probe_upload
from reelforge.service.jobs import TERMINAL
from reelforge.tools import find_ffmpeg
from reelforge.webrender import is_built

TOKEN = "t" * 24
OTHER = "o" * 24
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_UPLOAD = 1024 * 1024


def make_media(path: Path, seconds: float, *, audio: bool = True, size: str = "160x90") -> Path:
    """A small real video (H.264/AAC in MP4, or VP9/Opus in WebM by the suffix) of ``seconds``."""
    webm = path.suffix == ".webm"
    cmd = [find_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=15"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000"]
    cmd += ["-t", f"{seconds}", "-pix_fmt", "yuv420p"]
    cmd += ["-c:v", "libvpx-vp9", "-b:v", "100k", "-deadline", "realtime"] if webm else \
        ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "40"]  # fmt: skip
    if audio:
        cmd += ["-c:a", "libopus" if webm else "aac", "-b:a", "32k"]
    subprocess.run([*cmd, str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Any:
    root = tmp_path_factory.mktemp("client-render")
    settings = load_settings(
        None, writer="template", images="procedural", cache_dir=shared_cache, jobs=2,
        service={"artifact_dir": str(root / "jobs"), "heartbeat_seconds": 0.5, "max_upload": MAX_UPLOAD,
                 "tokens": [{"name": "alice", "token": TOKEN}, {"name": "bob", "token": OTHER}]},
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:
        r = client.post("/v1/videos", headers=AUTH,
                        json={"prompt": "How bees make honey", "duration": 5, "resolution": "480p", "seed": 3})  # fmt: skip
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        end = time.monotonic() + 180
        while (j := client.get(f"/v1/videos/{job_id}", headers=AUTH).json())["status"] not in TERMINAL:
            assert time.monotonic() < end, j
            time.sleep(0.1)
        assert j["status"] == "done", j["error"]
        yield {"client": client, "id": job_id, "job": j, "settings": settings, "root": root,
               "dir": settings.service.artifact_dir / job_id}  # fmt: skip


def saved_timeline(job: Any) -> Timeline:
    return Timeline.model_validate_json((job["dir"] / "timeline.json").read_text(encoding="utf-8"))


def test_the_runner_saves_the_timeline(job: Any) -> None:
    tl = saved_timeline(job)
    assert tl.duration == pytest.approx(5.0, abs=0.05)
    assert len(asset_names(tl)) >= 3  # stills and narration, at least
    assert job["job"]["links"]["timeline"] == f"/v1/videos/{job['id']}/timeline"
    assert "client_render" not in job["job"]["links"]


def test_timeline_has_relative_asset_urls_and_each_asset_is_served(job: Any) -> None:
    client, job_id = job["client"], job["id"]
    r = client.get(f"/v1/videos/{job_id}/timeline", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["schema"] == "reelforge.timeline/1"
    Timeline.model_validate(doc)  # still a valid timeline, with URLs for paths
    names = asset_names(saved_timeline(job))
    urls = [s["image"] for s in doc["segments"]] + [c["path"] for c in doc["audio"]["narration"]]
    urls += [doc["audio"]["music"]] if doc["audio"]["music"] else []
    urls += [u for s in doc["segments"] for layer in s["layers"] for u in (layer["image"], *layer["frames"])]
    assert set(urls) == {f"assets/{n}" for n in names}
    assert "/" not in json.dumps(urls).replace("assets/", "")  # no server path leaks
    base = f"http://testserver/v1/videos/{job_id}/timeline"
    for name, path in names.items():
        url = urljoin(base, f"assets/{name}")  # as the renderer resolves it
        a = client.get(url, headers=AUTH)
        assert a.status_code == 200, (name, a.text)
        assert a.content == path.read_bytes()
        expected = {".png": "image/png", ".jpg": "image/jpeg", ".wav": "audio/wav"}.get(path.suffix)
        if expected:
            assert a.headers["content-type"] == expected
    assert client.head(urljoin(base, f"assets/{next(iter(names))}"), headers=AUTH).status_code == 200


def test_asset_range_request_is_206(job: Any) -> None:
    client, job_id = job["client"], job["id"]
    name, path = next(iter(asset_names(saved_timeline(job)).items()))
    data = path.read_bytes()
    r = client.get(f"/v1/videos/{job_id}/assets/{name}", headers={**AUTH, "Range": "bytes=10-109"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 10-109/{len(data)}"
    assert r.content == data[10:110]


@pytest.mark.parametrize(
    "name",
    ["99.png", "0.PNG", "0", "%2E%2E", "%2E", "timeline.json", "video.mp4", "client.mp4", "..%2Ftimeline.json",
     "..%2F..%2F..%2F..%2Fetc%2Fpasswd", "%2E%2E%2F%2E%2E%2Fjobs.sqlite3", "%2Fetc%2Fpasswd", "0.png%00",
     "0.png%2F..%2F..%2Ftimeline.json", "..\\timeline.json", "~root", "x" * 65],
)  # fmt: skip
def test_only_the_timelines_assets_are_reachable(job: Any, name: str) -> None:
    r = job["client"].get(f"/v1/videos/{job['id']}/assets/{name}", headers=AUTH)
    assert r.status_code in (404, 422), (name, r.status_code)
    assert b"root:" not in r.content


def test_the_same_auth_as_the_job_and_tokens_carry_to_asset_urls(job: Any) -> None:
    client, job_id = job["client"], job["id"]
    name = next(iter(asset_names(saved_timeline(job))))
    for path in ("timeline", f"assets/{name}"):
        url = f"/v1/videos/{job_id}/{path}"
        assert client.get(url).status_code == 404  # anonymous: not alice's
        assert client.get(url, headers={"Authorization": f"Bearer {OTHER}"}).status_code == 404  # bob
        assert client.get(url, headers={"Authorization": "Bearer wrong-token-xxxxxxxx"}).status_code == 401
    r = client.get(f"/v1/videos/{job_id}/timeline?access_token={TOKEN}")
    assert r.status_code == 200
    url = r.json()["segments"][0]["image"]
    assert url.startswith("assets/") and url.endswith(f"?access_token={TOKEN}")
    full = urljoin(f"http://testserver/v1/videos/{job_id}/timeline?access_token={TOKEN}", url)
    assert client.get(full).status_code == 200  # no header: the token in the URL is enough


def test_timeline_of_an_unfinished_or_old_job_is_404(job: Any, svc_settings, client_for, stub) -> None:
    with client_for(svc_settings(), executor=stub()) as client:
        job_id = client.post("/v1/videos", json={"prompt": "Bees", "duration": 5}).json()["id"]
        r = client.get(f"/v1/videos/{job_id}/timeline")
        assert r.status_code == 404 and "not finished" in r.json()["detail"]
        assert client.get(f"/v1/videos/{job_id}/assets/0.png").status_code == 404
        r = client.put(f"/v1/videos/{job_id}/client-render", content=b"x" * 100)
        assert r.status_code == 409 and "not finished" in r.json()["detail"]


def test_bundle_and_font_are_served(job: Any) -> None:
    client = job["client"]
    font = client.get("/static/font.ttf")
    assert font.status_code == 200 and font.headers["content-type"] == "font/ttf"
    assert font.content[:4] in (b"\x00\x01\x00\x00", b"true", b"OTTO")
    js = client.get("/static/renderer.js")
    if is_built():
        assert js.status_code == 200 and "ReelforgeRenderer" in js.text
        assert js.headers["content-type"].startswith("text/javascript")
    else:
        assert js.status_code == 404
    assert "/static/renderer.js" in client.get("/").text


# ---- the upload ---------------------------------------------------------------------------------


def put(job: Any, data: bytes | Any, ctype: str = "video/mp4", **kw: Any) -> Any:
    return job["client"].put(f"/v1/videos/{job['id']}/client-render", content=data,
                             headers={**AUTH, "Content-Type": ctype}, **kw)  # fmt: skip


@pytest.mark.parametrize(
    "data,words",
    [(b"", "empty"), (b"\x00" * 5000, "not a video"), (b"hello, this is not a video at all\n" * 50, "not a video"),
     (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 3000, "not a video")],
)  # fmt: skip
def test_put_garbage_is_422_with_a_clear_message(job: Any, data: bytes, words: str) -> None:
    r = put(job, data)
    assert r.status_code == 422, r.text
    assert words in r.json()["detail"]
    assert not list(job["dir"].glob(".client-*"))  # no temporary file is left


def test_put_checks_tracks_and_length(job: Any, tmp_path: Path) -> None:
    silent = make_media(tmp_path / "silent.mp4", 5, audio=False)
    r = put(job, silent.read_bytes())
    assert r.status_code == 422 and r.json()["detail"] == "the file has no audio track"
    short = make_media(tmp_path / "short.mp4", 2.5)
    r = put(job, short.read_bytes())
    assert r.status_code == 422
    assert "2.5" in r.json()["detail"] and "5.00 s" in r.json()["detail"]
    wav = tmp_path / "a.wav"
    subprocess.run(
        [find_ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "sine", "-t", "5", str(wav)], check=True
    )
    r = put(job, wav.read_bytes())
    assert r.status_code == 422 and "not MP4 or WebM" in r.json()["detail"]
    with pytest.raises(UploadRejected, match="no video track"):
        _audio_only(tmp_path)
    assert not list(job["dir"].glob(".client-*"))


def _audio_only(tmp_path: Path) -> None:
    path = tmp_path / "audio.mp4"
    subprocess.run([find_ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "sine", "-t", "5", "-c:a", "aac",
                    str(path)], check=True)  # fmt: skip
    probe_upload(path)


def test_put_too_large_is_413(job: Any) -> None:
    big = b"\x00" * (MAX_UPLOAD + 1)
    r = put(job, big)  # by Content-Length
    assert r.status_code == 413 and "larger than" in r.json()["detail"]

    def chunks() -> Any:  # chunked, no Content-Length: counted while reading
        for _ in range(MAX_UPLOAD // 65536 + 2):
            yield b"\x00" * 65536

    r = put(job, chunks())
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
    assert not list(job["dir"].glob(".client-*"))


def test_put_a_valid_mp4_then_a_webm(job: Any, tmp_path: Path) -> None:
    client, job_id = job["client"], job["id"]
    mp4 = make_media(tmp_path / "ok.mp4", 5.4)  # within 1 s of 5 s
    r = put(job, mp4.read_bytes())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["links"]["client_render"] == f"/v1/videos/{job_id}/client.mp4"
    info = body["client_render"]
    assert info["duration"] == pytest.approx(5.4, abs=0.1) and (info["width"], info["height"]) == (160, 90)
    assert (
        info["video_codec"] == "h264" and info["audio_codec"] == "aac" and info["size"] == mp4.stat().st_size
    )
    assert (job["dir"] / "client.mp4").read_bytes() == mp4.read_bytes()
    assert client.get(f"/v1/videos/{job_id}", headers=AUTH).json()["links"]["client_render"].endswith(".mp4")
    got = client.get(f"/v1/videos/{job_id}/client.mp4", headers=AUTH)
    assert got.status_code == 200 and got.headers["content-type"] == "video/mp4"
    assert got.content == mp4.read_bytes()
    part = client.get(f"/v1/videos/{job_id}/client.mp4", headers={**AUTH, "Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == mp4.read_bytes()[:10]
    assert client.get(f"/v1/videos/{job_id}/client.mp4").status_code == 404  # not alice: not hers to see
    assert client.get(f"/v1/videos/{job_id}/client.mov", headers=AUTH).status_code == 422

    webm = make_media(tmp_path / "ok.webm", 4.6)
    r = put(job, webm.read_bytes(), "video/webm")
    assert r.status_code == 200, r.text
    assert r.json()["links"]["client_render"].endswith("/client.webm")
    assert r.json()["client_render"]["video_codec"] == "vp9"
    assert not (job["dir"] / "client.mp4").exists() and (job["dir"] / "client.webm").is_file()
    assert client.get(f"/v1/videos/{job_id}/client.mp4", headers=AUTH).status_code == 404


def test_an_edit_drops_the_old_browser_render(job: Any, tmp_path: Path) -> None:
    client, job_id = job["client"], job["id"]
    assert put(job, make_media(tmp_path / "ok.mp4", 5).read_bytes()).status_code == 200
    r = client.patch(f"/v1/videos/{job_id}/storyboard", headers=AUTH,
                     json={"scenes": [{"index": 0, "visual": "a bee on a yellow flower, close up"}]})  # fmt: skip
    assert r.status_code == 202 and "client_render" not in r.json()["links"]
    assert not list(job["dir"].glob("client.*"))
    end = time.monotonic() + 120
    while (j := client.get(f"/v1/videos/{job_id}", headers=AUTH).json())["status"] not in TERMINAL:
        assert time.monotonic() < end, j
        time.sleep(0.1)
    assert j["status"] == "done" and j["generation"] == 1
    assert client.get(f"/v1/videos/{job_id}/timeline", headers=AUTH).status_code == 200
