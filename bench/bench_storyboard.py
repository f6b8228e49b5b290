"""Storyboard speed with the bundled local model (issue #3): goal <= 30 s on 2 cores.

Times ``reelforge storyboard "how bees make honey" --duration 60`` end to end as a user runs it (a new
process: imports, loading SmolLM2-135M, writing every piece) with ``--writer local``:

- ``cold``: an empty cache, so it also measures the voice's speaking rate once (Piper, cached after);
- ``script``: the voice rate already cached, the storyboard not (what every new prompt costs).

The 1-minute load average is printed too: llama.cpp slows down a lot when other processes take its cores.

Usage: python bench/bench_storyboard.py [--runs N] [--prompt P] [--duration S] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(prompt: str, duration: float, cache: Path, threads: int, out: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one ``reelforge storyboard`` process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REELFORGE_", "OPENAI_"))}
    env["REELFORGE_CACHE_DIR"] = str(cache)
    if threads:
        env["REELFORGE_OPTIONS"] = json.dumps({"local": {"threads": threads}})
    cmd = [sys.executable, "-m", "reelforge", "storyboard", prompt, "--duration", f"{duration:g}",
           "--writer", "local", "-o", str(out)]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"reelforge storyboard failed ({r.returncode}): {r.stderr.strip()}")
    return elapsed, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--prompt", default="how bees make honey")
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: automatic)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rf-bench-sb-"))
    try:
        out = tmp / "sb.json"
        cold, warm, cpu = [], [], []
        for i in range(args.runs):
            cache = tmp / f"cache{i}"
            load = os.getloadavg()[0]
            wall, c1 = run(args.prompt, args.duration, cache, args.threads, out)
            cold.append(wall)
            shutil.rmtree(cache / "script")  # keep the measured voice rate, write the storyboard again
            wall, c2 = run(args.prompt, args.duration, cache, args.threads, out)
            warm.append(wall)
            cpu.append(c2)
            print(f"run {i + 1}: cold {cold[-1]:.1f} s ({c1:.1f} s CPU), script only {warm[-1]:.1f} s "
                  f"({c2:.1f} s CPU); load average {load:.1f}", flush=True)  # fmt: skip
        sb = json.loads(out.read_text(encoding="utf-8"))
        print(f"\n{sb['title']}  [{len(sb['scenes'])} scenes, writer {sb['writer']}]")
        for s in sb["scenes"]:
            print(f"  {s['role']:<8} {s['narration']}")
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(
            f"\nreelforge storyboard {args.prompt!r} --duration {args.duration:g} --writer local on {cores} cores: "
            f"cold {statistics.median(cold):.1f} s, script only {statistics.median(warm):.1f} s "
            f"({statistics.median(cpu):.1f} s CPU; median of {args.runs}; goal <= 30 s)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
