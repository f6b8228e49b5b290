"""The same benchmark timeline rendered the way MoviePy-based tools do it (MoviePy 2.x), as the reference.

Stills with Ken Burns (``resized`` per frame), each scene's clip under the still at 50 % opacity (the
seed's ``CompositeVideoClip([clip, image.with_opacity(0.5)])``), fades, a title card, burned subtitles
(``TextClip``), narration + music mixed with ``CompositeAudioClip``, written with libx264 + AAC.
"""

from __future__ import annotations

from pathlib import Path

from moviepy import (
    AudioFileClip,
    ColorClip,
    CompositeAudioClip,
    CompositeVideoClip,
    ImageClip,
    TextClip,
    VideoFileClip,
    concatenate_audioclips,
    vfx,
)

from reelforge.models import Timeline
from reelforge.tools import find_font


def render(tl: Timeline, out: Path, preset: str = "veryfast", threads: int = 2) -> None:
    w, h, fps = tl.width, tl.height, tl.fps
    font = str(find_font())
    layers = []
    opened = []
    for seg in tl.segments:
        start, dur = seg.start_frame / fps, seg.frames / fps
        m = seg.motion
        still = ImageClip(str(seg.image)).with_duration(dur)
        scale0 = w / still.w

        def zoom(t: float, m=m, dur=dur, scale0=scale0) -> float:
            return scale0 * (m.zoom_from + (m.zoom_to - m.zoom_from) * t / dur)

        still = still.resized(zoom).with_position("center")
        parts = []
        if seg.clip is not None:
            clip = VideoFileClip(str(seg.clip), audio=False)
            opened.append(clip)
            clip = clip.with_effects([vfx.Loop(duration=dur)]).resized(height=h).with_position("center")
            parts = [clip, still.with_opacity(0.5)]
        else:
            parts = [still]
        if seg.text:
            parts.append(ColorClip((w, h), color=(0, 0, 0)).with_opacity(0.45).with_duration(dur))
            parts.append(
                TextClip(
                    font=font,
                    text=seg.text,
                    font_size=int(h * 0.1),
                    color="white",
                    stroke_color="black",
                    stroke_width=2,
                )
                .with_duration(dur)
                .with_position("center")
            )
        scene = CompositeVideoClip(parts, size=(w, h)).with_duration(dur)
        scene = scene.with_effects([vfx.FadeIn(seg.fade_in), vfx.FadeOut(seg.fade_out)])
        layers.append(scene.with_start(start))
        for c in seg.cues:
            layers.append(
                TextClip(
                    font=font,
                    text=c.text,
                    font_size=int(h * 0.058),
                    color="white",
                    stroke_color="black",
                    stroke_width=2,
                    method="caption",
                    size=(int(w * 0.84), None),
                    text_align="center",
                )
                .with_start(c.start)
                .with_duration(c.end - c.start)
                .with_position(("center", int(h * 0.75)))
            )
    video = CompositeVideoClip(layers, size=(w, h)).with_duration(tl.duration)
    narr = [AudioFileClip(str(c.path)).with_start(c.start) for c in tl.audio.narration]
    tracks = list(narr)
    if tl.audio.music is not None:
        music = AudioFileClip(str(tl.audio.music)).with_volume_scaled(0.25).with_duration(tl.duration)
        tracks.append(music)
    audio = CompositeAudioClip(tracks).with_duration(tl.duration) if tracks else None
    if audio is not None:
        video = video.with_audio(audio)
    video.write_videofile(
        str(out),
        fps=fps,
        codec="libx264",
        audio_codec="aac",
        preset=preset,
        threads=threads,
        logger=None,
        ffmpeg_params=["-pix_fmt", "yuv420p", "-crf", "21"],
    )
    for c in opened:
        c.close()
    _ = concatenate_audioclips  # imported for parity with typical MoviePy pipelines
