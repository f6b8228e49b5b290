"""Shared fixtures for the benchmarks: a fixed 5-scene timeline with generated stills, clips, narration
and music, so every implementation renders exactly the same thing."""

from __future__ import annotations

import os
import platform
import subprocess
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from reelforge.compose.timeline import overscan_size
from reelforge.models import AudioClip, AudioPlan, Cue, Motion, Segment, Timeline
from reelforge.tools import find_ffmpeg

W, H, FPS = 1280, 720, 30
TITLE = 3.0


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def make_still(path: Path, i: int, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(i)
    w, h = size
    im = Image.new("RGB", size, tuple(int(c) for c in rng.integers(30, 120, 3)))
    d = ImageDraw.Draw(im)
    for _ in range(6):
        x, y, r = rng.integers(0, w), rng.integers(0, h), rng.integers(h // 10, h // 3)
        d.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(c) for c in rng.integers(80, 255, 3)))
    im.filter(ImageFilter.GaussianBlur(4)).save(path)


def make_clip(path: Path, i: int, seconds: float) -> None:
    src = [
        "testsrc2",
        "mandelbrot",
        "life=s=320x180:mold=10:ratio=0.1:death_color=#C83232:life_color=#00ff00",
        "cellauto=rule=110:s=320x180",
        "rgbtestsrc",
    ][i % 5]
    subprocess.run(
        [
            find_ffmpeg(),
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"{src}:r=30" if "=" in src else f"{src}=r=30",
            "-t",
            f"{seconds}",
            "-vf",
            "scale=960:540,setsar=1,format=yuv420p",  # square pixels, like stock footage
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(path),
        ],
        check=True,
    )


def make_tone_wav(path: Path, seconds: float, sr: int, channels: int, freq: float, gaps: bool) -> None:
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    if gaps:  # speech-like: 2.5 s on, 0.5 s off
        x *= (t % 3.0) < 2.5
    data = np.repeat(x[:, None], channels, axis=1) if channels > 1 else x
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((data * 32767).astype("<i2").tobytes())


def fixture_timeline(
    root: Path, duration: float = 60.0, scenes: int = 5, clips: bool = True, width: int = W, height: int = H
) -> Timeline:
    """The benchmark timeline: title card, ``scenes`` stills with Ken Burns, each blended 50 % with a clip,
    burned subtitles (3 cues per scene), narration + music."""
    root.mkdir(parents=True, exist_ok=True)
    size = overscan_size(width, height)
    per = (duration - TITLE) / scenes
    segs: list[Segment] = []
    cues_all: list[Cue] = []
    narr: list[AudioClip] = []
    speech: list[tuple[float, float]] = []
    stills = []
    for i in range(scenes):
        p = root / f"still{i}.png"
        if not p.exists():
            make_still(p, i, size)
        stills.append(p)
    segs.append(
        Segment(
            kind="title",
            index=-1,
            start_frame=0,
            frames=round(TITLE * FPS),
            image=stills[0],
            motion=Motion(zoom_to=1.04),
            text="A Benchmark Title",
            dim=0.45,
            blur=12,
        )
    )
    voice = root / f"voice-{per - 1.0:.2f}.wav"  # named by length: fixtures of other durations differ
    if not voice.exists():
        make_tone_wav(voice, per - 1.0, 22050, 1, 220.0, gaps=True)
    for i in range(scenes):
        f0 = round((TITLE + i * per) * FPS)
        f1 = round((TITLE + (i + 1) * per) * FPS) if i < scenes - 1 else round(duration * FPS)
        start = f0 / FPS
        cues = tuple(
            Cue(
                start=start + 0.4 + k * per / 3,
                end=start + (k + 1) * per / 3 - 0.1,
                text=f"Scene {i + 1}, line {k + 1}: a subtitle\nwith two lines of text",
            )
            for k in range(3)
        )
        cues_all.extend(cues)
        narr.append(AudioClip(path=voice, start=start + 0.4))
        speech.append((start + 0.4, start + per - 0.6))
        clip = None
        if clips:
            clip = root / f"clip{i}-{min(per + 1, 12):.2f}-sq.mp4"  # -sq: square pixels (v1 had SAR 3:4)
            if not clip.exists():
                make_clip(clip, i, min(per + 1, 12))
        segs.append(
            Segment(
                kind="scene",
                index=i,
                start_frame=f0,
                frames=f1 - f0,
                image=stills[i],
                motion=Motion(
                    zoom_from=1.0 if i % 2 == 0 else 1.1,
                    zoom_to=1.1 if i % 2 == 0 else 1.0,
                    pan_from=(0.3, 0.4),
                    pan_to=(0.7, 0.6),
                ),
                cues=cues,
                clip=clip,
                layout="blend" if clips else "still",
            )
        )
    music = root / f"music-{duration:g}.wav"
    if not music.exists():
        make_tone_wav(music, duration, 44100, 2, 330.0, gaps=False)
    return Timeline(
        width=width,
        height=height,
        fps=FPS,
        frames=round(duration * FPS),
        title="A Benchmark Title",
        segments=tuple(segs),
        cues=tuple(cues_all),
        audio=AudioPlan(narration=tuple(narr), music=music, speech=tuple(speech)),
    )


def update_benchmarks_md(section: str, body: str, path: Path | None = None) -> None:
    """Replace (or append) ``## section`` in BENCHMARKS.md with ``body``."""
    path = path or Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    head = f"## {section}\n"
    if head in text:
        a = text.index(head)
        b = text.find("\n## ", a + len(head))
        text = text[:a] + head + body.rstrip() + "\n" + (text[b:] if b != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + head + body.rstrip() + "\n"
    path.write_text(text, encoding="utf-8")
