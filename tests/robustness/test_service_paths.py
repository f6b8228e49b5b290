"""Paths and sizes through the service (issue #9): no ``../``, absolute path, encoded separator or symlink reaches
a file outside a job's artifact directory through any endpoint, no storyboard field is ever read as a path, and
storyboards (posted or edited) and uploads are size-limited with a message.

A seeded finished job (``svcseed``) is the target; ``/etc/passwd`` and a secret file beside the job directories
are what must never come back."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the service extra is not installed: pip install -e '.[service]'")

from fastapi.testclient import TestClient
from svcseed import ASSETS, SEED, TOKEN, SeededService

from reelforge.config import load_settings
from reelforge.service.app import create_app
from reelforge.service.jobs import TERMINAL

AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "TOP-SECRET-6b1f"
#: every route that names a file, with ``{x}`` where a hostile part goes
FILE_ROUTES = [
    "/v1/videos/{x}", "/v1/videos/{x}/video.mp4", "/v1/videos/{x}/stream.m3u8", "/v1/videos/{x}/storyboard",
    "/v1/videos/{x}/timeline", "/v1/videos/{x}/subtitles.vtt", "/v1/videos/{x}/poster.png",
    f"/v1/videos/{SEED}/hls/{{x}}", f"/v1/videos/{SEED}/assets/{{x}}", f"/v1/videos/{SEED}/scenes/{{x}}/thumbnail.jpg",
    f"/v1/videos/{SEED}/client.{{x}}", f"/v1/videos/{SEED}/{{x}}", "/static/{x}", "/{x}",
]  # fmt: skip
HOSTILE = [
    "..%2F..%2F..%2F..%2Fetc%2Fpasswd", "%2E%2E%2F%2E%2E%2Fsecret.txt", "..%2Fsecret.txt", "%2Fetc%2Fpasswd",
    "..%5C..%5Csecret.txt", "%252e%252e%252fsecret.txt", "..%c0%af..%c0%afetc%c0%afpasswd", "....%2F%2Fsecret.txt",
    "s0-1-0.ts%00..%2F..%2Fsecret.txt", "0.png%2F..%2F..%2F..%2Fsecret.txt", "%2E%2E", "~%2F.ssh%2Fid_rsa",
    "file:%2F%2F%2Fetc%2Fpasswd", "mp4%2F..%2F..%2Fsecret.txt", "secret.txt", "jobs.sqlite3", "..;%2Fsecret.txt",
]  # fmt: skip


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[tuple[SeededService, TestClient]]:
    s = SeededService(tmp_path)
    (s.jobs_dir / "secret.txt").write_text(SECRET)
    (tmp_path / "secret.txt").write_text(SECRET)
    with TestClient(s.app, raise_server_exceptions=False) as client:
        yield s, client


def leaked(body: bytes) -> bool:
    return b"root:" in body or SECRET.encode() in body or b"SQLite format" in body


@pytest.mark.parametrize("route", FILE_ROUTES)
def test_no_hostile_path_reaches_a_file_outside_the_job(
    svc: tuple[SeededService, TestClient], route: str
) -> None:
    _, client = svc
    for part in HOSTILE:
        for headers in (AUTH, {}):
            r = client.get(route.replace("{x}", part), headers=headers)
            assert r.status_code < 500, (route, part, r.status_code, r.text[:200])
            assert not leaked(r.content), (route, part)
            assert r.status_code in (401, 404, 405, 422) or route == "/{x}", (route, part, r.status_code)


def test_symlinks_out_of_the_job_directory_are_not_followed(svc: tuple[SeededService, TestClient]) -> None:
    s, client = svc
    folder = s.folder
    outside = s.jobs_dir / "secret.txt"
    for rel in ("video.mp4", "video.vtt", "video.srt", "video.poster.png", "thumbs/0.jpg", "hls/s0-1-0.ts",
                "stream.m3u8", "client.mp4", "timeline.json"):  # fmt: skip
        target = folder / rel
        target.unlink()
        target.symlink_to("/etc/passwd" if rel.endswith(("mp4", "vtt", "m3u8")) else outside)
    urls = ["video.mp4", "subtitles.vtt", "subtitles.srt", "poster.png", "scenes/0/thumbnail.jpg", "hls/s0-1-0.ts",
            "stream.m3u8", "client.mp4", "timeline", *(f"assets/{n}" for n in ASSETS)]  # fmt: skip
    for url in urls:
        r = client.get(f"/v1/videos/{SEED}/{url}", headers=AUTH)
        assert r.status_code == 404, (url, r.status_code, r.text[:200])
        assert not leaked(r.content), url
    assert "client_render" not in client.get(f"/v1/videos/{SEED}", headers=AUTH).json()["links"]
    # an upload never writes through a link either
    r = client.put(f"/v1/videos/{SEED}/client-render", content=(s.template / "video.mp4").read_bytes(),
                   headers={**AUTH, "Content-Type": "video/mp4"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert not (folder / "client.mp4").is_symlink() and Path("/etc/passwd").read_bytes().startswith(b"root:")


def test_a_job_directory_that_is_a_link_elsewhere_serves_nothing(
    svc: tuple[SeededService, TestClient], tmp_path: Path
) -> None:
    s, client = svc
    elsewhere = tmp_path / "elsewhere"
    s.folder.rename(elsewhere)
    s.folder.symlink_to(elsewhere, target_is_directory=True)
    for url in ("video.mp4", "timeline", "assets/0.png", "client.mp4", "stream.m3u8", "subtitles.vtt"):
        assert client.get(f"/v1/videos/{SEED}/{url}", headers=AUTH).status_code == 404, url
    r = client.put(f"/v1/videos/{SEED}/client-render", content=b"x" * 100, headers=AUTH)
    assert r.status_code == 404 and not list(elsewhere.glob(".client-*"))


@pytest.mark.parametrize(
    "field,value",
    [("image", "/etc/passwd"), ("path", "../../../etc/passwd"), ("clip", "/etc/passwd"), ("music", "/etc/passwd"),
     ("file", "file:///etc/passwd"), ("font", "/etc/passwd")],
)  # fmt: skip
def test_storyboard_path_fields_are_refused(
    svc: tuple[SeededService, TestClient], field: str, value: str
) -> None:
    s, client = svc
    sb = client.get(f"/v1/videos/{SEED}/storyboard", headers=AUTH).json()
    for where in ("top", "scene"):
        bad = (
            {**sb, field: value} if where == "top" else {**sb, "scenes": [{**sb["scenes"][0], field: value}]}
        )
        r = client.post("/v1/videos", json={"prompt": "Bees", "duration": 5, "storyboard": bad}, headers=AUTH)
        assert r.status_code == 422 and field in {str(x) for d in r.json()["detail"] for x in d["loc"]}, (
            r.text
        )
    r = client.patch(
        f"/v1/videos/{SEED}/storyboard", json={"scenes": [{"index": 0, field: value}]}, headers=AUTH
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == field
    r = client.patch(f"/v1/videos/{SEED}/storyboard", json={field: value}, headers=AUTH)
    assert r.status_code == 422
    for key, val in (("voice", value), ("voice", "../voices/x"), ("voice", "x.onnx")):
        r = client.post("/v1/videos", json={"prompt": "Bees", "duration": 5, key: val}, headers=AUTH)
        assert r.status_code == 422 and "file paths are not accepted" in r.json()["detail"][0]["msg"]
    assert s.executor.submitted == []


def test_storyboards_and_uploads_are_size_limited(svc: tuple[SeededService, TestClient]) -> None:
    s, client = svc
    sb = client.get(f"/v1/videos/{SEED}/storyboard", headers=AUTH).json()
    scene = sb["scenes"][0]
    # over max_body: 413 with a message, before anything is parsed
    big = {**sb, "scenes": [{**scene, "narration": "Bees buzz. " * 30_000}]}
    r = client.post("/v1/videos", json={"prompt": "Bees", "duration": 5, "storyboard": big}, headers=AUTH)
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
    r = client.patch(f"/v1/videos/{SEED}/storyboard", headers=AUTH,
                     json={"scenes": [{"index": 0, "narration": "Bees buzz. " * 30_000}]})  # fmt: skip
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
    # under max_body but over the model's limits: 422 naming the field
    many = {**sb, "duration": 121 * 5.0 + 1, "title_duration": 1,
            "scenes": [{**scene, "index": i, "duration": 5.0} for i in range(121)]}  # fmt: skip
    r = client.post("/v1/videos", json={"prompt": "Bees", "duration": 5, "storyboard": many}, headers=AUTH)
    assert r.status_code == 422 and ["body", "storyboard", "scenes"] in [d["loc"] for d in r.json()["detail"]]
    long = {**sb, "scenes": [{**scene, "narration": "Bees buzz. " * 400}]}
    r = client.post("/v1/videos", json={"prompt": "Bees", "duration": 5, "storyboard": long}, headers=AUTH)
    assert r.status_code == 422 and ["body", "storyboard", "scenes", 0, "narration"] in [
        d["loc"] for d in r.json()["detail"]
    ]
    r = client.patch(f"/v1/videos/{SEED}/storyboard", headers=AUTH,
                     json={"scenes": [{"index": 0, "narration": "x"} for _ in range(121)]})  # fmt: skip
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "scenes"]
    r = client.patch(f"/v1/videos/{SEED}/storyboard", headers=AUTH, json={"title": "T" * 201})
    assert r.status_code == 422
    assert s.executor.submitted == []


def test_upload_limit_is_its_own(tmp_path: Path) -> None:
    s = SeededService(tmp_path, max_upload=256 * 1024, max_body=4096)
    video = (s.template / "video.mp4").read_bytes()
    assert 4096 < len(video) <= 256 * 1024
    with TestClient(s.app) as client:
        r = client.put(f"/v1/videos/{SEED}/client-render", content=video,
                       headers={**AUTH, "Content-Type": "video/mp4"})  # fmt: skip
        assert r.status_code == 200, r.text  # over max_body, under max_upload
        r = client.put(f"/v1/videos/{SEED}/client-render", content=b"\0" * (256 * 1024 + 1), headers=AUTH)
        assert r.status_code == 413 and r.json()["detail"].startswith("the video file is larger than")
        r = client.post("/v1/videos", json={"prompt": "B" * 5000, "duration": 5}, headers=AUTH)
        assert r.status_code == 413 and r.json()["detail"].startswith("the request body is larger than")


def test_text_that_looks_like_a_path_is_only_ever_text(tmp_path: Path) -> None:
    """A real render of a storyboard whose every text field names /etc/passwd: nothing is read from there, the
    timeline lists only files the pipeline made, and none of them (or anything served) holds the file."""
    settings = load_settings(None, writer="template", images="procedural", cache_dir=tmp_path / "cache",
                             service={"artifact_dir": str(tmp_path / "jobs"), "heartbeat_seconds": 0.5})  # fmt: skip
    with TestClient(create_app(settings)) as client:
        r = client.post("/v1/videos", json={"prompt": "/etc/passwd", "duration": 8, "resolution": "480p"})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        job = wait(client, job_id)
        assert job["status"] == "done", job["error"]
        sb = client.get(f"/v1/videos/{job_id}/storyboard").json()
        edit = {"title": "/etc/passwd", "scenes": [{"index": i, "visual": "file:///etc/passwd ../../etc/shadow",
                                                    "narration": "Read /etc/passwd."}
                                                   for i in range(len(sb["scenes"]))]}  # fmt: skip
        r = client.patch(f"/v1/videos/{job_id}/storyboard", json=edit)
        assert r.status_code == 202, r.text
        job = wait(client, job_id)
        assert job["status"] == "done", job["error"]
        doc = client.get(f"/v1/videos/{job_id}/timeline").json()
        assert doc["title"] == "/etc/passwd"
        urls = [s["image"] for s in doc["segments"]] + [c["path"] for c in doc["audio"]["narration"]]
        for url in {*urls, doc["audio"]["music"]} - {None}:
            assert url.startswith("assets/")
            a = client.get(f"/v1/videos/{job_id}/{url}")
            assert a.status_code == 200 and not leaked(a.content)
        tl = (settings.service.artifact_dir / job_id / "timeline.json").read_text()
        cache = str(settings.cache_dir.resolve())
        import json

        raw = json.loads(tl)
        paths = [s["image"] for s in raw["segments"]] + [c["path"] for c in raw["audio"]["narration"]]
        assert all(os.path.realpath(p).startswith(cache) for p in paths), paths
        for name in ("video.mp4", "subtitles.vtt", "subtitles.srt", "poster.png"):
            assert not leaked(client.get(f"/v1/videos/{job_id}/{name}").content), name


def wait(client: TestClient, job_id: str, timeout: float = 180) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while (job := client.get(f"/v1/videos/{job_id}").json())["status"] not in TERMINAL:
        assert time.monotonic() < end, job
        time.sleep(0.1)
    return job
