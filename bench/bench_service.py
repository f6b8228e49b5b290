"""Service benchmark: N concurrent short jobs through the API, on the local executor and on Celery with
two workers (a real redis-server), each with a fresh cache so every job does real work.

Reports jobs/min, p50/p95 latency to the first playable HLS segment and to done, and checks that no job
was lost or run twice. Then the time to the first playable segment of a 60 s video (goal: <= 10 s).

    .venv/bin/python bench/bench_service.py --jobs 4 --duration 8
    .venv/bin/python bench/bench_service.py --skip-celery --long 0      # local executor only, quick
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from reelforge.config import Settings, load_settings
from reelforge.service.app import create_app
from reelforge.service.jobs import TERMINAL, SQLiteJobStore

TOPICS = ["how bees make honey", "why volcanoes erupt", "how tides work", "how bridges stand",
          "why leaves change colour", "how rainbows form", "how trains brake", "why cats purr",
          "how glaciers move", "how coffee is roasted", "how maps are drawn", "why the sea is salty"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def settings_for(root: Path, **service: Any) -> Settings:
    service.setdefault("artifact_dir", str(root / "jobs"))
    return load_settings(None, writer="template", cache_dir=root / "cache", service=service)


def run_jobs(client: TestClient, bodies: list[dict[str, Any]], timeout: float) -> dict[str, Any]:
    t0 = time.monotonic()
    ids = []
    for body in bodies:
        r = client.post("/v1/videos", json=body)
        r.raise_for_status()
        ids.append(r.json()["id"])
    first: dict[str, float] = {}
    done: dict[str, float] = {}
    final: dict[str, dict[str, Any]] = {}
    end = t0 + timeout
    while len(final) < len(ids) and time.monotonic() < end:
        for job_id in ids:
            if job_id in final:
                continue
            job = client.get(f"/v1/videos/{job_id}").json()
            now = time.monotonic() - t0
            if job["segments"] >= 1 and job_id not in first:
                first[job_id] = now
            if job["status"] in TERMINAL:
                done[job_id] = now
                final[job_id] = job
        time.sleep(0.1)
    store: SQLiteJobStore = client.app.state.store  # type: ignore[attr-defined]
    runs = {}
    for job_id in ids:
        statuses = [e.data["status"] for e in store.events(job_id) if e.kind == "status"]
        runs[job_id] = statuses.count("done")
    ok = [j for j in ids if final.get(j, {}).get("status") == "done"]
    wall = max(done.values()) if done else float("nan")
    return {
        "ids": ids,
        "jobs": len(ids),
        "done": len(ok),
        "lost": len(ids) - len(ok),
        "duplicated": sum(1 for n in runs.values() if n > 1),
        "attempts": sorted(final[j]["attempts"] for j in final),
        "wall_s": round(wall, 2),
        "jobs_per_min": round(len(ok) / wall * 60, 2) if ok else 0.0,
        "first_segment_p50_s": round(pct(list(first.values()), 0.5), 2),
        "first_segment_p95_s": round(pct(list(first.values()), 0.95), 2),
        "done_p50_s": round(pct(list(done.values()), 0.5), 2),
        "done_p95_s": round(pct(list(done.values()), 0.95), 2),
    }


def stage_times(events: list[Any]) -> dict[str, float]:
    """When each stage finished, in seconds after the job started running (from the job's event log)."""
    start = next((e.ts for e in events if e.kind == "status" and e.data.get("status") == "running"), None)
    out: dict[str, float] = {}
    if start is None:
        return out
    for e in events:
        d = e.data
        if e.kind == "progress" and d["total"] and d["done"] == d["total"]:
            out[d["stage"]] = round(e.ts - start, 2)
        if e.kind == "segment" and d["index"] == 0:
            out["first_hls_segment"] = round(e.ts - start, 2)
    return out


def bodies(n: int, duration: float, offset: int) -> list[dict[str, Any]]:
    return [{"prompt": TOPICS[(i + offset) % len(TOPICS)].capitalize(), "duration": duration, "resolution": "480p",
             "seed": 1000 + offset + i} for i in range(n)]  # fmt: skip


@contextmanager
def redis_server(root: Path) -> Iterator[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server not found (apt-get install redis-server), or pass --skip-celery")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(root)], stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        import redis

        r = redis.Redis(host="127.0.0.1", port=port)
        for _ in range(200):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def workers(root: Path, settings: Settings, n: int) -> Iterator[None]:
    svc = settings.service
    cfg = root / "worker.toml"
    cfg.write_text(
        f'writer = "template"\ncache_dir = "{settings.cache_dir}"\n[service]\nartifact_dir = "{svc.artifact_dir}"\n'
        f'broker_url = "{svc.broker_url.get_secret_value()}"\n'
    )
    procs = []
    try:
        for i in range(n):
            log = root / f"worker{i}.log"
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "reelforge", "worker", "--config", str(cfg), "--concurrency", "1",
                 "--name", f"bench{i}@%h"], stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
            ))  # fmt: skip
            while b"ready." not in log.read_bytes():
                if procs[-1].poll() is not None:
                    raise SystemExit(f"worker failed:\n{log.read_text()[-2000:]}")
                time.sleep(0.1)
        yield
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=4, help="concurrent short jobs per executor")
    ap.add_argument("--duration", type=float, default=8.0, help="seconds of video per short job")
    ap.add_argument("--workers", type=int, default=2, help="local pool size and number of Celery workers")
    ap.add_argument(
        "--long", type=float, default=60.0, help="length of the time-to-first-segment video (0: skip)"
    )
    ap.add_argument("--skip-celery", action="store_true")
    ap.add_argument("--timeout", type=float, default=900.0)
    args = ap.parse_args()
    report: dict[str, Any] = {"cpus": os.cpu_count(), "jobs": args.jobs, "duration": args.duration}
    with tempfile.TemporaryDirectory(prefix="rf-bench-") as tmp:
        root = Path(tmp)
        if args.jobs:
            local_root = root / "local"
            settings = settings_for(local_root, local_workers=args.workers)
            with TestClient(create_app(settings)) as client:
                report["local"] = run_jobs(client, bodies(args.jobs, args.duration, 0), args.timeout)
                report["local"].pop("ids")
            print("local :", json.dumps(report["local"]), flush=True)

        if args.jobs and not args.skip_celery:
            celery_root = root / "celery"
            celery_root.mkdir()
            with redis_server(celery_root) as url:
                settings = settings_for(celery_root, executor="celery", broker_url=url)
                with workers(celery_root, settings, args.workers), TestClient(create_app(settings)) as client:
                    report["celery"] = run_jobs(client, bodies(args.jobs, args.duration, 100), args.timeout)
                    report["celery"].pop("ids")
            print("celery:", json.dumps(report["celery"]), flush=True)

        if args.long:
            long_root = root / "long"
            settings = settings_for(long_root, local_workers=1)
            with TestClient(create_app(settings)) as client:
                body = {"prompt": "The history of the bicycle", "duration": args.long, "resolution": "480p",
                        "seed": 7}  # fmt: skip
                res = run_jobs(client, [body], args.timeout)
                store: SQLiteJobStore = client.app.state.store  # type: ignore[attr-defined]
                events = store.events(res["ids"][0], limit=10_000)
            report["long"] = {"duration": args.long, "first_playable_s": res["first_segment_p50_s"],
                              "done_s": res["done_p50_s"], "goal_s": 10.0,
                              "met": res["first_segment_p50_s"] <= 10.0,
                              "stage_finished_at_s": stage_times(events)}  # fmt: skip
            print("long  :", json.dumps(report["long"]), flush=True)
    out = Path(__file__).parent / ".work"
    out.mkdir(exist_ok=True)
    (out / "bench_service.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
