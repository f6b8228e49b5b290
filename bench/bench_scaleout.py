"""Scale-out benchmark (#17): one long video made by 1, 2 and 3 Celery workers (per-scene fan-out), and the
per-scene task overhead (queue and storage round trips), which is what limits scaling on a real cluster.

Real processes: a redis-server (broker and event announcements), ``reelforge worker`` processes with one job
slot each, and the job store. The stage cache is shared between the workers: by default a folder on this
machine; with ``--storage-url s3://bucket/prefix --storage-endpoint URL`` (and keys in the environment:
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``) each worker has its own folders and shares through S3,
as on a cluster. Every configuration starts from an empty cache (only ``reelforge warmup``'s entries).

On a 2-core machine the speed-up can only show up to the cores (two workers, about 2×; a third adds
nothing but switching): the figures are wall time and speed-up here, plus the per-task overhead, which
is what a cluster of real machines would pay per scene.

    .venv/bin/python bench/bench_scaleout.py --duration 300 --workers 1 2 3
    .venv/bin/python bench/bench_scaleout.py --duration 60 --workers 1 2       # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import machine, update_benchmarks_md

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "How glaciers carve mountain valleys"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    import redis

    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(work)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(200):
        try:
            client.ping()
            return proc, f"redis://127.0.0.1:{port}/0"
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def start_moto(args: argparse.Namespace) -> subprocess.Popen[bytes]:
    """A local S3 endpoint (moto server, in memory) and a bucket: the cluster's storage, on loopback."""
    import urllib.request

    import boto3

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(endpoint, timeout=1).read()
            break
        except Exception:
            time.sleep(0.1)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="reelforge-bench")
    args.storage_url, args.storage_endpoint = "s3://reelforge-bench/scaleout", endpoint
    return proc


def config_text(cache: Path, service: dict[str, Any], extra: dict[str, Any]) -> str:
    lines = [f'cache_dir = "{cache}"', "jobs = 1", *(f"{k} = {json.dumps(v)}" for k, v in extra.items()),
             "[service]", *(f"{k} = {json.dumps(v)}" for k, v in service.items())]  # fmt: skip
    return "\n".join(lines) + "\n"


def launch(config: Path, log: Path, name: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "reelforge", "worker", "--config", str(config), "--concurrency",
                             "1", "--pool", "prefork", "--name", f"{name}@%h"], stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    end = time.monotonic() + 90
    while b"ready." not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > end:
            raise SystemExit(f"worker {name} did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run_config(n: int, args: argparse.Namespace, broker: str, warm: Path, scratch: Path) -> dict[str, Any]:
    from reelforge.config import load_settings
    from reelforge.service.celery_app import TASK_NAME, create_celery
    from reelforge.service.fanout import SCENE_TASK
    from reelforge.service.jobs import Job, SQLiteJobStore, new_job_id

    root = scratch / f"w{n}"
    root.mkdir()
    service: dict[str, Any] = {"executor": "celery", "broker_url": broker, "database": str(root / "jobs.sqlite3"),
                               "scene_fanout": "on", "scene_timeout": 900.0}  # fmt: skip
    if args.storage_url:
        # a prefix per configuration: each starts with an empty shared cache
        service.update(storage_url=f"{args.storage_url}/w{n}", storage_endpoint=args.storage_endpoint)
    extra = {"writer": args.writer}
    shared = root / "cache"
    shutil.copytree(warm, shared)
    procs = []
    try:
        for k in range(n):
            own = root / f"worker{k}"
            cache = shared if not args.storage_url else own / "cache"
            if args.storage_url:
                shutil.copytree(warm, cache)
            svc = {**service, "artifact_dir": str((own if args.storage_url else root) / "jobs")}
            config = root / f"worker{k}.toml"
            config.write_text(config_text(cache, svc, extra))
            procs.append(launch(config, root / f"worker{k}.log", f"b{n}w{k}"))
        settings = load_settings(None, cache_dir=shared, writer=args.writer,
                                 service={**service, "artifact_dir": str(root / "jobs")})  # fmt: skip
        store = SQLiteJobStore(settings.service.database_path())
        app = create_celery(settings, with_task=False)
        job = Job(
            id=new_job_id(), request={"prompt": PROMPT, "duration": args.duration, "resolution": "720p"}
        )
        t0, wall0 = time.monotonic(), time.time()
        store.create(job)
        app.send_task(TASK_NAME, args=[job.id], queue="cpu")
        while True:
            got = store.get(job.id)
            if got is not None and got.terminal:
                break
            time.sleep(0.2)
        wall = time.monotonic() - t0
        if got.status != "done":
            raise SystemExit(f"{n} workers: the job ended {got.status}: {got.error}")
        ran = [e.data for e in store.events(job.id, 0, 100_000) if e.kind == "worker"]
        first = next((e.ts - wall0 for e in store.events(job.id, 0, 100_000) if e.kind == "segment"), None)
        # the per-scene overhead: the same scenes sent again, everything cached (queue + cache/storage trips)
        storyboard = got.storyboard or {}
        head = {"title": storyboard["title"], "title_duration": storyboard["title_duration"],
                "durations": [s["duration"] for s in storyboard["scenes"]], "writer": storyboard["writer"]}  # fmt: skip
        probe = Job(
            id=new_job_id(), request=job.request
        )  # a queued twin: scene tasks work only for live jobs
        store.create(probe)
        trips = []
        for scene in storyboard["scenes"][: args.overhead_tasks]:
            s0 = time.monotonic()
            app.send_task(SCENE_TASK, args=[probe.id, head, scene], queue="cpu").get(timeout=120)
            trips.append(time.monotonic() - s0)
        return {"workers": n, "wall": wall, "first_segment": first, "scenes": len(storyboard["scenes"]),
                "by_worker": len({e["worker"] for e in ran}), "overhead": statistics.median(trips) if trips else None}  # fmt: skip
    finally:
        for p in procs:
            stop(p)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--writer", default="template", help="template keeps the script out of the figures")
    ap.add_argument("--overhead-tasks", type=int, default=5)
    ap.add_argument("--storage-url")
    ap.add_argument("--storage-endpoint")
    ap.add_argument("--moto", action="store_true", help="share through a local S3 endpoint (moto server)")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="reelforge-bench-scaleout-"))
    redis_proc, broker = start_redis(scratch)
    moto = start_moto(args) if args.moto else None
    warm = scratch / "warm"
    subprocess.run([sys.executable, "-m", "reelforge", "warmup"], env=dict(os.environ, REELFORGE_CACHE_DIR=str(warm)),
                   check=True, capture_output=True)  # fmt: skip
    results = []
    try:
        for n in args.workers:
            r = run_config(n, args, broker, warm, scratch)
            results.append(r)
            print(f"{n} worker(s): {r['wall']:.1f} s, first segment {r['first_segment']:.1f} s, scenes done by "
                  f"{r['by_worker']} worker(s), per-scene task round trip {r['overhead'] * 1000:.0f} ms", flush=True)  # fmt: skip
    finally:
        redis_proc.terminate()
        if moto is not None:
            moto.terminate()
        shutil.rmtree(scratch, ignore_errors=True)
    base = results[0]["wall"]
    rows = [f"| {r['workers']} | {r['wall']:.1f} s | {base / r['wall']:.2f}× | {r['by_worker']} | "
            f"{r['first_segment']:.1f} s | {r['overhead'] * 1000:.0f} ms |" for r in results]  # fmt: skip
    where = "S3 (" + args.storage_url + ")" if args.storage_url else "a folder on this machine"
    body = "\n".join([
        f"Command: `python bench/bench_scaleout.py --duration {args.duration:.0f} --workers "
        f"{' '.join(map(str, args.workers))}`",
        "",
        f"Machine: {machine()}. A {args.duration:.0f} s 720p video ({results[0]['scenes']} scenes, writer "
        f"`{args.writer}`), `reelforge worker` processes with one job slot each, Redis, the stage cache shared "
        f"through {where}, an empty cache each time.",
        "",
        "| workers | wall | speed-up | workers that did scenes | first HLS segment | per-scene task round trip, cached |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "On 2 cores the speed-up can only show up to the cores. The round trip is a scene task whose work is all "
        "in the cache: the queue, the job store and the cache (or storage) lookups, the cost each scene adds on a "
        "real cluster.",
    ])  # fmt: skip
    print()
    print(body)
    if args.write:
        update_benchmarks_md("Scale-out across workers (#17)", body)


if __name__ == "__main__":
    main()
