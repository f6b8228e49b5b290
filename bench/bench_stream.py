"""Streaming pipeline benchmark (#16): the same work before and after scenes stream, compared in one run.

Two measures, each in fresh processes with the offline defaults (the bundled LLM writer) and a cache that
holds only what ``reelforge warmup`` puts there (the icon embeddings, the voice's speaking rate), so every
run writes, speaks, draws and renders everything:

* ``reelforge make PROMPT -d 60 --resolution 720p``: wall time (goal ≤ 40 s on 2 cores);
* a 60 s job run by the service's job runner: seconds from submit to the first playable HLS segment
  (goal ≤ 10 s), and to done.

"Before" is the code at ``--baseline`` (a git ref, checked out into a temporary worktree and put first on
``PYTHONPATH``); "after" is this checkout. Rounds alternate before/after, each with new prompts, so the
VM's drift hits both alike; both versions get the same prompt in a round (each run its own cache copy).

    .venv/bin/python bench/bench_stream.py --rounds 2
    .venv/bin/python bench/bench_stream.py --rounds 1 --write     # also rewrite its BENCHMARKS.md section
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine, update_benchmarks_md

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ["How solar panels turn sunlight into electricity", "Why volcanoes erupt", "How tides rise and fall",
           "How bridges carry heavy loads", "Why leaves change colour in autumn", "How trains stop safely"]  # fmt: skip

#: run in a child process with the version under test first on sys.path: one 60 s job through the runner
SERVICE_CHILD = r"""
import json, sys, threading, time
from pathlib import Path
from reelforge.config import load_settings
from reelforge.service.jobs import Job, SQLiteJobStore, new_job_id
from reelforge.service.runner import JobRunner
root, cache, prompt, duration = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], float(sys.argv[4])
settings = load_settings(None, cache_dir=cache, service={"artifact_dir": str(root / "jobs")})
store = SQLiteJobStore(settings.service.database_path())
job = Job(id=new_job_id(), request={"prompt": prompt, "duration": duration, "resolution": "720p"})
t0 = time.time()
store.create(job)
outcome = JobRunner(store, settings).run(job.id)
done = time.time() - t0
first = next((e.ts - t0 for e in store.events(job.id) if e.kind == "segment"), None)
print(json.dumps({"outcome": outcome, "first_segment": first, "done": done}))
"""


def baseline_tree(ref: str) -> Path:
    where = Path(tempfile.mkdtemp(prefix="reelforge-baseline-"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(where), ref], check=True,
                   capture_output=True)  # fmt: skip
    return where


def env_for(src: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(src), REELFORGE_CACHE_DIR=str(cache))
    env.pop("REELFORGE_WRITER", None)
    return env


def warm_cache(template: Path) -> None:
    """A cache holding only what ``reelforge warmup`` computes (both versions use the same entries)."""
    subprocess.run([sys.executable, "-m", "reelforge", "warmup"], env=env_for(ROOT / "src", template),
                   check=True, capture_output=True)  # fmt: skip


def fresh_cache(template: Path, scratch: Path, name: str) -> Path:
    cache = scratch / name
    shutil.copytree(template, cache)
    return cache


def time_make(src: Path, cache: Path, prompt: str, out: Path, duration: float) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "reelforge", "make", prompt, "-d", str(duration), "--resolution", "720p",
                    "-o", str(out)], env=env_for(src, cache), check=True, capture_output=True)  # fmt: skip
    return time.perf_counter() - t0


def time_service(src: Path, cache: Path, prompt: str, root: Path, duration: float) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", SERVICE_CHILD, str(root), str(cache), prompt, str(duration)],
                          env=env_for(src, cache), check=True, capture_output=True, text=True)  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["outcome"] != "done":
        raise SystemExit(f"the service job ended {result['outcome']}")
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default="fdfe14a", help="git ref of 'before' (default: before streaming)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--write", action="store_true", help="rewrite this benchmark's BENCHMARKS.md section")
    args = ap.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="reelforge-bench-stream-"))
    base = baseline_tree(args.baseline)
    versions = {"before": base / "src", "after": ROOT / "src"}
    template = scratch / "warm"
    warm_cache(template)
    make: dict[str, list[float]] = {"before": [], "after": []}
    first: dict[str, list[float]] = {"before": [], "after": []}
    done: dict[str, list[float]] = {"before": [], "after": []}
    try:
        for r in range(args.rounds):
            order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
            for name in order:
                prompt = PROMPTS[(2 * r) % len(PROMPTS)]
                t = time_make(versions[name], fresh_cache(template, scratch, f"m{r}{name}"), prompt,
                              scratch / f"{r}-{name}.mp4", args.duration)  # fmt: skip
                make[name].append(t)
                print(f"round {r + 1} {name:6} make {t:6.1f} s  ({prompt})", flush=True)
            for name in order:
                prompt = PROMPTS[(2 * r + 1) % len(PROMPTS)]
                s = time_service(versions[name], fresh_cache(template, scratch, f"s{r}{name}"), prompt,
                                 scratch / f"svc{r}{name}", args.duration)  # fmt: skip
                first[name].append(s["first_segment"])
                done[name].append(s["done"])
                print(f"round {r + 1} {name:6} service first segment {s['first_segment']:5.1f} s, "
                      f"done {s['done']:5.1f} s  ({prompt})", flush=True)  # fmt: skip
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], capture_output=True
        )
        shutil.rmtree(scratch, ignore_errors=True)

    def med(xs: list[float]) -> str:
        return f"{statistics.median(xs):.1f} s" + (
            f" ({', '.join(f'{x:.1f}' for x in xs)})" if len(xs) > 1 else ""
        )

    rows = [
        ("`reelforge make` 60 s 720p, wall", med(make["before"]), med(make["after"]), "≤ 40 s"),
        ("service: submit → first playable HLS segment", med(first["before"]), med(first["after"]), "≤ 10 s"),
        ("service: submit → done", med(done["before"]), med(done["after"]), ""),
    ]
    body = "\n".join([
        f"Command: `python bench/bench_stream.py --rounds {args.rounds}`",
        "",
        f"Machine: {machine()}. Offline defaults (the bundled SmolLM2 writer, Piper, illustrated visuals), "
        f"a {args.duration:.0f} s video at 720p, new prompts each run, a cache holding only what "
        f"`reelforge warmup` computes. Before: `{args.baseline}`; rounds alternate before/after; medians "
        "(each run in brackets).",
        "",
        "| measure | before | after | goal |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {g} |" for a, b, c, g in rows],
    ])  # fmt: skip
    print()
    print(body)
    if args.write:
        update_benchmarks_md("Streaming scenes (#16)", body)


if __name__ == "__main__":
    main()
