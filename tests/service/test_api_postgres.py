"""The service with its job store in PostgreSQL (#17 item 1): the same API, the job state in the database."""

from __future__ import annotations

from pgserver import fresh_database
from svcutil import parse_sse

from reelforge.service.store_sql import PostgresJobStore


def test_a_job_runs_end_to_end_with_postgresql(svc_settings, client_for, waiter, pg_url):
    url = fresh_database(pg_url)
    settings = svc_settings(database_url=url)
    with client_for(settings) as client:
        job_id = client.post("/v1/videos", json={"prompt": "How tides rise and fall", "duration": 8,
                                                 "resolution": "480p"}).json()["id"]  # fmt: skip
        job = waiter(client, job_id, 120)
        assert job["status"] == "done", job["error"]
        kinds = [k for _, k, _ in parse_sse(client.get(f"/v1/videos/{job_id}/events").text)]
        assert "segment" in kinds and kinds[-1] == "end"
    # the state is in the database, not in the artifact folder
    assert not (settings.service.artifact_dir / "jobs.sqlite3").exists()
    stored = PostgresJobStore(url).get(job_id)
    assert stored is not None and stored.status == "done" and stored.storyboard is not None
