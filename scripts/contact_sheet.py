"""A contact sheet of a rendered video: the title card and one frame of every scene, with what it says.

    python scripts/contact_sheet.py bees.mp4 [-o docs/plans-bees.jpg] [--width 1960] [--label TEXT]
                                             [--at 0.8]

Each scene's frame is taken ``--at`` of the way through it (default 0.8: after its elements have come in,
before it hands over to the next); the layout of each scene's plan is named under its frame.
It reads ``<video>.storyboard.json`` (written beside every output) for the scene times and narration, grabs
each frame with ffmpeg, and tiles them four to a row under a caption line, with the start of each scene's
narration under its frame, so a reader can check that the picture fits what is said.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from reelforge.tools import find_ffmpeg, find_font

COLUMNS = 4


def frame(video: Path, at: float, out: Path) -> Image.Image:
    subprocess.run([find_ffmpeg(), "-v", "error", "-y", "-ss", f"{at:.3f}", "-i", str(video), "-frames:v", "1",
                    str(out)], check=True)  # fmt: skip
    return Image.open(out).convert("RGB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("video", type=Path)
    ap.add_argument("-o", "--out", type=Path, default=Path("docs/contact-sheet.png"))
    ap.add_argument("--width", type=int, default=1960)
    ap.add_argument("--label", default="")
    ap.add_argument("--at", type=float, default=0.8, help="where in each scene (0..1) its frame is taken")
    a = ap.parse_args()
    sb = json.loads(a.video.with_suffix(".storyboard.json").read_text(encoding="utf-8"))
    t, mids = float(sb["title_duration"]), []
    if t > 0:
        mids.append((t * 0.8, f"title card: {sb['title']}"))
    for k, scene in enumerate(sb["scenes"]):
        layout = (scene.get("plan") or {}).get("layout", "still")
        mids.append((t + scene["duration"] * a.at, f"scene {k + 1} [{layout}]: {scene['narration']}"))
        t += scene["duration"]
    cell_w = (a.width - 10 * (COLUMNS + 1)) // COLUMNS
    font = ImageFont.truetype(str(find_font(None)), 15)
    with tempfile.TemporaryDirectory() as tmp:
        shots = [frame(a.video, at, Path(tmp) / f"{k}.png") for k, (at, _) in enumerate(mids)]
    cell_h = round(shots[0].height * cell_w / shots[0].width)
    rows = -(-len(shots) // COLUMNS)
    text_h, head = 62, 30
    sheet = Image.new("RGB", (a.width, head + rows * (cell_h + text_h + 10)), (245, 245, 245))
    draw = ImageDraw.Draw(sheet)
    draw.text((10, 8), a.label or f"{a.video.name}: the title card and each scene, {a.at:.0%} of the way through",
              fill=(30, 30, 30), font=font)  # fmt: skip
    for k, (shot, (at, said)) in enumerate(zip(shots, mids, strict=True)):
        x = 10 + (k % COLUMNS) * (cell_w + 10)
        y = head + (k // COLUMNS) * (cell_h + text_h + 10)
        sheet.paste(shot.resize((cell_w, cell_h), Image.Resampling.LANCZOS), (x, y))
        lines = textwrap.wrap(f"{at:.1f} s, {said}", width=cell_w // 9)[:3]
        draw.multiline_text((x, y + cell_h + 4), "\n".join(lines), fill=(40, 40, 40), font=font, spacing=2)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(a.out, optimize=True)
    print(f"wrote {a.out} ({sheet.width}x{sheet.height}, {a.out.stat().st_size // 1024} kB)")


if __name__ == "__main__":
    main()
