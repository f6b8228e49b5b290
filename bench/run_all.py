"""`make bench`: run every benchmark and update BENCHMARKS.md (about 15 minutes on 2 cores).

Each script can also be run alone; see its docstring for options.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
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
    for cmd in PLAN + [[name] for name in extra]:
        print(f"\n=== {' '.join(cmd)}", flush=True)
        r = subprocess.run([sys.executable, str(HERE / cmd[0]), *cmd[1:]])
        if r.returncode != 0:
            print(f"!!! {cmd[0]} failed with exit code {r.returncode}", flush=True)
    md = HERE.parent / "BENCHMARKS.md"
    text = md.read_text(encoding="utf-8")
    stamp = f"_Last full run: {datetime.date.today().isoformat()} with `make bench`._"
    lines = [line for line in text.splitlines() if not line.startswith("_Last full run:")]
    lines.insert(1, "\n" + stamp)
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(md.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
