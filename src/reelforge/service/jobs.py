"""Jobs: the model, the ``JobStore`` interface, and its SQLite (WAL) implementation.

A job moves ``queued -> running -> done | failed | cancelled``. A runner *claims* a queued job and holds a
*lease* on it that it renews with heartbeats; a job whose lease ran out (its worker died) is claimed again
by another runner and re-run from the stage cache. Every claim, renewal and finish is conditional on the
runner still owning the job, so a job is finished by exactly one runner however often it is delivered.

Every status change and progress event is also appended to the job's event log, which the API streams as
Server-Sent Events (from any process: the log lives in the store).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

Status = Literal["queued", "running", "done", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"done", "failed", "cancelled"})
ACTIVE: frozenset[str] = frozenset({"queued", "running"})
HeartbeatState = Literal["ok", "cancel", "lost"]

_ID = re.compile(r"^[0-9a-f]{32}$")


def new_job_id() -> str:
    return uuid.uuid4().hex


def valid_job_id(job_id: str) -> bool:
    return bool(_ID.match(job_id))


class Job(BaseModel):
    id: str
    status: Status = "queued"
    owner: str = ""  # the API token's name; "" = anonymous
    request: dict[str, Any]
    backends: dict[str, str] = Field(default_factory=dict)
    queue: str = "cpu"
    #: a tag the client gave several jobs (``POST /v1/videos`` ``batch``): the web UI groups them
    batch: str | None = None
    stage: str | None = None
    progress: dict[str, Any] = Field(default_factory=dict)
    storyboard: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    generation: int = 0  # bumped by every storyboard edit
    attempts: int = 0  # how many times a runner claimed it
    runner: str | None = None
    lease_until: float = 0.0
    cancel_requested: bool = False
    created_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


class Event(BaseModel):
    seq: int
    kind: str  # "status" | "progress" | "segment" | "storyboard"
    data: dict[str, Any]
    ts: float


class JobStore(Protocol):
    """Where jobs and their event logs live. Every method is safe to call from any thread or process."""

    def create(self, job: Job) -> None: ...
    def get(self, job_id: str) -> Job | None: ...
    def list_jobs(self, owner: str | None = None, limit: int = 50, batch: str | None = None) -> list[Job]: ...
    def count_active(self, owner: str) -> int: ...
    def ids_with_status(self, status: Status) -> list[str]: ...
    def claim(self, job_id: str, runner: str, lease: float) -> Job | None: ...
    def heartbeat(self, job_id: str, runner: str, lease: float) -> HeartbeatState: ...
    def update_progress(
        self,
        job_id: str,
        runner: str,
        stage: str | None,
        progress: dict[str, Any],
        event: tuple[str, dict[str, Any]] | None = None,
    ) -> bool: ...
    def set_storyboard(self, job_id: str, runner: str, storyboard: dict[str, Any]) -> None: ...
    def finish(
        self,
        job_id: str,
        runner: str,
        status: Status,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        storyboard: dict[str, Any] | None = None,
    ) -> bool: ...
    def release(self, job_id: str, runner: str) -> bool: ...
    def request_cancel(self, job_id: str) -> Job | None: ...
    def requeue_edited(self, job_id: str, storyboard: dict[str, Any]) -> Job | None: ...
    def requeue_stale(self, now: float, runner_dead: Callable[[str], bool]) -> list[str]: ...
    def delete(self, job_id: str) -> bool: ...
    def add_event(self, job_id: str, kind: str, data: dict[str, Any]) -> int: ...
    def events(self, job_id: str, after: int = 0, limit: int = 500) -> list[Event]: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    owner TEXT NOT NULL,
    queue TEXT NOT NULL,
    runner TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner, created_at);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    ts REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_job ON events(job_id, seq);
"""

# columns kept outside the JSON body so that conditional updates can test them
_COLUMNS = (
    "status",
    "owner",
    "queue",
    "runner",
    "lease_until",
    "cancel_requested",
    "created_at",
    "updated_at",
)


class _JobTransitions:
    """How a job changes state, the same on every store: each change loads the job inside a transaction
    that holds it (SQLite ``BEGIN IMMEDIATE``, PostgreSQL ``SELECT … FOR UPDATE``), checks who owns it, saves
    it and appends to its event log. A store provides ``_tx``, ``_load``, ``_save`` and ``_event``."""

    def _tx(self) -> Any:  # pragma: no cover - provided by each store
        raise NotImplementedError

    def _load(self, con: Any, job_id: str) -> Job | None:  # pragma: no cover
        raise NotImplementedError

    def _save(self, con: Any, job: Job) -> None:  # pragma: no cover
        raise NotImplementedError

    def _event(self, con: Any, job_id: str, kind: str, data: dict[str, Any]) -> int:  # pragma: no cover
        raise NotImplementedError

    def _status_event(self, con: Any, job: Job) -> None:
        self._event(con, job.id, "status", {"status": job.status, "stage": job.stage, "error": job.error,
                                            "generation": job.generation, "attempt": job.attempts})  # fmt: skip

    def create(self, job: Job) -> None:
        with self._tx() as con:
            self._save(con, job)
            self._status_event(con, job)

    def claim(self, job_id: str, runner: str, lease: float) -> Job | None:
        """Take a queued job (or a running one whose lease ran out). ``None`` if someone else has it."""
        now = time.time()
        with self._tx() as con:
            job = self._load(con, job_id)
            if job is None:
                return None
            stale = job.status == "running" and job.lease_until < now
            if not (job.status == "queued" or stale):
                return None
            job.status, job.runner, job.lease_until = "running", runner, now + lease
            job.attempts += 1
            job.started_at = job.started_at or now
            job.error = None
            self._save(con, job)
            self._status_event(con, job)
            return job

    def update_progress(
        self,
        job_id: str,
        runner: str,
        stage: str | None,
        progress: dict[str, Any],
        event: tuple[str, dict[str, Any]] | None = None,
    ) -> bool:
        """Record progress (and append ``event`` to the log) if ``runner`` still owns the job."""
        with self._tx() as con:
            job = self._load(con, job_id)
            if job is None or job.runner != runner or job.status != "running":
                return False
            job.stage, job.progress = stage, progress
            self._save(con, job)
            if event is not None:
                self._event(con, job_id, event[0], event[1])
            return True

    def set_storyboard(self, job_id: str, runner: str, storyboard: dict[str, Any]) -> None:
        with self._tx() as con:
            job = self._load(con, job_id)
            if job is None or job.runner != runner:
                return
            job.storyboard = storyboard
            self._save(con, job)
            self._event(con, job_id, "storyboard", {"generation": job.generation})

    def finish(
        self,
        job_id: str,
        runner: str,
        status: Status,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        storyboard: dict[str, Any] | None = None,
    ) -> bool:
        with self._tx() as con:
            job = self._load(con, job_id)
            if job is None or job.runner != runner or job.status != "running":
                return False  # someone else took the job over: their result counts, not ours
            job.status, job.error, job.finished_at = status, error, time.time()
            job.lease_until, job.cancel_requested = 0.0, False
            if result is not None:
                job.result = result
            if storyboard is not None:
                job.storyboard = storyboard
            self._save(con, job)
            self._status_event(con, job)
            return True

    def release(self, job_id: str, runner: str) -> bool:
        """Give a running job back to the queue (shutdown, transient error): it is re-run later."""
        with self._tx() as con:
            job = self._load(con, job_id)
            if job is None or job.runner != runner or job.status != "running":
                return False
            job.status, job.runner, job.lease_until = "queued", None, 0.0
            self._save(con, job)
            self._status_event(con, job)
            return True

    def request_cancel(self, job_id: str) -> Job | None:
        with self._tx() as con:
            job = self._load(con, job_id)
            if job is None:
                return None
            if job.status == "queued":
                job.status, job.finished_at, job.error = "cancelled", time.time(), None
                self._save(con, job)
                self._status_event(con, job)
            elif job.status == "running" and not job.cancel_requested:
                job.cancel_requested = True
                self._save(con, job)
            return job

    def requeue_edited(self, job_id: str, storyboard: dict[str, Any]) -> Job | None:
        """A finished job with an edited storyboard goes back to the queue (``None`` if it is active)."""
        with self._tx() as con:
            job = self._load(con, job_id)
            if job is None or job.status in ACTIVE:
                return None
            job.status, job.storyboard, job.generation = "queued", storyboard, job.generation + 1
            job.error, job.stage, job.progress, job.runner, job.lease_until = None, None, {}, None, 0.0
            job.started_at = job.finished_at = None
            self._save(con, job)
            self._status_event(con, job)
            return job


class SQLiteJobStore(_JobTransitions):
    """``JobStore`` on one SQLite file in WAL mode: readers never block the writer, and several processes
    on the same machine (the API and Celery workers) can share it. Each call opens its own connection, so
    the store is safe across threads and ``fork``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._connect()
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
        finally:
            con.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA busy_timeout=30000")
        con.execute("PRAGMA synchronous=NORMAL")
        return con

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        con = self._connect()
        try:
            yield con
        finally:
            con.close()

    @staticmethod
    def _job(row: sqlite3.Row) -> Job:
        body = json.loads(row["body"])
        for c in _COLUMNS:
            body[c] = row[c]
        body["cancel_requested"] = bool(body["cancel_requested"])
        return Job.model_validate(body)

    def _load(self, con: sqlite3.Connection, job_id: str) -> Job | None:
        row = con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._job(row) if row else None

    def _save(self, con: sqlite3.Connection, job: Job) -> None:
        job.updated_at = time.time()
        body = job.model_dump(mode="json", exclude=set(_COLUMNS))
        con.execute(
            "INSERT OR REPLACE INTO jobs (id, status, owner, queue, runner, lease_until, cancel_requested,"
            " created_at, updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (job.id, job.status, job.owner, job.queue, job.runner, job.lease_until, int(job.cancel_requested),
             job.created_at, job.updated_at, json.dumps(body, ensure_ascii=False)),
        )  # fmt: skip

    def _event(self, con: sqlite3.Connection, job_id: str, kind: str, data: dict[str, Any]) -> int:
        cur = con.execute(
            "INSERT INTO events (job_id, kind, ts, data) VALUES (?, ?, ?, ?)",
            (job_id, kind, time.time(), json.dumps(data, ensure_ascii=False)),
        )
        return int(cur.lastrowid or 0)

    # -- JobStore -------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        with self._read() as con:
            return self._load(con, job_id)

    def list_jobs(self, owner: str | None = None, limit: int = 50, batch: str | None = None) -> list[Job]:
        where, args = [], []
        if owner is not None:
            where.append("owner = ?")
            args.append(owner)
        if batch is not None:
            where.append("json_extract(body, '$.batch') = ?")
            args.append(batch)
        sql = "SELECT * FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
        with self._read() as con:
            rows = con.execute(sql + " ORDER BY created_at DESC LIMIT ?", (*args, limit))
            return [self._job(r) for r in rows.fetchall()]

    def count_active(self, owner: str) -> int:
        with self._read() as con:
            row = con.execute(
                "SELECT COUNT(*) FROM jobs WHERE owner = ? AND status IN ('queued', 'running')", (owner,)
            ).fetchone()
            return int(row[0])

    def ids_with_status(self, status: Status) -> list[str]:
        with self._read() as con:
            rows = con.execute("SELECT id FROM jobs WHERE status = ? ORDER BY created_at", (status,))
            return [r[0] for r in rows.fetchall()]

    def heartbeat(self, job_id: str, runner: str, lease: float) -> HeartbeatState:
        with self._tx() as con:
            cur = con.execute(
                "UPDATE jobs SET lease_until = ? WHERE id = ? AND runner = ? AND status = 'running'"
                " RETURNING cancel_requested",
                (time.time() + lease, job_id, runner),
            )
            row = cur.fetchone()
        if row is None:
            return "lost"
        return "cancel" if row[0] else "ok"

    def requeue_stale(self, now: float, runner_dead: Callable[[str], bool]) -> list[str]:
        """Running jobs whose lease ran out, or whose runner is known dead, go back to the queue."""
        out: list[str] = []
        with self._tx() as con:
            rows = con.execute("SELECT * FROM jobs WHERE status = 'running'").fetchall()
            for row in rows:
                job = self._job(row)
                if job.lease_until < now or (job.runner is not None and runner_dead(job.runner)):
                    job.status, job.runner, job.lease_until = "queued", None, 0.0
                    self._save(con, job)
                    self._status_event(con, job)
                    out.append(job.id)
        return out

    def delete(self, job_id: str) -> bool:
        with self._tx() as con:
            cur = con.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            con.execute("DELETE FROM events WHERE job_id = ?", (job_id,))
            return cur.rowcount > 0

    def add_event(self, job_id: str, kind: str, data: dict[str, Any]) -> int:
        with self._tx() as con:
            return self._event(con, job_id, kind, data)

    def events(self, job_id: str, after: int = 0, limit: int = 500) -> list[Event]:
        with self._read() as con:
            rows = con.execute(
                "SELECT seq, kind, ts, data FROM events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (job_id, after, limit),
            ).fetchall()
        return [Event(seq=r[0], kind=r[1], ts=r[2], data=json.loads(r[3])) for r in rows]
