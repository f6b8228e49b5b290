"""Helpers for the service tests: parse Server-Sent Events and HLS playlists."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def parse_sse(text: str) -> list[tuple[int | None, str, dict[str, Any]]]:
    """``(id, event, data)`` for every event with data in an SSE stream."""
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith(":") or ":" not in line:
                continue
            k, _, v = line.partition(":")
            fields[k] = v.removeprefix(" ")
        if "data" in fields:
            seq = int(fields["id"]) if "id" in fields else None
            out.append((seq, fields.get("event", "message"), json.loads(fields["data"])))
    return out


def playlist_entries(text: str) -> list[tuple[float, str]]:
    """``(duration, uri)`` of every segment of an HLS media playlist."""
    lines = text.splitlines()
    return [(float(lines[i].split(":")[1].rstrip(",")), lines[i + 1]) for i, ln in enumerate(lines)
            if ln.startswith("#EXTINF")]  # fmt: skip


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def claim_in_child(path: str, job_id: str, n: int, out: Any) -> None:
    """Run in a spawned process (so it lives in an importable module, not in a test file): try 20
    times to claim ``job_id`` and report how many claims won."""
    from pathlib import Path

    from reelforge.service.jobs import SQLiteJobStore
    from reelforge.service.store_sql import PostgresJobStore

    store = PostgresJobStore(path) if path.startswith("postgresql://") else SQLiteJobStore(Path(path))
    out.put(sum(store.claim(job_id, f"p{n}", lease=30) is not None for _ in range(20)))


def start_redis(port: int, work: Path) -> subprocess.Popen[bytes]:
    """A real redis-server on 127.0.0.1:``port`` without persistence (a restart loses its queues), ready."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server); .ci/run installs it")
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(work),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    r = redis.Redis(host="127.0.0.1", port=port)
    end = time.monotonic() + 10
    while True:
        try:
            r.ping()
            return proc
        except redis.ConnectionError:
            if time.monotonic() > end or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by a real uvicorn on a free loopback port in a thread; yields its base URL."""
    uvicorn = pytest.importorskip("uvicorn")
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    end = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < end, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(30)


def launch_worker(config: Path, log: Path, name: str) -> subprocess.Popen[bytes]:
    """A real ``reelforge worker`` process (own process group), once it says it is ready."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reelforge", "worker", "--config", str(config),
         "--concurrency", "1", "--pool", "prefork", "--name", f"{name}@%h"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    end = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > end:
            stop_worker(proc)
            pytest.fail(f"worker {name} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return proc


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    """Stop a worker and its pool processes, politely first."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
