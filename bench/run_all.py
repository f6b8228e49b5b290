"""`make bench`: run the five benchmarks of issue #10 and update BENCHMARKS.md (14.5 minutes on 2 quiet
cores in the last run: the 60 s MoviePy reference alone takes 4–5.5 minutes and the 10-minute 1080p render
4.5).
``--all`` (``make bench-all``) also runs the other stages' benchmarks (service, storyboard, illustrated,
library, browser render), about 8 minutes more.

Each script can also be run alone; see its docstring for options.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLAN = [
    ["bench_compose.py", "--pairs", "1", "--duration", "60"],
    ["bench_e2e.py"],
    ["bench_scaling.py", "--durations", "30", "60", "120", "300"],
    ["bench_memory.py", "--duration", "600"],
]


def main() -> None:
    extra = sorted(p.name for p in HERE.glob("bench_*.py") if p.name not in {c[0] for c in PLAN})
    plan = PLAN + ([[name] for name in extra] if "--all" in sys.argv[1:] else [])
    t_all = time.perf_counter()
    for cmd in plan:
        print(f"\n=== {' '.join(cmd)}  ({os.cpu_count()} cores)", flush=True)
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, str(HERE / cmd[0]), *cmd[1:]])
        if r.returncode != 0:
            print(f"!!! {cmd[0]} failed with exit code {r.returncode}", flush=True)
        print(f"=== {cmd[0]} took {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"\n=== all benchmarks took {(time.perf_counter() - t_all) / 60:.1f} min", flush=True)
    md = HERE.parent / "BENCHMARKS.md"
    text = md.read_text(encoding="utf-8")
    stamp = f"_Last full run: {datetime.date.today().isoformat()} with `make bench`._"
    lines = [line for line in text.splitlines() if not line.startswith("_Last full run:")]
    lines.insert(1, "\n" + stamp)
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(md.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
