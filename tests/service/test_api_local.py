"""The REST API with the local executor, end to end: real renders, SSE, HLS, Range, edits, cancel, restart."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import av
import pytest
from fastapi.testclient import TestClient
from mediatools import probe
from svcutil import parse_sse, playlist_entries

from reelforge.config import load_settings
from reelforge.models import ProgressEvent, Storyboard
from reelforge.service.app import create_app
from reelforge.service.hls import TS_BASE
from reelforge.service.jobs import TERMINAL, Job, SQLiteJobStore
from reelforge.service.runner import HOST

DUR = 8.0


@pytest.fixture(scope="module")
def main(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path):
    """One real job, watched while it runs: job snapshots and playlist snapshots."""
    root = tmp_path_factory.mktemp("api")
    settings = load_settings(None, writer="template", cache_dir=shared_cache, jobs=2,
                             service={"artifact_dir": str(root / "jobs"), "heartbeat_seconds": 0.5})  # fmt: skip
    with TestClient(create_app(settings)) as client:
        r = client.post("/v1/videos", json={"prompt": "How glaciers carve valleys", "duration": DUR,
                                            "resolution": "480p", "seed": 11})  # fmt: skip
        assert r.status_code == 202, r.text
        created = r.json()
        snapshots: list[tuple[str, str, dict[str, Any]]] = []
        end = time.monotonic() + 180
        while time.monotonic() < end:
            job = client.get(f"/v1/videos/{created['id']}").json()
            pl = client.get(f"/v1/videos/{created['id']}/stream.m3u8")
            snapshots.append((job["status"], pl.text if pl.status_code == 200 else "", job))
            if job["status"] in TERMINAL:
                break
            time.sleep(0.05)
        yield {"client": client, "created": created, "job": job, "snapshots": snapshots, "settings": settings,
               "root": root}  # fmt: skip


def test_submit_and_poll_until_done(main):
    created, job = main["created"], main["job"]
    assert re.fullmatch(r"[0-9a-f]{32}", created["id"])
    assert created["links"]["video"] == f"/v1/videos/{created['id']}/video.mp4"
    assert job["status"] == "done", job["error"]
    assert job["percent"] == 100.0 and job["error"] is None
    assert job["title"] and len(job["scenes"]) >= 2
    assert all(s["narration"] and s["visuals"] and s["render"] and s["playable"] for s in job["scenes"])
    assert set(job["stages"]) >= {"script", "narration", "visuals", "audio", "render", "mux"}
    assert job["result"]["duration"] == pytest.approx(DUR, abs=0.05)
    statuses = [s for s, _, _ in main["snapshots"]]
    assert "running" in statuses
    running = [j for s, _, j in main["snapshots"] if s == "running"]
    assert any(j["eta_seconds"] is not None and j["eta_seconds"] >= 0 for j in running)
    percents = [j["percent"] for j in running]
    assert percents == sorted(percents) and 0 < percents[-1] < 100
    assert any(j["stage"] == "render" for j in running)
    r = main["client"].get(f"/v1/videos/{created['id']}/video.mp4")
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    path = main["root"] / "check.mp4"
    path.write_bytes(r.content)
    info = probe(path)
    assert abs(info["duration"] - DUR) <= 0.5
    assert info["video"]["codec"] == "h264" and info["audio"]["codec"] == "aac"
    listing = main["client"].get("/v1/videos").json()["jobs"]
    assert created["id"] in [j["id"] for j in listing]


def test_eta_reported_while_running(main):
    client, job_id = main["client"], main["created"]["id"]
    # replay the job's progress: the API derives an ETA from it whenever a running job has some progress
    from reelforge.service.app import view

    store: SQLiteJobStore = client.app.state.store  # type: ignore[attr-defined]
    job = store.get(job_id)
    assert job is not None
    running = job.model_copy(update={"status": "running", "progress": {**job.progress, "fraction": 0.5},
                                     "started_at": time.time() - 10})  # fmt: skip
    v = view(running)
    assert v.eta_seconds == pytest.approx(10, abs=0.5) and v.percent == 50.0


def test_sse_replays_progress_events_and_status(main):
    client, job_id = main["client"], main["created"]["id"]
    r = client.get(f"/v1/videos/{job_id}/events")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.text)
    kinds = [k for _, k, _ in events]
    statuses = [d["status"] for _, k, d in events if k == "status"]
    assert statuses[:2] == ["queued", "running"] and statuses[-1] == "done"
    assert kinds[-1] == "end"
    progress = [ProgressEvent.model_validate(d) for _, k, d in events if k == "progress"]
    stages = {e.stage for e in progress}
    assert stages >= {"script", "narration", "visuals", "audio", "render", "mux"}
    assert all(e.artifact is None for e in progress)  # no server paths leak
    renders = [e for e in progress if e.stage == "render" and e.message.startswith("segment")]
    assert sorted(int(e.message.split()[1]) for e in renders) == list(range(renders[0].total))
    assert [d["segments"] for _, k, d in events if k == "segment"] == list(range(1, renders[0].total + 1))
    seqs = [s for s, _, _ in events if s is not None]
    assert seqs == sorted(seqs)
    # resume after an event id: only what came later
    r2 = client.get(f"/v1/videos/{job_id}/events", headers={"Last-Event-ID": str(seqs[-3])})
    assert [s for s, _, _ in parse_sse(r2.text) if s is not None] == seqs[-2:]


def test_hls_playlist_grows_and_ends(main):
    snaps = main["snapshots"]
    growing = [
        pl for status, pl, _ in snaps if status == "running" and "#EXTINF" in pl and "ENDLIST" not in pl
    ]
    assert growing, "no playable segment was listed before the job finished"
    n = main["job"]["segments"]
    assert all(len(playlist_entries(pl)) == n for _, pl, _ in snaps if "#EXT-X-ENDLIST" in pl)
    assert all("#EXT-X-PLAYLIST-TYPE:EVENT" in pl for _, pl, _ in snaps if pl)
    counts = [len(playlist_entries(pl)) for _, pl, _ in snaps if pl]
    assert counts == sorted(counts)  # it only grows
    final = main["client"].get(f"/v1/videos/{main['created']['id']}/stream.m3u8")
    assert final.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert final.text.rstrip().endswith("#EXT-X-ENDLIST")
    entries = playlist_entries(final.text)
    assert len(entries) == main["job"]["segments"] == len(main["job"]["scenes"]) + 1  # title + scenes
    assert sum(d for d, _ in entries) == pytest.approx(DUR, abs=0.01)
    target = int(re.search(r"#EXT-X-TARGETDURATION:(\d+)", final.text).group(1))  # type: ignore[union-attr]
    assert all(d <= target for d, _ in entries)


def test_hls_segments_are_valid_with_continuous_timestamps(main, tmp_path):
    client, job_id = main["client"], main["created"]["id"]
    entries = playlist_entries(client.get(f"/v1/videos/{job_id}/stream.m3u8").text)
    start = 0.0
    for k, (dur, uri) in enumerate(entries):
        r = client.get(f"/v1/videos/{job_id}/{uri}")
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp2t"
        path = tmp_path / f"{k}.ts"
        path.write_bytes(r.content)
        with av.open(str(path)) as c:
            assert c.format.name == "mpegts"
            v, a = c.streams.video[0], c.streams.audio[0]
            assert v.codec_context.name == "h264" and a.codec_context.name == "aac"
            assert (v.codec_context.width, v.codec_context.height) == (854, 480)
            assert float(v.start_time * v.time_base) == pytest.approx(TS_BASE + start, abs=0.002)
            assert float(a.start_time * a.time_base) == pytest.approx(TS_BASE + start, abs=0.05)
            frames = sum(1 for _ in c.decode(video=0))
        assert frames == round(dur * 30)
        start += dur


def test_range_request_returns_206_with_the_right_bytes(main):
    client, job_id = main["client"], main["created"]["id"]
    data = (main["settings"].service.artifact_dir / job_id / "video.mp4").read_bytes()
    r = client.get(f"/v1/videos/{job_id}/video.mp4", headers={"Range": "bytes=100-1123"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 100-1123/{len(data)}"
    assert r.content == data[100:1124]
    r = client.get(f"/v1/videos/{job_id}/video.mp4", headers={"Range": f"bytes={len(data) - 10}-"})
    assert r.status_code == 206 and r.content == data[-10:]
    r = client.head(f"/v1/videos/{job_id}/video.mp4")
    assert r.status_code == 200 and int(r.headers["content-length"]) == len(data)
    r = client.get(f"/v1/videos/{job_id}/video.mp4?download=1")
    assert "attachment" in r.headers["content-disposition"] and "glaciers" in r.headers["content-disposition"]


def test_sidecar_files(main):
    client, job_id = main["client"], main["created"]["id"]
    sb = Storyboard.model_validate(client.get(f"/v1/videos/{job_id}/storyboard").json())
    assert sb.duration == DUR
    vtt = client.get(f"/v1/videos/{job_id}/subtitles.vtt")
    assert vtt.text.startswith("WEBVTT") and vtt.headers["content-type"].startswith("text/vtt")
    assert "-->" in client.get(f"/v1/videos/{job_id}/subtitles.srt").text
    png = client.get(f"/v1/videos/{job_id}/poster.png")
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    for i in range(len(sb.scenes)):
        jpg = client.get(f"/v1/videos/{job_id}/scenes/{i}/thumbnail.jpg")
        assert jpg.status_code == 200 and jpg.content[:2] == b"\xff\xd8"
    assert client.get(f"/v1/videos/{job_id}/scenes/99/thumbnail.jpg").status_code == 404


def test_patch_storyboard_rerenders_one_segment(main):
    client, job_id = main["client"], main["created"]["id"]
    before = client.get(f"/v1/videos/{job_id}/storyboard").json()
    last = len(before["scenes"]) - 1
    seq0 = max(s for s, _, _ in parse_sse(client.get(f"/v1/videos/{job_id}/events").text) if s is not None)
    # a new picture for the last scene: its still and its segment are made again, nothing else
    # (a narration edit may also move the scene's boundaries when the new text needs more time)
    new_text = "a wide glacier valley at dawn, blue ice and a small red tent"
    thumb0 = client.get(f"/v1/videos/{job_id}/scenes/{last}/thumbnail.jpg").content
    r = client.patch(
        f"/v1/videos/{job_id}/storyboard", json={"scenes": [{"index": last, "visual": new_text}]}
    )
    assert r.status_code == 202, r.text
    assert r.json()["generation"] == 1 and r.json()["status"] == "queued"
    # editing again while it renders is refused
    busy = client.patch(f"/v1/videos/{job_id}/storyboard", json={"scenes": [{"index": 0, "visual": "x"}]})
    assert busy.status_code == 409 and "still being made" in busy.json()["detail"]
    job = wait_for_done(client, job_id)
    assert job["status"] == "done" and job["generation"] == 1
    events = parse_sse(client.get(f"/v1/videos/{job_id}/events", params={"after": seq0}).text)

    def segments(stage: str) -> list[ProgressEvent]:
        return [ProgressEvent.model_validate(d) for _, k, d in events
                if k == "progress" and d["stage"] == stage and d["message"].startswith("segment")]  # fmt: skip

    previews, renders = segments("preview"), segments("render")
    assert len(previews) == len(renders) == len(before["scenes"]) + 1
    # exactly one segment rendered again, as its scene streamed by; the final render finds them all
    assert [e.scene for e in previews if not e.cached] == [last]
    assert all(e.cached for e in renders)
    visuals = [d for _, k, d in events if k == "progress" and d["stage"] == "visuals" and d["done"]]
    assert len(visuals) == len(before["scenes"])
    after = client.get(f"/v1/videos/{job_id}/storyboard").json()
    assert after["scenes"][last]["visual"] == new_text
    assert after["scenes"][:last] == before["scenes"][:last]
    assert client.get(f"/v1/videos/{job_id}/scenes/{last}/thumbnail.jpg").content != thumb0
    pl = client.get(f"/v1/videos/{job_id}/stream.m3u8").text
    assert "#EXT-X-ENDLIST" in pl and all(u.startswith("hls/s1-") for _, u in playlist_entries(pl))
    # an edit that changes nothing renders nothing
    same = client.patch(
        f"/v1/videos/{job_id}/storyboard", json={"scenes": [{"index": last, "visual": new_text}]}
    )
    assert same.status_code == 200 and same.json()["generation"] == 1 and same.json()["status"] == "done"


def wait_for_done(client: TestClient, job_id: str, timeout: float = 120) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"/v1/videos/{job_id}").json()
        if job["status"] in TERMINAL:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not finished in {timeout} s")


def test_patch_storyboard_validation(main):
    client, job_id = main["client"], main["created"]["id"]
    url = f"/v1/videos/{job_id}/storyboard"
    r = client.patch(url, json={"scenes": [{"index": 0, "narration": "   "}]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "scenes", 0, "narration"]
    assert r.json()["detail"][0]["msg"] == "must contain visible text"
    r = client.patch(url, json={"scenes": [{"index": 40, "narration": "Hello there."}]})
    assert r.status_code == 422 and "does not exist" in r.json()["detail"][0]["msg"]
    r = client.patch(url, json={"scenes": [{"index": 0, "colour": "red"}]})
    assert r.status_code == 422
    r = client.patch(url, content=b'{"scenes": [' + b" " * 300_000 + b"]}",
                     headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 413


def test_delete_cancels_a_running_job_then_deletes_it(main, waiter):
    from reelforge import tools

    client = main["client"]
    r = client.post("/v1/videos", json={"prompt": "Why the sky is blue at noon", "duration": 30,
                                        "resolution": "480p", "seed": 21})  # fmt: skip
    job_id = r.json()["id"]
    waiter(
        client,
        job_id,
        60,
        until=lambda j: j["status"] == "running" and j["stage"] in ("narration", "visuals"),
    )
    t0 = time.monotonic()
    r = client.delete(f"/v1/videos/{job_id}")
    assert r.status_code == 202 and r.json()["cancel_requested"] is True
    job = waiter(client, job_id, 30)
    assert job["status"] == "cancelled" and job["error"] is None
    assert time.monotonic() - t0 < 15
    assert not tools._procs  # no ffmpeg of that job is left running
    job_dir = main["settings"].service.artifact_dir / job_id
    assert not (job_dir / "video.mp4").exists()
    events = parse_sse(client.get(f"/v1/videos/{job_id}/events").text)
    assert [d["status"] for _, k, d in events if k == "status"][-1] == "cancelled"
    assert client.delete(f"/v1/videos/{job_id}").status_code == 204
    assert not job_dir.exists()
    assert client.get(f"/v1/videos/{job_id}").status_code == 404


def test_cancel_a_queued_job(svc_settings, client_for, stub):
    settings = svc_settings()
    with client_for(settings, executor=stub()) as client:
        job_id = client.post("/v1/videos", json={"prompt": "Queued only", "duration": 5}).json()["id"]
        r = client.delete(f"/v1/videos/{job_id}")
        assert r.status_code == 202 and r.json()["status"] == "cancelled"


def test_restart_resumes_from_the_cache(svc_settings, client_for, waiter, tmp_path):
    settings = svc_settings()
    body = {"prompt": "How tides rise and fall", "duration": DUR, "resolution": "480p", "seed": 5}
    with client_for(settings) as client:
        job_id = client.post("/v1/videos", json=body).json()["id"]
        waiter(client, job_id, 60, until=lambda j: (j["stages"].get("visuals") or {}).get("done", 0) >= 1)
    # the server stopped mid-job: the job went back to the queue
    store = SQLiteJobStore(settings.service.database_path())
    job = store.get(job_id)
    assert job is not None and job.status == "queued" and job.attempts == 1 and job.storyboard, (
        job and job.error
    )
    with client_for(settings) as client:
        done = waiter(client, job_id, 120)
    assert done["status"] == "done" and done["attempts"] == 2, done.get("error")
    cache = done["result"]["cache"]
    assert cache["visuals"]["hits"] >= 1  # what the first run finished was not done again
    assert "script" not in cache  # the storyboard came from the job, not from the writer


def test_a_job_of_a_crashed_server_is_resumed(svc_settings, client_for, waiter):
    settings = svc_settings()
    dead = subprocess.Popen(["true"])
    dead.wait()
    store = SQLiteJobStore(settings.service.database_path())
    job = Job(id="ab" * 16, request={"prompt": "How glaciers carve valleys", "duration": DUR,
                                     "resolution": "480p", "seed": 11})  # fmt: skip
    store.create(job)
    assert store.claim(job.id, f"local:{HOST}:{dead.pid}:deadbeef", lease=3600) is not None
    with client_for(settings) as client:
        done = waiter(client, job.id, 120)
    assert done["status"] == "done" and done["attempts"] == 2, done.get("error")
