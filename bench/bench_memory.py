"""Benchmark 4 of issue #10: peak RSS of a long 1080p render (`/usr/bin/time -v` when available).

Usage: python bench/bench_memory.py [--duration 600]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, update_benchmarks_md


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rf-mem-"))
    env = dict(os.environ, REELFORGE_CACHE_DIR=str(tmp / "cache"))
    cmd = [
        sys.executable,
        "-m",
        "reelforge",
        "make",
        "How bees make honey",
        "-d",
        f"{a.duration:g}",
        "--resolution",
        "1080p",
        "-o",
        str(tmp / "long.mp4"),
    ]
    try:
        t = time.perf_counter()
        if Path("/usr/bin/time").exists():
            r = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
            peak_mb = int(m.group(1)) / 1024 if m else float("nan")
            how = "/usr/bin/time -v (largest single process)"
        else:
            r = subprocess.run(cmd, capture_output=True, text=True, env=env)
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            how = "getrusage(RUSAGE_CHILDREN) (largest single process)"
        wall = time.perf_counter() - t
        if r.returncode != 0:
            raise SystemExit(r.stderr[-2000:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    body = (
        f"Machine: {machine()}. {a.duration:g} s at 1080p with the offline defaults.\n\n"
        f"| measure | value | goal |\n|---|---|---|\n| peak RSS ({how}) | {peak_mb:.0f} MB | ≤ 1024 MB |\n"
        f"| wall time | {wall:.0f} s | |\n"
    )
    print(body)
    if not a.no_write:
        update_benchmarks_md(
            "Memory", f"Command: `python bench/bench_memory.py --duration {a.duration:g}`\n\n{body}"
        )


if __name__ == "__main__":
    main()
