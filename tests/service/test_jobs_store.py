"""The SQLite job store: claims, leases, conditional finishes, the event log, across processes."""

from __future__ import annotations

import multiprocessing
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from svcutil import claim_in_child

from reelforge.service.jobs import Job, JobStore, SQLiteJobStore, new_job_id, valid_job_id
from reelforge.service.runner import HOST, ProgressTracker, runner_dead


@pytest.fixture(params=["sqlite", "postgres"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the store lives: every contract test runs on the SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "jobs.sqlite3")
    from pgserver import fresh_database

    return fresh_database(request.getfixturevalue("pg_url"))


def open_spec(spec: str) -> JobStore:
    if spec.startswith("postgresql://"):
        from reelforge.service.store_sql import PostgresJobStore

        return PostgresJobStore(spec)
    return SQLiteJobStore(Path(spec))


def make(spec: str) -> tuple[JobStore, Job]:
    store = open_spec(spec)
    job = Job(id=new_job_id(), owner="alice", request={"prompt": "Bees", "duration": 10})
    store.create(job)
    return store, job


def test_wal_mode_and_ids(tmp_path):
    store, job = make(str(tmp_path / "jobs.sqlite3"))
    assert isinstance(store, SQLiteJobStore)
    with store._read() as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert valid_job_id(job.id) and not valid_job_id("../" + job.id[3:]) and not valid_job_id(job.id.upper())


def test_only_one_runner_claims_a_job_and_only_it_finishes(spec):
    store, job = make(spec)
    a = store.claim(job.id, "a", lease=30)
    assert a is not None and a.status == "running" and a.attempts == 1
    assert store.claim(job.id, "b", lease=30) is None  # held
    assert store.heartbeat(job.id, "a", 30) == "ok"
    assert store.heartbeat(job.id, "b", 30) == "lost"
    assert not store.finish(job.id, "b", "done")
    assert store.update_progress(job.id, "a", "render", {"fraction": 0.5}, ("progress", {"x": 1}))
    assert not store.update_progress(job.id, "b", "render", {"fraction": 0.9})
    assert store.finish(job.id, "a", "done", result={"size": 1})
    assert not store.finish(job.id, "a", "done")  # once
    assert store.claim(job.id, "c", lease=30) is None  # finished jobs are never claimed again
    done = store.get(job.id)
    assert done is not None and done.status == "done" and done.result == {"size": 1} and done.runner == "a"
    kinds = [(e.kind, e.data.get("status")) for e in store.events(job.id)]
    assert kinds == [("status", "queued"), ("status", "running"), ("progress", None), ("status", "done")]


def test_an_expired_lease_is_taken_over(spec):
    store, job = make(spec)
    assert store.claim(job.id, "a", lease=0.05) is not None
    time.sleep(0.1)
    b = store.claim(job.id, "b", lease=30)
    assert b is not None and b.attempts == 2
    assert store.heartbeat(job.id, "a", 30) == "lost"  # the old runner learns it lost the job
    assert not store.finish(job.id, "a", "done")
    assert store.finish(job.id, "b", "done")


def test_requeue_stale_and_dead_runners(spec):
    store, job = make(spec)
    other = Job(id=new_job_id(), request={"prompt": "Ants", "duration": 10})
    store.create(other)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.claim(job.id, f"local:{HOST}:{dead.pid}:x", lease=3600)
    store.claim(other.id, "celery:elsewhere:1:y", lease=3600)
    assert runner_dead(f"local:{HOST}:{dead.pid}:x") and not runner_dead("celery:elsewhere:1:y")
    assert store.requeue_stale(time.time(), runner_dead) == [job.id]
    assert store.get(job.id).status == "queued"  # type: ignore[union-attr]
    assert store.requeue_stale(time.time() + 7200, runner_dead) == [other.id]  # its lease ran out


def test_cancel_queued_and_running(spec):
    store, job = make(spec)
    assert store.request_cancel(job.id).status == "cancelled"  # type: ignore[union-attr]
    second = Job(id=new_job_id(), request={"prompt": "Ants", "duration": 10})
    store.create(second)
    store.claim(second.id, "a", lease=30)
    assert store.request_cancel(second.id).cancel_requested  # type: ignore[union-attr]
    assert store.heartbeat(second.id, "a", 30) == "cancel"
    assert store.finish(second.id, "a", "cancelled")
    assert store.requeue_edited(second.id, {"title": "x"}).generation == 1  # type: ignore[union-attr]
    assert store.requeue_edited(second.id, {"title": "y"}) is None  # already queued again


def test_release_and_delete(spec):
    store, job = make(spec)
    store.claim(job.id, "a", lease=30)
    assert store.release(job.id, "a")
    assert store.get(job.id).status == "queued"  # type: ignore[union-attr]
    assert store.count_active("alice") == 1 and store.count_active("bob") == 0
    assert [j.id for j in store.list_jobs("alice")] == [job.id] and store.list_jobs("bob") == []
    assert store.delete(job.id) and store.get(job.id) is None and store.events(job.id) == []


def test_claims_are_exclusive_across_processes(spec):
    _, job = make(spec)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=claim_in_child, args=(spec, job.id, n, out)) for n in range(4)]
    for p in procs:
        p.start()
    wins = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert sum(wins) == 1


def test_claims_are_exclusive_across_threads_and_events_stay_in_order(spec):
    """Eight threads race to claim twenty jobs (each claimed exactly once) while writing events; every job's
    events come back in the order they were written."""
    import threading

    store = open_spec(spec)
    jobs = [Job(id=new_job_id(), request={"prompt": "Bees", "duration": 10}) for _ in range(20)]
    for j in jobs:
        store.create(j)
    won: list[str] = []
    lock = threading.Lock()

    def race(n: int) -> None:
        for j in jobs:
            if store.claim(j.id, f"t{n}", lease=30) is not None:
                with lock:
                    won.append(j.id)
                for k in range(3):
                    store.add_event(j.id, "progress", {"k": k, "by": n})

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(won) == sorted(j.id for j in jobs)  # each exactly once
    for j in jobs:
        evs = store.events(j.id)
        assert [e.seq for e in evs] == sorted(e.seq for e in evs)
        assert [e.data["k"] for e in evs if e.kind == "progress"] == [0, 1, 2]


def test_cancel_racing_claims_leaves_each_job_cancelled_or_claimed(spec):
    """A cancel and a claim of the same queued job: exactly one of them wins it, never both or neither."""
    import threading

    store = open_spec(spec)
    jobs = [Job(id=new_job_id(), request={"prompt": "Bees", "duration": 10}) for _ in range(20)]
    for j in jobs:
        store.create(j)
    claimed: set[str] = set()
    go = threading.Barrier(2)

    def claim() -> None:
        go.wait()
        claimed.update(j.id for j in jobs if store.claim(j.id, "r", lease=30) is not None)

    def cancel() -> None:
        go.wait()
        for j in reversed(jobs):
            store.request_cancel(j.id)

    threads = [threading.Thread(target=claim), threading.Thread(target=cancel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for j in jobs:
        got = store.get(j.id)
        assert got is not None
        if j.id in claimed:  # claimed first: the cancel is a request the runner sees on its heartbeat
            assert got.status == "running" and got.attempts == 1
        else:  # cancelled while queued: no claim can take it any more
            assert got.status == "cancelled" and got.attempts == 0 and store.claim(j.id, "x", 30) is None


def test_a_reader_following_the_log_misses_no_event(spec):
    """Four writers append to one job's log while a reader follows it with ``after``, as the SSE stream
    does: the reader ends with every event, in order (a later seq never becomes visible before an earlier)."""
    import threading

    store, job = make(spec)
    assert store.claim(job.id, "w", lease=30) is not None
    writers_done = threading.Event()
    seen: list[int] = []

    def write(n: int) -> None:
        for k in range(25):
            if k % 2:
                store.add_event(job.id, "segment", {"n": n, "k": k})
            else:
                store.update_progress(job.id, "w", "render", {"k": k}, ("progress", {"n": n, "k": k}))

    def follow() -> None:
        after = 0
        while True:
            done = writers_done.is_set()
            for e in store.events(job.id, after=after):
                seen.append(e.seq)
                after = e.seq
            if done:
                return

    reader = threading.Thread(target=follow)
    reader.start()
    writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in writers:
        t.start()
    for t in writers:
        t.join(60)
    writers_done.set()
    reader.join(60)
    assert seen == [e.seq for e in store.events(job.id, limit=1000)] and len(seen) == 2 + 4 * 25


def test_a_bad_database_url_is_one_clear_error(tmp_path):
    from reelforge.errors import ConfigError, StoreError
    from reelforge.service.store_sql import PostgresJobStore

    with pytest.raises(ConfigError, match="postgresql://"):
        PostgresJobStore("mysql://x@localhost/db")
    with pytest.raises(
        StoreError, match=re.escape("cannot use the job database postgresql://me@127.0.0.1:1/db")
    ) as e:
        PostgresJobStore("postgresql://me:secret@127.0.0.1:1/db")
    assert "secret" not in str(e.value)  # the password never reaches a message
    with pytest.raises(ConfigError, match="not a valid URL") as e:  # not a traceback from the URL parser
        PostgresJobStore("postgresql://me:secret@db:fivethousand/jobs")
    assert "secret" not in str(e.value) and "\n" not in str(e.value)


def test_a_missing_driver_is_one_clear_error(monkeypatch):
    from reelforge.errors import ConfigError
    from reelforge.service.store_sql import PostgresJobStore

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    with pytest.raises(ConfigError, match="needs the psycopg driver"):
        PostgresJobStore("postgresql://me@127.0.0.1:1/db")


def test_progress_tracker_folds_events():
    from reelforge.models import ProgressEvent

    t = ProgressTracker()
    t.apply(ProgressEvent(stage="narration", done=0, total=3))
    t.apply(ProgressEvent(stage="narration", done=1, total=3, scene=2))
    t.apply(ProgressEvent(stage="render", done=1, total=4, scene=0, message="segment 1"))
    snap = t.snapshot()
    assert len(snap["scenes"]) == 3 and snap["scenes"][2]["narration"] and snap["scenes"][0]["render"]
    assert 0 < snap["fraction"] < 1 and snap["stages"]["render"] == {"done": 1, "total": 4, "cached": False}
