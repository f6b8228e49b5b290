"""The Celery executor against a real redis-server and real worker processes (``reelforge worker``)."""

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
from svcutil import free_port, launch_worker, parse_sse, start_redis, stop_worker

from reelforge.config import Settings, load_settings
from reelforge.service.jobs import SQLiteJobStore

pytest.importorskip("celery")

pytestmark = pytest.mark.slow


def celery_settings(root: Path, cache: Path, service: dict[str, Any]) -> tuple[Settings, Path]:
    """Settings for the API side, and the same as a config file for ``reelforge worker --config``."""
    settings = load_settings(None, writer="template", cache_dir=cache, jobs=2, service=service)
    config = root / "reelforge.toml"
    lines = ['writer = "template"', f'cache_dir = "{cache}"', "jobs = 2", "[service]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in service.items()]
    config.write_text("\n".join(lines) + "\n")
    return settings, config


@pytest.fixture
def celery_env(tmp_path: Path, shared_cache: Path, redis_url: str) -> dict[str, Any]:
    service = {"executor": "celery", "broker_url": redis_url, "artifact_dir": str(tmp_path / "jobs"),
               "lease_seconds": 3.0, "heartbeat_seconds": 0.5, "visibility_timeout": 6}  # fmt: skip
    settings, config = celery_settings(tmp_path, shared_cache, service)
    return {"settings": settings, "config": config, "root": tmp_path}


@pytest.fixture
def start_worker(celery_env: dict[str, Any]) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> subprocess.Popen[bytes]:
        proc = launch_worker(celery_env["config"], celery_env["root"] / f"{name}.log", name)
        procs.append(proc)
        return proc

    yield start
    for p in procs:  # stop our workers (and their pool processes) whatever happened
        stop_worker(p)


def statuses(client: Any, job_id: str) -> list[str]:
    return [
        d["status"] for _, k, d in parse_sse(client.get(f"/v1/videos/{job_id}/events").text) if k == "status"
    ]


def test_job_submitted_through_the_api_is_done_by_a_worker(celery_env, start_worker, client_for, waiter):
    settings: Settings = celery_env["settings"]
    start_worker("w1")
    with client_for(settings) as client:
        assert client.get("/healthz").json()["executor"] == "celery"
        r = client.post("/v1/videos", json={"prompt": "How glaciers carve valleys", "duration": 8,
                                            "resolution": "480p", "seed": 11})  # fmt: skip
        assert r.status_code == 202 and r.json()["queue"] == "cpu"
        job_id = r.json()["id"]
        job = waiter(client, job_id, 180)
        assert job["status"] == "done", job["error"]
        assert job["segments"] == len(job["scenes"]) + 1
        video = client.get(f"/v1/videos/{job_id}/video.mp4")
        assert video.status_code == 200
        path = celery_env["root"] / "fetched.mp4"
        path.write_bytes(video.content)
        assert abs(probe(path)["duration"] - 8) <= 0.5
        assert "#EXT-X-ENDLIST" in client.get(f"/v1/videos/{job_id}/stream.m3u8").text
        # progress crossed processes: the worker wrote it, the API streamed it
        assert statuses(client, job_id) == ["queued", "running", "done"]


def test_worker_killed_mid_job_the_job_completes_once_on_another_worker(
    celery_env, start_worker, client_for, waiter
):
    settings: Settings = celery_env["settings"]
    first = start_worker("w1")
    with client_for(settings) as client:
        r = client.post("/v1/videos", json={"prompt": "How lighthouses guide ships", "duration": 20,
                                            "resolution": "480p", "seed": 7})  # fmt: skip
        job_id = r.json()["id"]
        waiter(client, job_id, 120, until=lambda j: j["status"] == "running" and j["stage"] in
               ("narration", "visuals", "audio"))  # fmt: skip
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool process, no goodbye
        first.wait()
        assert client.get(f"/v1/videos/{job_id}").json()["status"] == "running"
        start_worker("w2")
        job = waiter(client, job_id, 240)
        assert job["status"] == "done", job["error"]
        assert job["attempts"] == 2
        # the unacknowledged message of the dead worker comes back after the visibility timeout (6 s) and
        # must not run the job again
        time.sleep(12)
        job = client.get(f"/v1/videos/{job_id}").json()
        assert job["status"] == "done" and job["attempts"] == 2
        seen = statuses(client, job_id)
        assert seen.count("done") == 1 and seen.count("running") == 2, seen
        files = sorted(p.name for p in (settings.service.artifact_dir / job_id).iterdir() if p.is_file())
        assert files.count("video.mp4") == 1 and not [f for f in files if ".part" in f], files
        path = settings.service.artifact_dir / job_id / "video.mp4"
        assert abs(probe(path)["duration"] - 20) <= 0.5

        # delivering the task once more is harmless: the job is finished, the task does nothing
        from reelforge.service.celery_app import TASK_NAME, create_celery

        app = create_celery(settings, with_task=False)
        assert app.send_task(TASK_NAME, args=[job_id], queue="cpu").get(timeout=60) == "skipped"
        store = SQLiteJobStore(settings.service.database_path())
        again = store.get(job_id)
        assert again is not None and again.attempts == 2 and again.status == "done"


def test_redis_restart_loses_no_queued_job(tmp_path: Path, shared_cache: Path, client_for, waiter):
    """Jobs queued while no worker runs; redis-server (no persistence) is killed and started again, which
    empties its queues; the API server notices the restart and sends the queued jobs again; a worker then
    runs each exactly once."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis_proc = start_redis(port, tmp_path)
    service = {"executor": "celery", "broker_url": url, "artifact_dir": str(tmp_path / "jobs"),
               "lease_seconds": 2.0, "heartbeat_seconds": 0.5, "visibility_timeout": 30}  # fmt: skip
    settings, config = celery_settings(tmp_path, shared_cache, service)
    worker = None
    try:
        with client_for(settings) as client:
            ids = []
            for k, prompt in enumerate(("Why leaves change colour", "How tides work")):
                r = client.post("/v1/videos", json={"prompt": prompt, "duration": 6, "resolution": "480p",
                                                    "seed": 20 + k})  # fmt: skip
                assert r.status_code == 202
                ids.append(r.json()["id"])
            import redis

            assert redis.Redis.from_url(url).llen("cpu") == 2  # both messages wait in the broker
            redis_proc.kill()
            redis_proc.wait()
            redis_proc = start_redis(port, tmp_path)
            assert redis.Redis.from_url(url).llen("cpu") == 0  # the restart lost them
            end = time.monotonic() + 15  # the executor's sweep (every lease/2 = 1 s) sends them again
            while redis.Redis.from_url(url).llen("cpu") < 2:
                assert time.monotonic() < end, "the queued jobs were not sent again after the restart"
                time.sleep(0.2)
            worker = launch_worker(config, tmp_path / "w.log", "w-restart")
            for job_id in ids:
                job = waiter(client, job_id, 180)
                assert job["status"] == "done" and job["attempts"] == 1, job
                seen = statuses(client, job_id)
                assert seen.count("running") == 1 and seen.count("done") == 1, seen
    finally:
        if worker is not None:
            stop_worker(worker)
        redis_proc.terminate()
        redis_proc.wait(10)
