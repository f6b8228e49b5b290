"""Per-scene fan-out (#17): a job's scenes are spoken, drawn and rendered by several Celery workers (real
``reelforge worker`` processes and a real redis-server); the job's own worker joins them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mediatools import probe
from svcutil import launch_worker, parse_sse, stop_worker

from reelforge.config import Settings, load_settings

pytest.importorskip("celery")

pytestmark = pytest.mark.slow

SERVICE = {"executor": "celery", "lease_seconds": 4.0, "heartbeat_seconds": 0.5, "visibility_timeout": 8,
           "scene_fanout": "on", "scene_grace": 2.0, "scene_timeout": 60.0}  # fmt: skip


def write_config(path: Path, root: Path, service: dict[str, Any]) -> Path:
    lines = ['writer = "template"', 'images = "illustrated"', f'cache_dir = "{root / "cache"}"', "jobs = 1",
             "[service]", f'artifact_dir = "{root / "jobs"}"']  # fmt: skip
    lines += [f"{k} = {json.dumps(v)}" for k, v in service.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def cluster(tmp_path: Path, redis_url: str, pg_url: str, s3_endpoint: str) -> Iterator[dict[str, Any]]:
    """The API and workers as on separate machines: each with its own folders (cache, job files), sharing
    only the services: PostgreSQL (jobs and events), S3 (files and the stage cache), Redis (the queue)."""
    from pgserver import fresh_database
    from s3server import new_bucket

    service = {**SERVICE, "broker_url": redis_url, "database_url": fresh_database(pg_url),
               "storage_url": f"s3://{new_bucket(s3_endpoint)}/cluster", "storage_endpoint": s3_endpoint,
               "storage_access_key": "testing", "storage_secret_key": "testing"}  # fmt: skip
    api_root = tmp_path / "api"
    settings = load_settings(None, writer="template", images="illustrated", cache_dir=api_root / "cache",
                             jobs=1, service={**service, "artifact_dir": str(api_root / "jobs")})  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> subprocess.Popen[bytes]:
        own = tmp_path / name  # nothing under here is seen by the API or another worker
        own.mkdir(exist_ok=True)
        config = write_config(own / "reelforge.toml", own, service)
        proc = launch_worker(config, own / "worker.log", name)
        procs.append(proc)
        return proc

    yield {"settings": settings, "start": start, "root": tmp_path, "api": api_root}
    for p in procs:
        stop_worker(p)


def worker_events(settings: Settings, job_id: str) -> list[dict[str, Any]]:
    """The job's ``worker`` events (which worker did which scene), read from the job store while it runs."""
    from reelforge.service.store_sql import open_store

    return [e.data for e in open_store(settings.service).events(job_id, 0, 10_000) if e.kind == "worker"]


def test_three_workers_make_one_video_together(
    cluster: dict[str, Any], client_for: Callable[..., Any], waiter: Callable[..., dict[str, Any]]
) -> None:
    settings: Settings = cluster["settings"]
    for name in ("w1", "w2", "w3"):
        cluster["start"](name)
    with client_for(settings) as client:
        r = client.post("/v1/videos", json={"prompt": "How glaciers carve valleys", "duration": 30,
                                            "resolution": "480p", "seed": 4})  # fmt: skip
        job_id = r.json()["id"]
        job = waiter(client, job_id, 300)
        assert job["status"] == "done", job["error"]
        ran = worker_events(settings, job_id)
        # scenes were done by more than one other worker (what nobody took within scene_grace, the job's own
        # worker did itself)
        assert {e["scene"] for e in ran} <= set(range(len(job["scenes"]))) and len(ran) >= 2
        assert len({e["worker"] for e in ran}) >= 2, ran
        # the API's machine has none of the job's files: it serves them from the store (Range too)
        video = client.get(f"/v1/videos/{job_id}/video.mp4")
        path = cluster["root"] / "fetched.mp4"
        path.write_bytes(video.content)
        assert probe(path)["duration"] == pytest.approx(30, abs=0.1)
        part = client.get(f"/v1/videos/{job_id}/video.mp4", headers={"Range": "bytes=100-1099"})
        assert part.status_code == 206 and part.content == video.content[100:1100]
        playlist = client.get(f"/v1/videos/{job_id}/stream.m3u8").text
        names = [line for line in playlist.splitlines() if line.startswith("hls/")]
        assert len(names) == len(job["scenes"]) + 1 and playlist.rstrip().endswith("#EXT-X-ENDLIST")
        segment = client.get(f"/v1/videos/{job_id}/{names[1]}")
        assert segment.status_code == 200 and len(segment.content) > 1000
        assert client.get(f"/v1/videos/{job_id}/subtitles.vtt").text.startswith("WEBVTT")


def test_a_scene_worker_killed_mid_job_loses_nothing(
    cluster: dict[str, Any], client_for: Callable[..., Any], waiter: Callable[..., dict[str, Any]]
) -> None:
    settings: Settings = cluster["settings"]
    workers = [cluster["start"](name) for name in ("w1", "w2", "w3")]
    with client_for(settings) as client:
        r = client.post("/v1/videos", json={"prompt": "How lighthouses guide ships", "duration": 30,
                                            "resolution": "480p", "seed": 9})  # fmt: skip
        job_id = r.json()["id"]
        waiter(client, job_id, 120, until=lambda j: len(worker_events(settings, job_id)) >= 1)
        busy = {e["worker"].split(":")[-1] for e in worker_events(settings, job_id)}
        # kill a worker whose pool process did a scene (the job's own worker may be another one)
        victim = next((w for w in workers if any(str(c) in busy for c in children(w.pid))), workers[0])
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        job = waiter(client, job_id, 300)
        assert job["status"] == "done", job["error"]
        time.sleep(10)  # a redelivered message must not run the job again
        events = parse_sse(client.get(f"/v1/videos/{job_id}/events").text)
        done = [d for _, k, d in events if k == "status" and d["status"] == "done"]
        assert len(done) == 1
        assert client.get(f"/v1/videos/{job_id}").json()["status"] == "done"
        path = cluster["root"] / "fetched.mp4"
        path.write_bytes(client.get(f"/v1/videos/{job_id}/video.mp4").content)
        assert probe(path)["duration"] == pytest.approx(30, abs=0.1)


def children(pid: int) -> list[int]:
    """The pids of a worker's process group (its pool processes)."""
    out = subprocess.run(["pgrep", "-g", str(os.getpgid(pid))], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]
