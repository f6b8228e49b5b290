"""Benchmark 5 of issue #10: render time against duration (cold cache), with a least-squares slope.

Usage: python bench/bench_scaling.py [--durations 30 60 120 300] [--resolution 720p]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, update_benchmarks_md


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--durations", type=float, nargs="+", default=[30, 60, 120, 300])
    ap.add_argument("--resolution", default="720p")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    times = []
    for d in a.durations:
        tmp = Path(tempfile.mkdtemp(prefix="rf-scale-"))
        env = dict(os.environ, REELFORGE_CACHE_DIR=str(tmp / "cache"))
        try:
            t = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "reelforge",
                    "make",
                    "How bees make honey",
                    "-d",
                    f"{d:g}",
                    "--resolution",
                    a.resolution,
                    "-o",
                    str(tmp / "v.mp4"),
                ],
                env=env,
                check=True,
                capture_output=True,
            )
            times.append(time.perf_counter() - t)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f"{d:g} s -> {times[-1]:.1f} s", flush=True)
    x, y = np.array(a.durations), np.array(times)
    slope, intercept = np.polyfit(x, y, 1)
    r2 = 1 - ((y - (slope * x + intercept)) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    rows = "\n".join(
        f"| {d:g} s | {t:.1f} s | {t / d:.2f} |" for d, t in zip(a.durations, times, strict=True)
    )
    body = (
        f"Machine: {machine()}. Cold cache, {a.resolution}, offline defaults.\n\n"
        f"| video | render time | seconds per video second |\n|---|---|---|\n{rows}\n\n"
        f"Linear fit: **{slope:.3f} s per video second** + {intercept:.1f} s fixed (R² = {r2:.3f}).\n"
    )
    print(body)
    if not a.no_write:
        cmd = "python bench/bench_scaling.py --durations " + " ".join(f"{d:g}" for d in a.durations)
        update_benchmarks_md("Scaling", f"Command: `{cmd}`\n\n{body}")


if __name__ == "__main__":
    main()
