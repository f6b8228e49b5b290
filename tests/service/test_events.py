"""Job events announced on Redis (#17 item 4): a write to the job store on one machine wakes the API's
event stream on another at once, with the store as the source of truth and polling as the fallback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from reelforge.config import load_settings
from reelforge.service.events import FALLBACK_POLL, announcing, listening
from reelforge.service.jobs import Job, SQLiteJobStore, new_job_id


def settings_for(tmp_path: Path, broker: str, executor: str = "celery"):
    return load_settings(None, cache_dir=tmp_path / "cache",
                         service={"executor": executor, "broker_url": broker,
                                  "artifact_dir": str(tmp_path / "jobs")})  # fmt: skip


def test_an_event_written_anywhere_wakes_the_listener_at_once(tmp_path: Path, redis_url: str) -> None:
    settings = settings_for(tmp_path, redis_url)
    # the "worker" writes through its own store object (another process or machine would do the same)
    store = announcing(SQLiteJobStore(tmp_path / "jobs.sqlite3"), settings)
    job = Job(id=new_job_id(), request={"prompt": "x", "duration": 10})
    store.create(job)

    async def scenario() -> tuple[bool, float, bool]:
        async with listening(settings, job.id, 0.25) as listener:
            assert listener.live
            loop = asyncio.get_running_loop()
            t0 = time.monotonic()
            loop.call_later(0.3, store.add_event, job.id, "segment", {"index": 0})
            woke = await listener.wait()
            latency = time.monotonic() - t0
            quiet = await listener.wait()  # nothing more: it returns after the fallback interval
            return woke, latency, quiet

    woke, latency, quiet = asyncio.run(scenario())
    assert woke and latency < 1.5, latency  # told, not polled (the fallback poll is 2 s)
    assert not quiet
    assert [e.kind for e in store.events(job.id)][-1] == "segment"  # the store keeps the event itself


def test_without_redis_the_listener_polls(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "redis://127.0.0.1:1/0", executor="local")

    async def scenario() -> tuple[bool, bool, float]:
        async with listening(settings, new_job_id(), 0.2) as listener:
            t0 = time.monotonic()
            woke = await listener.wait()
            return listener.live, woke, time.monotonic() - t0

    live, woke, waited = asyncio.run(scenario())
    assert not live and not woke and 0.15 < waited < FALLBACK_POLL


def test_a_redis_outage_never_fails_a_write(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "redis://127.0.0.1:1/0")  # nothing listens there
    store = announcing(SQLiteJobStore(tmp_path / "jobs.sqlite3"), settings)
    job = Job(id=new_job_id(), request={"prompt": "x", "duration": 10})
    store.create(job)
    assert store.add_event(job.id, "progress", {"stage": "script"}) > 0
    assert store.get(job.id) is not None


def test_the_playlist_comes_from_the_event_log_when_the_files_are_elsewhere(svc_settings, client_for, waiter):
    """A worker on another machine made the segments: the API has no playlist file, only the job's events."""
    from svcutil import playlist_entries

    from reelforge.service.hls import PLAYLIST

    settings = svc_settings()
    with client_for(settings) as client:
        job_id = client.post("/v1/videos", json={"prompt": "How tides rise and fall", "duration": 8,
                                                 "resolution": "480p"}).json()["id"]  # fmt: skip
        job = waiter(client, job_id, 120)
        assert job["status"] == "done", job["error"]
        local = client.get(f"/v1/videos/{job_id}/stream.m3u8").text
        (settings.service.artifact_dir / job_id / PLAYLIST).unlink()
        remote = client.get(f"/v1/videos/{job_id}/stream.m3u8").text
        assert playlist_entries(remote) == playlist_entries(local) and len(playlist_entries(local)) >= 2
        assert remote.rstrip().endswith("#EXT-X-ENDLIST")
