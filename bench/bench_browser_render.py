"""Benchmark: the browser renderer (headless Chromium, WebCodecs) against the server renderer (ffmpeg), same
timeline. The timeline comes from the real pipeline (template writer, procedural stills); neither render is cached.

Reported: frames per second of the whole render (file in hand) for both, and the browser's frame loop alone
(draw + encode, in its worker). The browser's total includes mixing and encoding the audio in the page and
handing the file back to Python; the server's includes its audio mix with the loudness passes and the mux.

Usage: python bench/bench_browser_render.py [--duration 30] [--resolution 720p] [--codec auto|avc|vp9|av1]
Needs /usr/bin/chromium, the playwright package and the bundle (`make web`).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, update_benchmarks_md

from reelforge.compose.ffmpeg import FFmpegComposer
from reelforge.config import load_settings
from reelforge.models import Request, Timeline
from reelforge.pipeline import Pipeline
from reelforge.tools import find_ffmpeg
from reelforge.webrender import bundle_path, is_built
from reelforge.webrender.devserver import CHROMIUM, TimelineServer, render_in_browser

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "web" / "renderer" / "test.html"
PROMPT = "How bees make honey"


def mean_ssim(a: Path, b: Path, fps: int) -> float:
    norm = f"settb=1/{fps},setpts=N,scale=out_color_matrix=bt601:out_range=tv,format=yuv420p"
    r = subprocess.run([find_ffmpeg(), "-hide_banner", "-nostdin", "-i", str(a), "-i", str(b), "-lavfi",
                        f"[0:v]{norm}[a];[1:v]{norm}[b];[a][b]ssim", "-f", "null", "-"],
                       capture_output=True, text=True, check=True)  # fmt: skip
    m = re.search(r"SSIM Y:([\d.]+)", r.stderr)
    return float(m.group(1)) if m else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--resolution", default="720p", choices=["480p", "720p", "1080p"])
    ap.add_argument("--codec", default="auto", choices=["auto", "avc", "vp9", "av1"])
    ap.add_argument("--no-write", action="store_true", help="don't update BENCHMARKS.md")
    a = ap.parse_args()
    if not Path(CHROMIUM).exists() or not is_built():
        raise SystemExit(f"needs {CHROMIUM} and the bundle {bundle_path()} (make web)")
    tmp = Path(tempfile.mkdtemp(prefix="rf-browser-"))
    try:
        settings = load_settings(None, cache_dir=tmp / "cache", writer="template", images="procedural")
        made = tmp / "made.mp4"
        req = Request(prompt=PROMPT, duration=a.duration, resolution=a.resolution)
        Pipeline(settings).make(req, made, keep_work=True)
        tl = Timeline.model_validate_json((tmp / "made.work" / "timeline.json").read_text(encoding="utf-8"))

        server_mp4 = tmp / "server.mp4"
        t = time.perf_counter()
        FFmpegComposer().execute(tl, server_mp4, tmp / "server-work")  # no cache: every segment rendered
        server_s = time.perf_counter() - t

        with TimelineServer(tl, PAGE) as srv:
            res = render_in_browser(srv.url, query=f"codec={a.codec}", timeout=1800)
        st = res.stats
        out = tmp / f"browser.{st['container']}"
        out.write_bytes(res.data)
        ssim = mean_ssim(server_mp4, out, tl.fps)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    n = tl.frames
    table = "\n".join(
        [
            f"Machine: {machine()}; Chromium headless, software (--disable-gpu). Timeline: `{PROMPT}`, "
            f"{a.duration:g} s, {tl.width}x{tl.height} at {tl.fps} fps ({n} frames, {len(tl.segments)} segments).",
            "",
            "| renderer | time | frames/s |",
            "|---|---|---|",
            f"| server (ffmpeg, libx264 veryfast, segments in parallel) | {server_s:.1f} s | {n / server_s:.0f} |",
            f"| browser, whole render (click to file) | {res.wall:.1f} s | {n / res.wall:.0f} |",
            f"| browser, frame loop only (draw + {st['codec']} encode, worker) | {st['videoSeconds']:.1f} s "
            f"| {st['fps']:.0f} |",
            "",
            f"Browser output: {st['container']} ({st['codec']} + {st['audioCodec']}), "
            f"{len(res.data) / 1e6:.1f} MB, {st['loudness']:.1f} LUFS; mean SSIM (Y) vs the server's file {ssim:.3f}.",
        ]
    )
    print(table)
    if not a.no_write:
        cmd = f"python bench/bench_browser_render.py --duration {a.duration:g} --resolution {a.resolution}"
        update_benchmarks_md("Browser render vs server render", f"Command: `{cmd}`\n\n{table}\n")


if __name__ == "__main__":
    main()
