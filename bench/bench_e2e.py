"""Benchmark 3 of issue #10: `reelforge make` end to end with the offline defaults, 60 s at 720p.

Cold cache, warm cache (same command again), and one scene edited (`make --storyboard` with one scene's
narration changed). Each run is a fresh process, as a user would run it. Per-stage times come from
`--stats` (stages overlap: narration, visuals and music run in parallel, so they don't add up to the total).

Usage: python bench/bench_e2e.py [--duration 60] [--resolution 720p]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, update_benchmarks_md

PROMPT = "How bees make honey"


def run(args: list[str], env: dict[str, str]) -> tuple[float, dict]:
    t = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "reelforge", *args, "--stats"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"reelforge failed: {r.stderr[-2000:]}")
    return wall, json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--resolution", default="720p")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rf-e2e-"))
    env = dict(os.environ, REELFORGE_CACHE_DIR=str(tmp / "cache"))
    base = ["make", PROMPT, "-d", f"{a.duration:g}", "--resolution", a.resolution]
    try:
        cold, cold_r = run([*base, "-o", str(tmp / "cold.mp4")], env)
        warm, warm_r = run([*base, "-o", str(tmp / "warm.mp4")], env)
        sb = json.loads((tmp / "cold.storyboard.json").read_text())
        sb["scenes"][1]["narration"] = (
            "Inside the hive, worker bees fan their wings to dry the nectar into honey."
        )
        (tmp / "edited.json").write_text(json.dumps(sb))
        edit, edit_r = run(
            [
                "make",
                "--storyboard",
                str(tmp / "edited.json"),
                "--resolution",
                a.resolution,
                "-o",
                str(tmp / "edited.mp4"),
            ],
            env,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in cold_r["stages"].items())
    table = "\n".join(
        [
            f'Machine: {machine()}. `reelforge make "{PROMPT}" -d {a.duration:g} --resolution {a.resolution}`, '
            "offline defaults, wall time of a fresh process.",
            "",
            "| run | time | goal |",
            "|---|---|---|",
            f"| cold cache | {cold:.1f} s | ≤ 60 s |",
            f"| warm cache (same command) | {warm:.2f} s | ≤ 3 s |",
            f"| one scene edited | {edit:.1f} s ({edit / cold:.0%} of cold) | ≤ 25 % of cold |",
            "",
            f"Cold per-stage times (parallel stages overlap): {stages}.",
            f"Warm cache stats: {json.dumps(warm_r['cache'])}.",
            f"Edit cache misses: {json.dumps({k: v['misses'] for k, v in edit_r['cache'].items()})}.",
        ]
    )
    print(table)
    if not a.no_write:
        cmd = f"python bench/bench_e2e.py --duration {a.duration:g} --resolution {a.resolution}"
        update_benchmarks_md("End to end (offline defaults)", f"Command: `{cmd}`\n\n{table}\n")


if __name__ == "__main__":
    main()
