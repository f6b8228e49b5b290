"""Benchmarks 1 and 2 of issue #10.

1. Compose vs MoviePy: the fixed 60 s, 1280x720, 30 fps, 5-scene timeline (stills with Ken Burns, a clip per
   scene blended 50 % with the still, title card, burned subtitles, narration + music) rendered by
   reelforge's compose stage and by the MoviePy 2.x reference, alternating A B A B in one process tree.
2. Compose vs the encode-only limit: the same frames (decoded from our output into RAM once) pushed through
   libx264 with the same preset and no compositing; both as one process and split like our segments. Besides
   wall time it reports CPU time (user + sys of the ffmpeg processes; the Python side of compose is 0.3 s,
   per cProfile), which shows where the wall ratio comes from. On this VM both drift between rounds.

Usage: python bench/bench_compose.py [--pairs N] [--duration S] [--no-moviepy]
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
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
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
