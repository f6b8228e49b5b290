"""Fixtures for the service tests: settings with private dirs, an API client, a real redis-server."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from svcseed import NullExecutor
from svcutil import free_port, start_redis

pytest.importorskip("fastapi", reason="the service extra is not installed: pip install -e '.[service]'")

from fastapi.testclient import TestClient

from reelforge.config import Settings, load_settings
from reelforge.service.app import create_app
from reelforge.service.jobs import TERMINAL


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One stage cache for all service tests: what one test rendered, the next one reuses."""
    return tmp_path_factory.mktemp("svc-cache")


@pytest.fixture
def svc_settings(tmp_path: Path, shared_cache: Path) -> Callable[..., Settings]:
    def make(root: Path | None = None, **service: Any) -> Settings:
        root = root or tmp_path
        service.setdefault("artifact_dir", str(root / "jobs"))
        service.setdefault("lease_seconds", 5.0)
        service.setdefault("heartbeat_seconds", 0.5)
        return load_settings(None, writer="template", cache_dir=shared_cache, jobs=2, service=service)

    return make


def wait_job(client: TestClient, job_id: str, timeout: float = 120.0, until: Callable[[dict[str, Any]], bool] | None = None,
             headers: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """Poll the job until ``until(job)`` (default: finished)."""
    until = until or (lambda j: j["status"] in TERMINAL)
    end = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < end:
        r = client.get(f"/v1/videos/{job_id}", headers=headers or {})
        assert r.status_code == 200, r.text
        job = r.json()
        if until(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not get there in {timeout} s: {job}")


@pytest.fixture
def waiter() -> Callable[..., dict[str, Any]]:
    return wait_job


@contextlib.contextmanager
def api_client(settings: Settings, **kw: Any) -> Iterator[TestClient]:
    with TestClient(create_app(settings, **kw)) as client:
        yield client


@pytest.fixture
def client_for() -> Callable[..., Any]:
    return api_client


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port, for the Celery tests."""
    port = free_port()
    proc = start_redis(port, tmp_path_factory.mktemp("redis"))
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


class StubExecutor(NullExecutor):
    """Accepts jobs and never runs them (for API-only tests)."""

    kind = "stub"


@pytest.fixture
def stub() -> type[StubExecutor]:
    return StubExecutor
