"""The job store in PostgreSQL (SQLAlchemy 2 + psycopg 3), for a service whose API and workers run on several
machines. SQLite (``jobs.SQLiteJobStore``) stays the default for one machine; ``open_store`` picks.

Same semantics as the SQLite store, call for call: every change to a job happens in a transaction that first
locks the job's row (``SELECT … FOR UPDATE``), which is what ``BEGIN IMMEDIATE`` gives SQLite, so a claim,
a heartbeat or a finish is conditional on the runner still owning the job and a job is finished exactly once
however many workers race for it. Events are appended under the same row lock, so one job's events commit in
the order of their sequence numbers (a reader that resumes after ``seq`` never misses one). The schema is
created and upgraded by Alembic migrations (``migrations/``) when the store opens.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import ConfigError, StoreError, StoreUnavailable
from .jobs import (
    _COLUMNS,
    Event,
    HeartbeatState,
    Job,
    JobStore,
    SQLiteJobStore,
    Status,
    _JobTransitions,
)
from .settings import ServiceSettings

MIGRATIONS = Path(__file__).with_name("migrations")


def open_store(svc: ServiceSettings) -> JobStore:
    """The configured job store: PostgreSQL when ``database_url`` is set, else the SQLite file."""
    if svc.database_url is not None:
        return PostgresJobStore(svc.database_url.get_secret_value())
    return SQLiteJobStore(svc.database_path())


def _driver_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ConfigError(
        f"database_url must be a postgresql:// URL, not {url.split(':', 1)[0]!r}",
        hint='e.g. database_url = "postgresql://user:password@host:5432/reelforge"; leave it unset for SQLite',
    )


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    head, sep, tail = url.partition("@")
    if not sep or "://" not in head:
        return url
    scheme, cred = head.split("://", 1)
    return f"{scheme}://{cred.split(':', 1)[0]}@{tail}"


class PostgresJobStore(_JobTransitions):
    """``JobStore`` on PostgreSQL. Thread-safe (a connection pool) and fork-safe (the pool is rebuilt in a
    child process: Celery's prefork workers)."""

    def __init__(self, url: str) -> None:
        try:
            import sqlalchemy as sa
        except ImportError:
            raise ConfigError("the PostgreSQL job store needs SQLAlchemy and psycopg",
                              hint='pip install "reelforge[service]"') from None  # fmt: skip
        self.url = _safe(url)
        self._sa = sa
        try:
            self._engine = sa.create_engine(_driver_url(url), pool_pre_ping=True, pool_size=5, max_overflow=10,
                                            connect_args={"connect_timeout": 10})  # fmt: skip
        except ImportError as exc:  # create_engine imports the driver: psycopg
            raise ConfigError(f"the PostgreSQL job store needs the psycopg driver ({exc.name or exc} is missing)",
                              hint='pip install "reelforge[service]"') from None  # fmt: skip
        except (ValueError, sa.exc.ArgumentError) as exc:  # e.g. a port that is not a number
            raise ConfigError(f"database_url {self.url} is not a valid URL: {_reason(exc)}",
                              hint='e.g. "postgresql://user:password@host:5432/reelforge"') from None  # fmt: skip
        self._pid = _pid()
        try:
            self._migrate()
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot use the job database {self.url}: {_reason(exc)}",
                             hint="check database_url, that PostgreSQL is running and the user may connect") from None  # fmt: skip

    def _migrate(self) -> None:
        import logging

        # Alembic >= 1.17 logs one INFO line per built-in plugin when imported: noise in serve's log
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self._engine.begin() as con:
            # one process migrates at a time (API and workers may start together)
            con.execute(self._sa.text("SELECT pg_advisory_xact_lock(4242001)"))
            cfg.attributes["connection"] = con
            command.upgrade(cfg, "head")

    # -- plumbing -------------------------------------------------------------------------------

    def _check_fork(self) -> None:
        if _pid() != self._pid:  # a forked child must not share the parent's sockets
            self._engine.dispose(close=False)
            self._pid = _pid()

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        self._check_fork()
        try:
            with self._engine.begin() as con:
                yield con
        except self._sa.exc.OperationalError as exc:
            raise StoreUnavailable(f"the job database {self.url} is unreachable: {_reason(exc)}") from None

    def _q(self, con: Any, sql: str, **params: Any) -> Any:
        return con.execute(self._sa.text(sql), params)

    @staticmethod
    def _job(row: Any) -> Job:
        m = row._mapping
        body = dict(m["body"])
        for c in _COLUMNS:
            body[c] = m[c]
        body["cancel_requested"] = bool(body["cancel_requested"])
        return Job.model_validate(body)

    def _load(self, con: Any, job_id: str, lock: bool = True) -> Job | None:
        row = self._q(
            con, "SELECT * FROM jobs WHERE id = :id" + (" FOR UPDATE" if lock else ""), id=job_id
        ).first()
        return self._job(row) if row is not None else None

    def _save(self, con: Any, job: Job) -> None:
        job.updated_at = time.time()
        body = json.dumps(job.model_dump(mode="json", exclude=set(_COLUMNS)), ensure_ascii=False)
        self._q(con, "INSERT INTO jobs (id, status, owner, queue, runner, lease_until, cancel_requested, created_at,"
                " updated_at, body) VALUES (:id, :status, :owner, :queue, :runner, :lease, :cancel, :created,"
                " :updated, CAST(:body AS JSONB)) ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,"
                " owner = EXCLUDED.owner, queue = EXCLUDED.queue, runner = EXCLUDED.runner,"
                " lease_until = EXCLUDED.lease_until, cancel_requested = EXCLUDED.cancel_requested,"
                " created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, body = EXCLUDED.body",
                id=job.id, status=job.status, owner=job.owner, queue=job.queue, runner=job.runner,
                lease=job.lease_until, cancel=job.cancel_requested, created=job.created_at, updated=job.updated_at,
                body=body)  # fmt: skip

    def _event(self, con: Any, job_id: str, kind: str, data: dict[str, Any]) -> int:
        row = self._q(con, "INSERT INTO events (job_id, kind, ts, data) VALUES (:job, :kind, :ts, CAST(:data AS JSONB))"
                      " RETURNING seq", job=job_id, kind=kind, ts=time.time(),
                      data=json.dumps(data, ensure_ascii=False)).first()  # fmt: skip
        return int(row[0])

    # -- JobStore -------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        with self._tx() as con:
            return self._load(con, job_id, lock=False)

    def list_jobs(self, owner: str | None = None, limit: int = 50, batch: str | None = None) -> list[Job]:
        where, params = [], {"limit": limit}
        if owner is not None:
            where.append("owner = :owner")
            params["owner"] = owner  # type: ignore[assignment]
        if batch is not None:
            where.append("body->>'batch' = :batch")
            params["batch"] = batch  # type: ignore[assignment]
        sql = "SELECT * FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
        with self._tx() as con:
            rows = self._q(con, sql + " ORDER BY created_at DESC LIMIT :limit", **params).fetchall()
            return [self._job(r) for r in rows]

    def count_active(self, owner: str) -> int:
        with self._tx() as con:
            row = self._q(con, "SELECT COUNT(*) FROM jobs WHERE owner = :owner AND status IN ('queued', 'running')",
                          owner=owner).first()  # fmt: skip
            return int(row[0])

    def ids_with_status(self, status: Status) -> list[str]:
        with self._tx() as con:
            rows = self._q(
                con, "SELECT id FROM jobs WHERE status = :s ORDER BY created_at", s=status
            ).fetchall()
            return [r[0] for r in rows]

    def heartbeat(self, job_id: str, runner: str, lease: float) -> HeartbeatState:
        with self._tx() as con:
            row = self._q(con, "UPDATE jobs SET lease_until = :until WHERE id = :id AND runner = :runner AND"
                          " status = 'running' RETURNING cancel_requested", until=time.time() + lease, id=job_id,
                          runner=runner).first()  # fmt: skip
        if row is None:
            return "lost"
        return "cancel" if row[0] else "ok"

    def requeue_stale(self, now: float, runner_dead: Callable[[str], bool]) -> list[str]:
        out: list[str] = []
        with self._tx() as con:
            # SKIP LOCKED: a job some runner is updating right now is not stale
            rows = self._q(
                con, "SELECT * FROM jobs WHERE status = 'running' FOR UPDATE SKIP LOCKED"
            ).fetchall()
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
            n = self._q(con, "DELETE FROM jobs WHERE id = :id", id=job_id).rowcount
            self._q(con, "DELETE FROM events WHERE job_id = :id", id=job_id)
            return bool(n)

    def add_event(self, job_id: str, kind: str, data: dict[str, Any]) -> int:
        with self._tx() as con:
            self._q(con, "SELECT 1 FROM jobs WHERE id = :id FOR UPDATE", id=job_id)  # events in seq order
            return self._event(con, job_id, kind, data)

    def events(self, job_id: str, after: int = 0, limit: int = 500) -> list[Event]:
        with self._tx() as con:
            rows = self._q(con, "SELECT seq, kind, ts, data FROM events WHERE job_id = :job AND seq > :after"
                           " ORDER BY seq LIMIT :limit", job=job_id, after=after, limit=limit).fetchall()  # fmt: skip
        return [Event(seq=r[0], kind=r[1], ts=r[2], data=r[3]) for r in rows]


def _pid() -> int:
    import os

    return os.getpid()


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0][:200] if text else type(orig).__name__
