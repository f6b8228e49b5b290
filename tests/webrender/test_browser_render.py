"""The browser renderer in real headless Chromium (Playwright): it renders the timeline the pipeline made, and the
file it hands back has the server video's length, size and sound, and looks the same (SSIM against the server's
MP4, by ffmpeg's ``ssim`` filter). A second timeline covers the clip layouts and the VP9/WebM path. The two
renders are marked slow; the quick checks (the server's numbers in the bundle, a clear error) run in `make test`.

Needs /usr/bin/chromium (.ci/run installs it) and the bundle (``make web``, part of ``make install``)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from mediatools import probe
from PIL import Image, ImageDraw

from reelforge.compose.audio import duck_breakpoints, measure_loudness
from reelforge.compose.ffmpeg import FFmpegComposer
from reelforge.compose.subtitles import style_metrics
from reelforge.config import load_settings
from reelforge.models import AudioClip, AudioPlan, Cue, Motion, Request, Segment, SubtitleStyle, Timeline
from reelforge.pipeline import Pipeline
from reelforge.tools import find_ffmpeg
from reelforge.webrender import bundle_path, is_built
from reelforge.webrender.devserver import CHROMIUM, CHROMIUM_ARGS, TimelineServer, render_in_browser

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "web" / "renderer" / "test.html"


@pytest.fixture(scope="module", autouse=True)
def _requirements() -> None:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); .ci/run installs it")
    if not is_built():
        pytest.skip(f"the renderer bundle {bundle_path()} is not built: run `make web` (needs npm)")
    if not PAGE.is_file():
        pytest.skip(f"{PAGE} is missing")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Timeline, Path]:
    """An 8 s 480p video by the real pipeline: its timeline and the server's MP4."""
    tmp = tmp_path_factory.mktemp("made")
    settings = load_settings(None, cache_dir=tmp / "cache", writer="template", images="procedural")
    out = tmp / "bees.mp4"
    Pipeline(settings).make(Request(prompt="How bees make honey", duration=8, resolution="480p"), out,
                            keep_work=True)  # fmt: skip
    tl = Timeline.model_validate_json((tmp / "bees.work" / "timeline.json").read_text(encoding="utf-8"))
    return tl, out


def ssim_per_frame(a: Path, b: Path, fps: int) -> list[float]:
    """Per-frame SSIM (luma) of two videos, frame n against frame n, both read as BT.601 limited-range YUV
    (the browser's file says BT.709 full range; the server's says nothing, which ffmpeg reads as BT.601)."""
    norm = f"settb=1/{fps},setpts=N,scale=out_color_matrix=bt601:out_range=tv:flags=bicubic,format=yuv420p"
    graph = f"[0:v]{norm}[a];[1:v]{norm}[b];[a][b]ssim=stats_file=-"
    r = subprocess.run([find_ffmpeg(), "-hide_banner", "-nostdin", "-i", str(a), "-i", str(b), "-lavfi", graph,
                        "-f", "null", "-"], capture_output=True, text=True, check=True)  # fmt: skip
    return [float(m.group(1)) for m in re.finditer(r"n:\d+ Y:([\d.]+)", r.stdout)]


def sample_frames(tl: Timeline) -> list[int]:
    """Several timestamps: a quarter, the middle and three quarters into every segment."""
    return [s.start_frame + round(s.frames * q) for s in tl.segments for q in (0.25, 0.5, 0.75)]


def check_file(path: Path, tl: Timeline) -> dict[str, Any]:
    info = probe(path)
    v = info["video"]
    assert (v["width"], v["height"]) == (tl.width, tl.height)
    tolerance = len(tl.segments) / tl.fps  # one frame per scene
    assert info["duration"] == pytest.approx(tl.duration, abs=tolerance), info
    # WebM keeps no per-stream duration: the container's then
    assert (v["duration"] or info["duration"]) == pytest.approx(tl.duration, abs=tolerance), info
    with av.open(str(path)) as c:
        assert sum(1 for _ in c.decode(video=0)) == tl.frames
    assert "audio" in info, "the browser's file has no audio"
    assert (info["audio"]["duration"] or info["duration"]) == pytest.approx(tl.duration, abs=tolerance)
    return info


@pytest.mark.slow  # the pipeline and a render: about 25 s
def test_browser_render_matches_the_server(made: tuple[Timeline, Path], tmp_path: Path) -> None:
    tl, server_mp4 = made
    with TimelineServer(tl, PAGE) as srv:
        res = render_in_browser(srv.url, timeout=240)
        served = set(srv.requests)
    assert {"/renderer.js", "/timeline.json", "/font.ttf"} <= served
    assert sum(p.startswith("/assets/") for p in served) >= 3  # stills and narration, by URL
    stats = res.stats
    ext = "webm" if stats["container"] == "webm" else "mp4"
    out = tmp_path / f"browser.{ext}"
    out.write_bytes(res.data)
    # H.264 in MP4 where the browser can encode it, else VP9/AV1 in WebM; never MediaRecorder
    assert stats["codec"].startswith(("avc1.", "vp09.", "av01."))
    assert (stats["container"] == "mp4") == stats["codec"].startswith("avc1.")
    assert stats["worker"] is True  # frames drawn on an OffscreenCanvas in a worker
    assert res.progress and res.progress[-1] == 1 and res.progress == sorted(res.progress)

    info = check_file(out, tl)
    assert info["video"]["codec"] in ("h264", "vp9", "av1")
    assert info["audio"]["codec"] in ("aac", "opus")
    assert info["audio"]["sample_rate"] == 48000 and info["audio"]["channels"] == 2

    # loudness: the server's target (-14 LUFS) within 1 LU, measured by ffmpeg's EBU R128 meter
    lufs, peak = measure_loudness(find_ffmpeg(), out)
    assert lufs == pytest.approx(tl.audio.loudness, abs=1.0)
    assert peak <= tl.audio.true_peak + 1.0

    ssim = ssim_per_frame(server_mp4, out, tl.fps)
    assert len(ssim) == tl.frames
    picked = [ssim[n] for n in sample_frames(tl)]
    print(f"\nSSIM (Y) vs the server at frames {sample_frames(tl)}: {[round(x, 3) for x in picked]}; "
          f"mean {np.mean(picked):.4f}; all frames {np.mean(ssim):.4f}; codec {stats['codec']}+"
          f"{stats['audioCodec']}; {stats['fps']:.1f} frames/s")  # fmt: skip
    assert np.mean(picked) >= 0.9
    assert min(picked) >= 0.8
    assert np.mean(ssim) >= 0.9


def _clip_timeline(d: Path) -> Timeline:
    """Four 1.2 s scenes, one per clip layout, over a 25 fps clip shorter than some scenes need (it loops),
    then a portrait clip shown whole over its blurred fill (``fit="blurfill"``)."""
    ff = find_ffmpeg()
    clip = d / "clip.mp4"
    subprocess.run([ff, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "1.5",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip)], check=True)  # fmt: skip
    tall = d / "tall.mp4"
    subprocess.run([ff, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=240x428:rate=25", "-t", "1.5",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(tall)], check=True)  # fmt: skip
    tone = d / "tone.wav"
    subprocess.run([ff, "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050:duration=1",
                    "-ac", "1", str(tone)], check=True)  # fmt: skip
    segs = []
    for i, layout in enumerate(("clip", "blend", "pip", "split", "clip")):
        im = Image.new("RGB", (982, 552), (40 + 40 * i, 90, 160 - 30 * i))
        draw = ImageDraw.Draw(im)
        for k in range(8):
            x, y = 60 + k * 110, 100 + (k * 53 % 300)
            draw.ellipse([x, y, x + 90, y + 90], fill=(255 - 20 * k, 200 - 10 * i, 40 + 25 * k))
        still = d / f"still{i}.png"
        im.save(still)
        f0 = 36 * i
        segs.append(Segment(kind="scene", index=i, start_frame=f0, frames=36, image=still, layout=layout,
                            clip=tall if i == 4 else clip, fit="blurfill" if i == 4 else "cover",
                            clip_start=0.4 * i % 1.2, motion=Motion(zoom_from=1.0, zoom_to=1.0),
                            cues=(Cue(start=f0 / 30 + 0.3, end=f0 / 30 + 1.0, text=f"Layout {layout}"),)))  # fmt: skip
    return Timeline(width=854, height=480, fps=30, frames=180, title="Clips", segments=tuple(segs),
                    cues=tuple(c for s in segs for c in s.cues),
                    audio=AudioPlan(narration=(AudioClip(path=tone, start=1.0),), speech=((1.0, 2.0),)))  # fmt: skip


@pytest.mark.slow
def test_clip_layouts_and_the_webm_path(tmp_path: Path) -> None:
    """Clips (decoded by WebCodecs, looping) in every layout; VP9 + Opus in WebM; frames drawn on the page."""
    tl = _clip_timeline(tmp_path)
    server_mp4 = tmp_path / "server.mp4"
    FFmpegComposer().execute(tl, server_mp4, tmp_path / "work")
    with TimelineServer(tl, PAGE) as srv:
        res = render_in_browser(srv.url, query="codec=vp9&worker=0", timeout=240)
    assert res.stats["codec"].startswith("vp09.") and res.stats["container"] == "webm"
    assert res.stats["worker"] is False  # the main-thread path (no worker) works too
    assert res.stats["audioCodec"] == "opus"
    out = tmp_path / "browser.webm"
    out.write_bytes(res.data)
    assert res.data[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM file
    info = check_file(out, tl)
    assert info["video"]["codec"] == "vp9" and info["audio"]["codec"] == "opus"
    ssim = ssim_per_frame(server_mp4, out, tl.fps)
    picked = [ssim[n] for n in sample_frames(tl)]
    print(
        f"\nclip layouts, SSIM (Y) vs the server: {[round(x, 3) for x in picked]}; mean {np.mean(ssim):.4f}"
    )
    assert np.mean(picked) >= 0.9
    assert min(picked) >= 0.85  # every layout and fit, the blurfill scene included


@pytest.fixture
def page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    tl = Timeline(width=64, height=64, fps=30, frames=2, title="x",
                  segments=(Segment(kind="scene", index=0, start_frame=0, frames=2, image=Path("/nonexistent.png")),))  # fmt: skip
    with TimelineServer(tl, PAGE) as srv, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page()
        pg.goto(srv.url + "/")
        pg.wait_for_function("() => window.ReelforgeRenderer !== undefined")
        yield pg
        browser.close()


def test_the_browser_uses_the_servers_numbers(page: Any) -> None:
    """The ducking envelope and subtitle metrics are the server's, number for number."""
    plan = AudioPlan(
        music=Path("m.wav"), speech=((1.0, 2.5), (3.0, 4.0), (7.0, 9.5)), duck_db=-12, music_gain_db=-6
    )
    ts, gs = duck_breakpoints(plan)
    got = page.evaluate("(p) => ReelforgeRenderer.internals.duckBreakpoints(p)",
                        plan.model_dump(mode="json"))  # fmt: skip
    assert np.allclose(got["ts"], ts) and np.allclose(got["gs"], gs)
    for w, h in ((854, 480), (1280, 720), (1920, 1080), (720, 1280), (1080, 1080)):
        style = SubtitleStyle()
        got = page.evaluate("([w, h, s]) => ReelforgeRenderer.internals.styleMetrics(w, h, s)",
                            [w, h, style.model_dump(mode="json")])  # fmt: skip
        assert tuple(got) == style_metrics(w, h, style)
    assert page.evaluate("() => ReelforgeRenderer.supported()") is True
    err = page.evaluate("() => { try { ReelforgeRenderer.internals.normalize({schema: 'other/2'}); }"
                        " catch (e) { return e.message; } }")  # fmt: skip
    assert "unsupported schema" in err


def test_the_page_reports_a_broken_timeline(page: Any) -> None:
    page.click("#render")  # the timeline's still is missing: a clear error, not a hang
    page.wait_for_function("() => window.renderResult !== null", timeout=60_000)
    result = page.evaluate("() => window.renderResult")
    assert result["ok"] is False and "still" in result["error"]
