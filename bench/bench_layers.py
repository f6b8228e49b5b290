"""What the visual plans cost the renderer: compose time per frame with and without animated layers.

The fixed 60 s, 1280x720, 30 fps benchmark timeline (title card, 5 Ken Burns stills, burned subtitles,
narration + music; no clips, since plan layers go over stills) rendered A B A B in one process tree:

- A: stills only, fade through black (what every video looked like before visual plans);
- B: what the pipeline makes of the same scenes with visual plans: per scene a hero badge that pops in, two
  supporting badges, three labels that rise, two connectors that draw themselves and a counter (16
  images) over a backdrop that stays still, and crossfades between the segments;
- C: B with the backdrop still moving (Ken Burns), for comparison: what plans would cost if they kept it.

It reports wall time and the CPU time of the ffmpeg processes per frame, and B / A.

Usage: python bench/bench_layers.py [--pairs N] [--duration S] [--no-write]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import FPS, H, W, fixture_timeline, machine, timed, update_benchmarks_md

from reelforge.cache import Cache
from reelforge.compose.ffmpeg import FFmpegComposer
from reelforge.compose.timeline import STILL, apply_transitions
from reelforge.models import Keyframe, Layer, Timeline

WORK = Path(__file__).resolve().parent / ".work" / "layers"


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def sprite(path: Path, size: tuple[int, int], rgb: tuple[int, int, int], disc: bool = False) -> Path:
    if not path.exists():
        img = Image.new("RGBA", size, (0, 0, 0, 0))
        d = ImageDraw.Draw(img)
        if disc:
            d.ellipse((2, 2, size[0] - 3, size[1] - 3), fill=(*rgb, 255))
        else:
            d.rounded_rectangle((2, 2, size[0] - 3, size[1] - 3), radius=size[1] // 2, fill=(*rgb, 235))
        img.save(path)
    return path


def plan_layers(root: Path, scene_seconds: float) -> tuple[Layer, ...]:
    """What a hero plan with a counter draws, timed over a scene of ``scene_seconds``."""
    hero = sprite(root / "hero.png", (420, 420), (250, 220, 120), disc=True)
    badge = sprite(root / "badge.png", (230, 230), (200, 230, 250), disc=True)
    label = sprite(root / "label.png", (220, 70), (250, 250, 245))
    bar = sprite(root / "bar.png", (300, 10), (240, 240, 230))
    digits = [sprite(root / f"digit{k}.png", (260, 150), (30 + 14 * k, 30, 60)) for k in range(16)]
    t = [0.35 + k * scene_seconds * 0.08 for k in range(8)]

    def pop(img: Path, size: int, x: float, y: float, t0: float) -> Layer:
        return Layer(image=img, width=size, height=size, keyframes=(
            Keyframe(t=t0, x=x, y=y, scale=0.6, opacity=0, ease="out"), Keyframe(t=t0 + 0.35, x=x, y=y)))  # fmt: skip

    def rise(x: float, y: float, t0: float) -> Layer:
        return Layer(image=label, width=220, height=70, keyframes=(
            Keyframe(t=t0, x=x, y=y + 25, opacity=0, ease="out"), Keyframe(t=t0 + 0.4, x=x, y=y)))  # fmt: skip

    def draw(x: float, y: float, t0: float) -> Layer:
        return Layer(image=bar, width=300, height=10, keyframes=(
            Keyframe(t=t0, x=x, y=y, reveal=0, ease="inout"), Keyframe(t=t0 + 0.45, x=x, y=y, reveal=1)))  # fmt: skip

    counter = Layer(image=digits[-1], width=260, height=150, frames=tuple(digits),
                    frame_times=tuple(t[6] + 1.2 * k / 15 for k in range(16)),
                    keyframes=(Keyframe(t=t[6], x=640, y=560, opacity=0), Keyframe(t=t[6] + 0.2, x=640, y=560)))  # fmt: skip
    return (
        draw(760, 180, t[1]), draw(760, 380, t[3]),
        pop(hero, 420, 480, 260, t[0]), rise(480, 510, t[0] + 0.15),
        pop(badge, 230, 1020, 180, t[2]), rise(1020, 330, t[2] + 0.15),
        pop(badge, 230, 1020, 420, t[4]), rise(1020, 570, t[4] + 0.15),
        counter,
    )  # fmt: skip


def with_plans(tl: Timeline, root: Path, still: bool = True) -> Timeline:
    segs = []
    for seg in tl.segments:
        layers = plan_layers(root, seg.frames / tl.fps) if seg.kind == "scene" else ()
        update: dict[str, object] = {"layers": layers}
        if layers and still:
            update["motion"] = STILL  # as build_timeline does for a scene with a plan
        segs.append(seg.model_copy(update=update))
    return tl.model_copy(update={"segments": tuple(apply_transitions(segs, "crossfade", tl.fps))})


def render(tl: Timeline, out: Path) -> tuple[float, float]:
    tmp = Path(tempfile.mkdtemp(prefix="rf-bench-layers-"))
    try:
        comp = FFmpegComposer()
        c0 = children_cpu()
        wall = timed(lambda: comp.execute(tl, out, tmp / "work", cache=Cache(tmp / "cache", enabled=False)))
        return wall, children_cpu() - c0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--no-write", action="store_true", help="don't update BENCHMARKS.md")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    plain = fixture_timeline(WORK / "assets", duration=args.duration, clips=False)
    layered = with_plans(plain, WORK / "assets")
    moving = with_plans(plain, WORK / "assets", still=False)
    frames = plain.frames
    runs: dict[str, list[tuple[float, float]]] = {"A": [], "B": [], "C": []}
    for i in range(args.pairs):
        for name, tl in (("A", plain), ("B", layered), ("C", moving)):
            runs[name].append(render(tl, WORK / f"{name}.mp4"))
            wall, cpu = runs[name][-1]
            print(f"round {i + 1} {name}: {wall:.2f} s wall, {cpu:.2f} s CPU, {cpu / frames * 1000:.2f} ms CPU/frame",
                  flush=True)  # fmt: skip
    med = {
        k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in runs.items()
    }
    n_layers = sum(len(s.layers) for s in layered.segments)
    lines = [
        f"Machine: {machine()}. Timeline: {args.duration:g} s, {W}x{H} @ {FPS} fps ({frames} frames), title card, "
        "5 Ken Burns stills, burned subtitles, narration + music; B adds per scene a popping hero badge, two "
        f"supporting badges, three rising labels, two self-drawing connectors and a 16-step counter ({n_layers} "
        "layers in all) and crossfades between segments.",
        "",
        "| measure | A: Ken Burns stills, fades | B: plan layers over a still backdrop, crossfades | B / A | "
        "C: B with Ken Burns under the layers |",
        "|---|---|---|---|---|",
        f"| wall (median of {args.pairs}) | {med['A'][0]:.2f} s | {med['B'][0]:.2f} s | {med['B'][0] / med['A'][0]:.2f}x | "
        f"{med['C'][0]:.2f} s |",
        f"| CPU of the ffmpeg processes | {med['A'][1]:.2f} s | {med['B'][1]:.2f} s | {med['B'][1] / med['A'][1]:.2f}x | "
        f"{med['C'][1]:.2f} s |",
        f"| CPU per frame | {med['A'][1] / frames * 1000:.2f} ms | {med['B'][1] / frames * 1000:.2f} ms | | "
        f"{med['C'][1] / frames * 1000:.2f} ms |",
    ]  # fmt: skip
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        cmd = f"python bench/bench_layers.py --pairs {args.pairs} --duration {args.duration:g}"
        update_benchmarks_md("What visual plans cost the renderer", f"Command: `{cmd}`\n\n{table}\n")


if __name__ == "__main__":
    main()
