"""The API serving a job's files from S3-compatible storage (#17 item 2) when it does not have them: the worker
that made them (on another machine) published them, and this API's own folder for the job is gone. So no disk
is shared: the video with Range requests (206, 416, HEAD), an HLS segment, the playlist, captions, the poster, a
thumbnail, the timeline and the browser renderer's assets, all from a real S3 endpoint (moto on loopback)."""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from s3server import new_bucket
from svcseed import SEED, TOKEN, SeededService

import reelforge.service.files as files_mod
from reelforge.compose.export import asset_names
from reelforge.errors import StorageError
from reelforge.models import Timeline
from reelforge.service.files import parse_range
from reelforge.storage import remote_for
from reelforge.storage.jobs import publish_job

AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = f"/v1/videos/{SEED}"


def storage_service(root: Path, endpoint: str, **service: Any) -> SeededService:
    return SeededService(root, storage_url=f"s3://{new_bucket(endpoint)}/svc", storage_endpoint=endpoint,
                         storage_access_key="testing", storage_secret_key="testing", **service)  # fmt: skip


def published_elsewhere(svc: SeededService) -> dict[str, bytes]:
    """Publish the seeded job as its worker would, then delete every local trace of it (the job's folder and
    the stage-cache files its timeline points at): what an API on another machine has. Returns the files."""
    store = remote_for(svc.settings)
    assert store is not None
    tl = Timeline.model_validate_json((svc.folder / "timeline.json").read_text())
    assets = asset_names(tl)
    publish_job(store, SEED, svc.folder, assets)
    original = {
        p.relative_to(svc.folder).as_posix(): p.read_bytes() for p in svc.folder.rglob("*") if p.is_file()
    }
    original.update({f"assets/{n}": p.read_bytes() for n, p in assets.items()})
    shutil.rmtree(svc.folder)
    shutil.rmtree(svc.assets)
    return original


@pytest.fixture(params=["streamed", "copied"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a file leaves the store: streamed through with Range (large files), or copied once into the
    API's bounded local cache and served from there (small files)."""
    if request.param == "streamed":
        monkeypatch.setattr(files_mod, "SMALL", 0)
    return str(request.param)


@pytest.fixture
def remote_api(tmp_path: Path, s3_endpoint: str, mode: str) -> Iterator[tuple[TestClient, dict[str, bytes]]]:
    svc = storage_service(tmp_path, s3_endpoint)
    files = published_elsewhere(svc)
    with TestClient(svc.app) as client:
        yield client, files
    copies = [p for p in (svc.settings.cache_dir / "objects").rglob("*") if p.is_file()]
    served = [
        p for p in copies if p.suffix not in (".json", ".m3u8")
    ]  # timeline, playlist: read by the server
    assert (mode == "copied") == bool(served)  # streamed: the API's disk never held the files it served
    assert not svc.folder.exists()  # nor did it recreate the job's folder


def test_the_video_with_range_requests_from_the_store(
    remote_api: tuple[TestClient, dict[str, bytes]],
) -> None:
    client, files = remote_api
    video = files["video.mp4"]
    size = len(video)
    r = client.get(f"{BASE}/video.mp4", headers=AUTH)
    assert r.status_code == 200 and r.content == video and r.headers["content-type"] == "video/mp4"
    r = client.get(f"{BASE}/video.mp4", headers={**AUTH, "Range": "bytes=100-1099"})
    assert r.status_code == 206 and r.content == video[100:1100]
    assert r.headers["content-range"] == f"bytes 100-1099/{size}" and r.headers["content-length"] == "1000"
    r = client.get(f"{BASE}/video.mp4", headers={**AUTH, "Range": "bytes=-500"})
    assert r.status_code == 206 and r.content == video[-500:]
    r = client.get(f"{BASE}/video.mp4", headers={**AUTH, "Range": f"bytes={size - 10}-"})
    assert r.status_code == 206 and r.content == video[-10:]
    r = client.get(f"{BASE}/video.mp4", headers={**AUTH, "Range": f"bytes={size}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"
    r = client.head(f"{BASE}/video.mp4", headers=AUTH)
    assert r.status_code == 200 and r.content == b"" and r.headers["content-length"] == str(size)
    assert r.headers["accept-ranges"] == "bytes"
    r = client.get(f"{BASE}/video.mp4?download=1", headers=AUTH)
    assert r.status_code == 200 and "how-bees-make-honey.mp4" in r.headers["content-disposition"]


def test_segment_playlist_sidecars_and_renderer_assets_from_the_store(
    remote_api: tuple[TestClient, dict[str, bytes]],
) -> None:
    client, files = remote_api
    r = client.get(f"{BASE}/hls/s0-1-0.ts", headers=AUTH)
    assert (
        r.status_code == 200
        and r.content == files["hls/s0-1-0.ts"]
        and r.headers["content-type"] == "video/mp2t"
    )
    r = client.get(
        f"{BASE}/stream.m3u8", headers=AUTH
    )  # a finished job with no segment events: the store's copy
    assert r.status_code == 200 and "hls/s0-1-0.ts" in r.text and "#EXT-X-ENDLIST" in r.text
    r = client.get(f"{BASE}/subtitles.vtt", headers=AUTH)
    assert (
        r.status_code == 200
        and r.text.startswith("WEBVTT")
        and r.headers["content-type"].startswith("text/vtt")
    )
    assert client.get(f"{BASE}/subtitles.srt", headers=AUTH).content == files["video.srt"]
    r = client.get(f"{BASE}/poster.png", headers=AUTH)
    assert (
        r.status_code == 200
        and r.content == files["video.poster.png"]
        and r.headers["content-type"] == "image/png"
    )
    assert client.get(f"{BASE}/scenes/0/thumbnail.jpg", headers=AUTH).content == files["thumbs/0.jpg"]
    assert client.get(f"{BASE}/client.mp4", headers=AUTH).content == files["client.mp4"]
    r = client.get(f"{BASE}/timeline", headers=AUTH)
    assert r.status_code == 200, r.text
    for name in ("0.png", "1.wav"):
        r = client.get(f"{BASE}/assets/{name}", headers=AUTH)
        assert r.status_code == 200 and r.content == files[f"assets/{name}"]
    r = client.get(f"{BASE}/assets/1.wav", headers={**AUTH, "Range": "bytes=0-43"})  # the WAV header
    assert r.status_code == 206 and r.content == files["assets/1.wav"][:44]
    # what the store does not have is a 404, as before
    assert client.get(f"{BASE}/hls/s9-9-9.ts", headers=AUTH).status_code == 404
    assert client.get(f"{BASE}/scenes/7/thumbnail.jpg", headers=AUTH).status_code == 404


def test_a_rerendered_file_is_never_served_stale(tmp_path: Path, s3_endpoint: str) -> None:
    """The API's local copies are keyed by the object's ETag: a new render published over the old one is what
    the next request gets."""
    svc = storage_service(tmp_path, s3_endpoint)
    published_elsewhere(svc)
    store = remote_for(svc.settings)
    assert store is not None
    with TestClient(svc.app) as client:
        first = client.get(f"{BASE}/subtitles.vtt", headers=AUTH).text
        store.put_bytes(f"jobs/{SEED}/video.vtt", b"WEBVTT\n\n00:00.000 --> 00:01.000\nNew words\n")
        assert first != client.get(f"{BASE}/subtitles.vtt", headers=AUTH).text
        assert "New words" in client.get(f"{BASE}/subtitles.vtt", headers=AUTH).text


def test_local_files_win_and_deleting_a_job_deletes_its_objects(tmp_path: Path, s3_endpoint: str) -> None:
    svc = storage_service(tmp_path, s3_endpoint)
    store = remote_for(svc.settings)
    assert store is not None
    publish_job(store, SEED, svc.folder)
    (svc.folder / "video.vtt").write_text("WEBVTT\n\nlocal\n")  # this machine's file: served as it is
    with TestClient(svc.app) as client:
        assert "local" in client.get(f"{BASE}/subtitles.vtt", headers=AUTH).text
        assert client.delete(BASE, headers=AUTH).status_code == 204
    assert list(store.list(f"jobs/{SEED}/")) == []


def test_presigned_redirects(tmp_path: Path, s3_endpoint: str) -> None:
    svc = storage_service(tmp_path, s3_endpoint, presign=True)
    files = published_elsewhere(svc)
    with TestClient(svc.app, follow_redirects=False) as client:
        r = client.get(f"{BASE}/video.mp4?download=1", headers=AUTH)
        assert r.status_code == 307
        with urllib.request.urlopen(r.headers["location"]) as got:  # the browser's request: no token, no keys
            assert got.read() == files["video.mp4"] and got.headers["Content-Type"] == "video/mp4"
            assert "how-bees-make-honey.mp4" in got.headers["Content-Disposition"]
        req = urllib.request.Request(
            client.get(f"{BASE}/hls/s0-1-0.ts", headers=AUTH).headers["location"],
            headers={"Range": "bytes=0-187"},
        )
        with urllib.request.urlopen(req) as got:
            assert got.status == 206 and got.read() == files["hls/s0-1-0.ts"][:188]


def test_a_store_that_does_not_answer_is_a_503(tmp_path: Path) -> None:
    svc = SeededService(tmp_path, storage_url="s3://reelforge/x", storage_endpoint="http://127.0.0.1:1",
                        storage_access_key="k", storage_secret_key="s")  # fmt: skip
    shutil.rmtree(svc.folder)
    with TestClient(svc.app) as client:
        r = client.get(f"{BASE}/video.mp4", headers=AUTH)
    assert r.status_code == 503 and "cannot be fetched right now" in r.json()["detail"]
    assert "unreachable" in r.json()["detail"] and r.headers["retry-after"]


def test_a_missing_bucket_stops_the_server_in_one_line(tmp_path: Path, s3_endpoint: str) -> None:
    with pytest.raises(StorageError, match="does not exist") as exc:
        SeededService(tmp_path, storage_url="s3://no-such-bucket/x", storage_endpoint=s3_endpoint,
                      storage_access_key="testing", storage_secret_key="testing")  # fmt: skip
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("bytes=0-9", 100, (0, 9)),
        ("bytes=90-200", 100, (90, 99)),
        ("bytes=-10", 100, (90, 99)),
        ("bytes=-1000", 100, (0, 99)),
        ("bytes=50-", 100, (50, 99)),
        ("bytes=100-", 100, "unsatisfiable"),
        ("bytes=-0", 100, "unsatisfiable"),
        ("bytes=0-1,5-6", 100, None),  # several ranges: the whole file
        ("bytes=9-3", 100, None),
        ("bytes=a-b", 100, None),
        ("items=0-1", 100, None),
        ("bytes=0-", 0, "unsatisfiable"),
    ],
)
def test_parse_range(header: str | None, size: int, expected: object) -> None:
    assert parse_range(header, size) == expected
