"""Benchmarks 1 and 2 of issue #10.

1. Compose vs MoviePy: the fixed 60 s, 1280x720, 30 fps, 5-scene timeline (stills with Ken Burns, a clip per
   scene blended 50 % with the still, title card, burned subtitles, narration + music) rendered by
   reelforge's compose stage and by the MoviePy 2.x reference, alternating A B A B in one process tree.
2. Compose vs the encode-only limit: the same frames (decoded from our output into RAM once) pushed through
   libx264 with the same preset and no compositing; both as one process and split like our segments. Besides
   wall time it reports CPU time (user + sys of the ffmpeg processes; the Python side of compose is 0.3 s,
   per cProfile), which shows where the wall ratio comes from. On this VM both drift between rounds.

``--against REV`` measures a before/after: each round renders with the compose code of git revision REV (its
``src/``, unpacked by ``git archive`` into ``bench/.work``), then with this checkout's, then encode-only, both
renders in a fresh Python each, and prints both ratios per round (BENCHMARKS.md is not written).

Usage: python bench/bench_compose.py [--pairs N] [--duration S] [--no-moviepy] [--no-write] [--against REV]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import FPS, H, W, fixture_timeline, machine, timed, update_benchmarks_md

from reelforge.cache import Cache
from reelforge.compose.ffmpeg import FFmpegComposer
from reelforge.models import Timeline
from reelforge.tools import find_ffmpeg

WORK = Path(__file__).resolve().parent / ".work" / "compose"
CPU: dict[str, list[float]] = {"ours": [], "encode": []}  # CPU seconds of the child processes, per run


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def ours(tl: Timeline, out: Path) -> float:
    tmp = Path(tempfile.mkdtemp(prefix="rf-bench-"))
    try:
        comp = FFmpegComposer()
        c0 = children_cpu()
        t = timed(lambda: comp.execute(tl, out, tmp / "work", cache=Cache(tmp / "cache", enabled=False)))
        CPU["ours"].append(children_cpu() - c0)
        return t
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# a render with the ``reelforge`` package of another tree: argv = src dir, bench dir, output, duration; prints
# the wall time and the CPU time of the ffmpeg processes
CHILD = """
import resource, shutil, sys, tempfile, time
from pathlib import Path
src, bench, out, duration = sys.argv[1:5]
sys.path[:0] = [src, bench]
from common import fixture_timeline
from reelforge.cache import Cache
from reelforge.compose.ffmpeg import FFmpegComposer
tl = fixture_timeline(Path(bench) / ".work" / "compose" / "assets", duration=float(duration))
tmp = Path(tempfile.mkdtemp(prefix="rf-bench-"))
try:
    comp = FFmpegComposer()
    t = time.perf_counter()
    comp.execute(tl, Path(out), tmp / "work", cache=Cache(tmp / "cache", enabled=False))
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(time.perf_counter() - t, r.ru_utime + r.ru_stime)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
"""


def ours_in(src: Path, out: Path, duration: float) -> tuple[float, float]:
    """Wall and ffmpeg CPU seconds of a render by the package in ``src`` (in a fresh Python)."""
    bench = Path(__file__).resolve().parent
    res = subprocess.run([sys.executable, "-c", CHILD, str(src), str(bench), str(out), str(duration)],
                         check=True, capture_output=True, text=True)  # fmt: skip
    wall, cpu = (float(x) for x in res.stdout.split()[-2:])
    return wall, cpu


def source_at(rev: str) -> Path:
    """``src/`` of git revision ``rev``, unpacked once into ``bench/.work/compose/src-<commit>``."""
    root = Path(__file__).resolve().parent.parent
    commit = subprocess.run(["git", "rev-parse", "--short", rev], cwd=root, check=True, capture_output=True,
                            text=True).stdout.strip()  # fmt: skip
    dest = WORK / f"src-{commit}"
    if not (dest / "src").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", commit, "src"], cwd=root, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def against(rev: str, pairs: int, duration: float) -> None:
    """Rounds of: compose at ``rev``, compose here, encode-only; ratios per round and medians."""
    tl = fixture_timeline(WORK / "assets", duration=duration)
    old_src, new_src = source_at(rev), Path(__file__).resolve().parent.parent / "src"
    rows: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
    encs: list[tuple[float, float]] = []
    raw: Path | None = None
    out = WORK / "ours.mp4"
    try:
        for i in range(pairs):
            for name, src in (("before", old_src), ("after", new_src)):
                rows[name].append(ours_in(src, out, duration))
            raw = raw or raw_frames(out)
            e = encode_only(raw, tl)
            encs.append((min(e.values()), CPU["encode"][-1]))
            print(f"round {i + 1}: " + ", ".join(
                f"{name} {w:.2f} s = {w / encs[-1][0]:.2f}x wall, {c:.1f} s CPU = {c / encs[-1][1]:.2f}x"
                for name, (w, c) in ((k, v[-1]) for k, v in rows.items())
            ) + f"; encode-only {encs[-1][0]:.2f} s, {encs[-1][1]:.1f} s CPU", flush=True)  # fmt: skip
    finally:
        if raw is not None:
            raw.unlink(missing_ok=True)
    print(f"\nbefore = {rev}, after = this checkout; {pairs} alternating rounds, median (per round)")
    print("| measure | before | after |\n|---|---|---|")
    for label, k, unit in (("compose wall", 0, "s"), ("ffmpeg CPU", 1, "s")):
        vals = {n: [r[k] for r in v] for n, v in rows.items()}
        print(f"| {label} | " + " | ".join(f"{statistics.median(vals[n]):.2f} {unit}" for n in rows) + " |")
    for label, k in (("/ encode-only, wall", 0), ("/ encode-only, CPU", 1)):
        ratios = {n: [r[k] / e[k] for r, e in zip(v, encs, strict=True)] for n, v in rows.items()}
        print(f"| {label} | " + " | ".join(
            f"**{statistics.median(ratios[n]):.2f}x** ({', '.join(f'{x:.2f}' for x in ratios[n])})" for n in rows
        ) + " |")  # fmt: skip
    print(
        f"| encode-only (faster of one process and split), wall / CPU | "
        f"{statistics.median(e[0] for e in encs):.2f} s / {statistics.median(e[1] for e in encs):.1f} s | |"
    )


def moviepy(tl: Timeline, out: Path) -> float:
    from moviepy_reference import render

    return timed(lambda: render(tl, out, threads=os.cpu_count() or 2))


def raw_frames(video: Path) -> Path:
    """Our output decoded once into RAM (``/dev/shm``): the encode-only runs read these frames."""
    shm = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    raw = shm / f"rf-bench-{os.getpid()}.yuv"
    subprocess.run(
        [
            find_ffmpeg(),
            "-v",
            "error",
            "-y",
            "-i",
            str(video),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            str(raw),
        ],
        check=True,
    )
    return raw


def encode_only(raw: Path, tl: Timeline) -> dict[str, float]:
    """Time libx264 alone on the same frames: (a) one process, all threads; (b) split like our segments."""
    frame_bytes = W * H * 3 // 2

    def x264(src: str, threads: int) -> list[str]:
        """Raw YUV frames from ``src`` through libx264 with our preset and settings, to nowhere."""
        return [find_ffmpeg(), "-v", "error", "-y", "-f", "rawvideo", "-s", f"{W}x{H}", "-pix_fmt", "yuv420p",
                "-r", str(FPS), "-i", src, "-c:v", "libx264", "-preset", "veryfast", "-crf", "21",
                "-profile:v", "high", "-pix_fmt", "yuv420p", "-g", str(FPS * 2), "-threads", str(threads),
                "-f", "mp4", os.devnull]  # fmt: skip

    res: dict[str, float] = {}
    c0 = children_cpu()
    res["single"] = timed(lambda: subprocess.run(x264(str(raw), os.cpu_count() or 2), check=True))
    CPU["encode"].append(children_cpu() - c0)

    def one(seg_i: int) -> None:
        seg = tl.segments[seg_i]
        with open(raw, "rb") as fh:
            fh.seek(seg.start_frame * frame_bytes)
            data = fh.read(seg.frames * frame_bytes)
        subprocess.run(x264("-", 1), input=data, check=True)

    def split() -> None:
        with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
            list(pool.map(one, range(len(tl.segments))))

    res["split"] = timed(split)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--no-moviepy", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="don't update BENCHMARKS.md")
    ap.add_argument(
        "--against", metavar="REV", help="before/after: alternate with git revision REV's compose"
    )
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.against:
        against(args.against, args.pairs, args.duration)
        return
    tl = fixture_timeline(WORK / "assets", duration=args.duration)
    ours_out, mp_out = WORK / "ours.mp4", WORK / "moviepy.mp4"
    a_times: list[float] = []
    b_times: list[float] = []
    encs: list[dict[str, float]] = []
    raw: Path | None = None
    try:  # rounds of A (reelforge) B (MoviePy) C (encode-only), so drift hits all three alike
        for i in range(args.pairs):
            a_times.append(ours(tl, ours_out))
            print(f"round {i + 1}: reelforge   {a_times[-1]:.2f} s", flush=True)
            if not args.no_moviepy:
                b_times.append(moviepy(tl, mp_out))
                print(f"round {i + 1}: moviepy     {b_times[-1]:.2f} s  ratio {b_times[-1] / a_times[-1]:.1f}x",
                      flush=True)  # fmt: skip
            raw = raw or raw_frames(ours_out)
            encs.append(encode_only(raw, tl))
            print(f"round {i + 1}: encode-only {encs[-1]['single']:.2f} s (one process), "
                  f"{encs[-1]['split']:.2f} s (split)  ratio {a_times[-1] / min(encs[-1].values()):.2f}x, "
                  f"CPU ratio {CPU['ours'][-1] / CPU['encode'][-1]:.2f}x",
                  flush=True)  # fmt: skip
    finally:
        if raw is not None:
            raw.unlink(missing_ok=True)
    a_med = statistics.median(a_times)
    enc = {k: statistics.median(e[k] for e in encs) for k in ("single", "split")}
    enc_ratios = [a / min(e.values()) for a, e in zip(a_times, encs, strict=True)]
    lines = [
        f"Machine: {machine()}. Timeline: {args.duration:g} s, {W}x{H} @ {FPS} fps, 5 scenes (Ken Burns stills, "
        "each blended 50 % with a clip), title card, burned subtitles, narration + music.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| reelforge compose (median of {len(a_times)}) | {a_med:.2f} s |",
    ]
    if b_times:
        ratios = [b / a for a, b in zip(a_times, b_times, strict=True)]
        lines += [
            f"| MoviePy 2.x reference (median of {len(b_times)}) | {statistics.median(b_times):.2f} s |",
            f"| speed-up per pair (MoviePy / reelforge) | {', '.join(f'{r:.1f}x' for r in ratios)} |",
            f"| **median speed-up** (goal ≥ 10x) | **{statistics.median(ratios):.1f}x** |",
        ]
    lines += [
        f"| encode-only, one x264 process, {os.cpu_count()} threads (median) | {enc['single']:.2f} s |",
        f"| encode-only, split like our segments (median) | {enc['split']:.2f} s |",
        f"| reelforge / faster encode-only, per round | {', '.join(f'{r:.2f}x' for r in enc_ratios)} |",
        f"| **median reelforge / encode-only** (goal ≤ 1.15x) | **{statistics.median(enc_ratios):.2f}x** |",
        f"| CPU time (ffmpeg processes), reelforge / encode-only one process, per round | "
        f"{', '.join(f'{a:.1f} / {e:.1f} s = {a / e:.2f}x' for a, e in zip(CPU['ours'], CPU['encode'], strict=False))} |",
    ]
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        cmd = f"python bench/bench_compose.py --pairs {args.pairs} --duration {args.duration:g}"
        update_benchmarks_md("Compose vs MoviePy and vs encode-only", f"Command: `{cmd}`\n\n{table}\n")


if __name__ == "__main__":
    main()
