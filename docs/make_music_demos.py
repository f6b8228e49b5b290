#!/usr/bin/env python3
"""Render a short demo of every ``synth`` music style into docs/music/<style>.mp3 (seed 0, 10 s each).

    .venv/bin/python docs/make_music_demos.py [--seconds 10] [--bitrate 64k] [--out docs/music]

The MP3s are small (about 80 kB each at 64 kb/s) and committed, so the styles can be heard without
installing anything. The script prints the render time per style and, when ``sox`` is installed, its
level statistics for each demo.
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

from reelforge.models import STYLES, MusicRequest
from reelforge.music.synth import SynthMusic
from reelforge.tools import find_ffmpeg


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--bitrate", default="64k")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "music")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    ffmpeg = find_ffmpeg()
    sox = shutil.which("sox")
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for style in STYLES:
            wav = Path(tmp) / f"{style}.wav"
            t0 = time.perf_counter()
            track = SynthMusic().execute(
                MusicRequest(style=style, duration=args.seconds, seed=args.seed), wav
            )
            took = time.perf_counter() - t0
            mp3 = args.out / f"{style}.mp3"
            subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(wav), "-c:a", "libmp3lame", "-b:a", args.bitrate,
                            "-metadata", f"title=reelforge synth: {style} ({track.key}, {track.tempo:g} BPM)",
                            str(mp3)], check=True)  # fmt: skip
            size = mp3.stat().st_size
            total += size
            line = f"{style:<10} {track.key:<9} {track.tempo:5.0f} BPM  rendered in {took:4.2f} s  {size / 1000:5.1f} kB"
            if sox:
                stats = subprocess.run([sox, str(wav), "-n", "stats"], capture_output=True, text=True).stderr
                want = ("Pk lev dB", "RMS lev dB")  # overall (both channels)
                found = dict(m.groups() for m in re.finditer(r"^(\S.*?)\s{2,}(\S+)", stats, re.M))
                line += "  " + "  ".join(f"{k} {found[k]}" for k in want if k in found)
            print(line)
    print(f"total {total / 1000:.0f} kB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
