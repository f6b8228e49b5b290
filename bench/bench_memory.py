"""Benchmark 4 of issue #10: peak memory of a long 1080p render.

Two figures: the largest single process (``ru_maxrss``, what ``/usr/bin/time -v`` reports) and the peak of
the whole process tree's summed PSS (reelforge plus every ffmpeg it runs; shared library pages counted
once), sampled every 0.2 s with psutil.
The script comes from the template writer by default, so the figure is the render's (the bundled LLM's
own footprint, about 0.3 GB, is measured by the end-to-end benchmark's runs); ``--writer auto`` for the
full offline defaults.

Usage: python bench/bench_memory.py [--duration 600] [--writer template]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, update_benchmarks_md


def tree_pss(proc: psutil.Process) -> int:
    """The process tree's proportional set size: shared pages (libraries) are counted once in all."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # it ended between listing and reading
            total += p.memory_full_info().pss
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--resolution", default="1080p")
    ap.add_argument("--writer", default="template")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rf-mem-"))
    env = dict(os.environ, REELFORGE_CACHE_DIR=str(tmp / "cache"))
    out = tmp / "long.mp4"
    cmd = [sys.executable, "-m", "reelforge", "make", "How bees make honey", "-d", f"{a.duration:g}",
           "--resolution", a.resolution, "--writer", a.writer, "-o", str(out)]  # fmt: skip
    try:
        t = time.perf_counter()
        log = tmp / "stderr.txt"
        with log.open("w") as errf:  # a file, not a pipe: a full pipe would stall the render
            popen = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=errf)
        proc = psutil.Process(popen.pid)
        peak_tree = 0
        while popen.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak_tree = max(peak_tree, tree_pss(proc))
            time.sleep(0.2)
        err = log.read_text(errors="replace")
        wall = time.perf_counter() - t
        if popen.returncode != 0:
            raise SystemExit(err[-2000:])
        peak_one = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        size = out.stat().st_size / 1e6
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    tree_mb = peak_tree / 2**20
    body = (
        f"Machine: {machine()}. `reelforge make` of {a.duration:g} s at {a.resolution}, writer "
        f"`{a.writer}`, other backends the offline defaults, cold cache.\n\n"
        f"| measure | value | goal |\n|---|---|---|\n"
        f"| peak RSS, largest single process (ru_maxrss, what `/usr/bin/time -v` reports) | {peak_one:.0f} MB "
        "| ≤ 1024 MB |\n"
        f"| peak memory of the whole process tree (summed PSS, sampled every 0.2 s) | {tree_mb:.0f} MB | |\n"
        f"| wall time | {wall:.0f} s ({a.duration / wall:.2f}x real time) | |\n"
        f"| output size | {size:.0f} MB | |\n"
    )
    print(body)
    if not a.no_write:
        update_benchmarks_md(
            "Memory",
            f"Command: `python bench/bench_memory.py --duration {a.duration:g} --writer {a.writer}`\n\n{body}",
        )


if __name__ == "__main__":
    main()
