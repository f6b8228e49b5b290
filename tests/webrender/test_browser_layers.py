"""Layers and overlapping transitions in the browser renderer, against the server's ffmpeg render of the same
hand-made timeline: an icon that pops in (scale + opacity), a bar that draws itself (reveal along x), an arrow
revealed along y, a counter, a label that fades out, and a crossfade, a slide, a wipe and a zoom between five
short segments. The whole video must look the same (mean SSIM), and so must the frames where a layer comes in
and where a transition runs, which differ from the same timeline without layers and transitions (so the check
can fail: a renderer that ignored them would match that one instead).

Needs /usr/bin/chromium and the renderer bundle (``make web``); the renders are marked slow (about 10 s on two cores)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from reelforge.compose.ffmpeg import FFmpegComposer
from reelforge.compose.layers import layer_state
from reelforge.models import AudioClip, AudioPlan, Cue, Keyframe, Layer, Motion, Segment, Timeline
from reelforge.tools import find_ffmpeg, find_font
from reelforge.webrender import bundle_path, is_built
from reelforge.webrender.devserver import CHROMIUM, CHROMIUM_ARGS, TimelineServer, render_in_browser

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "web" / "renderer" / "test.html"
W, H, FPS, SEG = 480, 270, 30, 40  # five segments of 40 frames
ICON = (120.0, 110.0)  # the icon's centre
COUNTER = (390.0, 60.0)
TRANSITIONS = (("crossfade", 12), ("slide", 12), ("wipe", 10), ("zoom", 10))


@pytest.fixture(scope="module", autouse=True)
def _requirements() -> None:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); .ci/run installs it")
    if not is_built():
        pytest.skip(f"the renderer bundle {bundle_path()} is not built: run `make web` (needs npm)")


def _still(path: Path, k: int) -> Path:
    im = Image.new("RGB", (552, 310), (30 + 45 * k, 70 + 20 * k, 150 - 25 * k))
    draw = ImageDraw.Draw(im)
    period = 36 + 8 * k  # broad stripes of their own width and slant: each still has its own texture
    for x in range(-320, 552, period):
        draw.line([(x, 0), (x + 60 * (k - 2), 310)], fill=(200 - 30 * k, 230, 60 + 40 * k), width=period // 2)
    for i in range(9):
        x, y = 20 + i * 60 + 13 * k, 30 + (i * 71 + 40 * k) % 230
        draw.ellipse([x, y, x + 70, y + 70], fill=(250 - 22 * i, 180 - 15 * k, 40 + 24 * i))
        draw.rectangle([x + 10, 280 - y // 3, x + 40, 300 - y // 4], fill=(20 * i, 220 - 20 * k, 200))
    im.save(path)
    return path


def _layer_images(d: Path) -> dict[str, Path | list[Path]]:
    font = ImageFont.truetype(str(find_font()), 30)
    icon = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
    g = ImageDraw.Draw(icon)
    g.ellipse([2, 2, 93, 93], fill=(235, 95, 40, 255), outline=(255, 255, 255, 255), width=5)
    g.polygon([(30, 25), (30, 71), (72, 48)], fill=(255, 255, 255, 255))
    bar = Image.new("RGBA", (200, 24), (0, 0, 0, 0))
    g = ImageDraw.Draw(bar)
    for x in range(200):
        g.line([(x, 2), (x, 21)], fill=(40 + x, 200 - x // 2, 90, 255))
    arrow = Image.new("RGBA", (30, 120), (0, 0, 0, 0))
    g = ImageDraw.Draw(arrow)
    g.rectangle([11, 0, 18, 95], fill=(255, 255, 255, 255))
    g.polygon([(0, 92), (29, 92), (15, 119)], fill=(255, 255, 255, 255))
    label = Image.new("RGBA", (160, 44), (0, 0, 0, 0))
    g = ImageDraw.Draw(label)
    g.rounded_rectangle([0, 0, 159, 43], radius=10, fill=(20, 20, 20, 200))
    g.text((80, 22), "LABEL", font=font, fill=(255, 220, 0, 255), anchor="mm")
    out: dict[str, Path | list[Path]] = {}
    for name, im in (("icon", icon), ("bar", bar), ("arrow", arrow), ("label", label)):
        out[name] = d / f"{name}.png"
        im.save(out[name])
    digits = []
    for n in range(5):
        im = Image.new("RGBA", (64, 40), (0, 0, 0, 0))
        ImageDraw.Draw(im).text((32, 20), f"{n * 25}", font=font, fill=(255, 255, 255, 255), anchor="mm",
                                stroke_width=2, stroke_fill=(0, 0, 0, 255))  # fmt: skip
        digits.append(d / f"count{n}.png")
        im.save(digits[-1])
    out["counter"] = digits
    return out


def _timeline(d: Path) -> Timeline:
    img = _layer_images(d)
    counter = img["counter"]
    assert isinstance(counter, list)
    layers0 = (
        Layer(image=img["icon"], width=96, height=96, name="icon", keyframes=(  # pops in
            Keyframe(t=0.3, x=ICON[0], y=ICON[1], scale=0.6, opacity=0, ease="out"),
            Keyframe(t=0.65, x=ICON[0], y=ICON[1], scale=1.0, opacity=1))),
        Layer(image=img["bar"], width=200, height=24, name="bar", keyframes=(  # draws itself
            Keyframe(t=0.2, x=300, y=200.5, reveal=0, ease="inout"), Keyframe(t=0.8, x=300, y=200.5, reveal=1))),
        Layer(image=counter[0], width=64, height=40, name="counter", frames=tuple(counter),
              frame_times=(0.3, 0.5, 0.7, 0.9, 1.1), keyframes=(
            Keyframe(t=0.3, x=COUNTER[0], y=COUNTER[1], opacity=0), Keyframe(t=0.5, x=COUNTER[0], y=COUNTER[1]))),
    )  # fmt: skip
    layers1 = (
        Layer(image=img["arrow"], width=30, height=120, reveal_axis="y", name="arrow", keyframes=(
            Keyframe(t=0.4, x=60, y=130, reveal=0, ease="out"), Keyframe(t=1.0, x=60, y=130, reveal=1))),
        Layer(image=img["label"], width=160, height=44, name="label", keyframes=(  # rises in
            Keyframe(t=0.5, x=W / 2, y=70 + 9, opacity=0, ease="out"), Keyframe(t=0.9, x=W / 2, y=70, opacity=1))),
    )  # fmt: skip
    layers2 = (
        Layer(image=img["label"], width=160, height=44, name="label", keyframes=(  # there, then fades out
            Keyframe(t=0.0, x=330, y=220), Keyframe(t=0.6, x=330, y=220), Keyframe(t=0.9, x=330, y=220, opacity=0))),
    )  # fmt: skip
    motions = (
        Motion(zoom_from=1.0, zoom_to=1.08, pan_from=(0.3, 0.5), pan_to=(0.6, 0.4)),
        Motion(zoom_from=1.12, zoom_to=1.02, pan_from=(0.5, 0.5), pan_to=(0.5, 0.5)),
        Motion(zoom_from=1.0, zoom_to=1.0),
        Motion(zoom_from=1.0, zoom_to=1.1, pan_from=(0.5, 0.2), pan_to=(0.5, 0.8)),
        Motion(zoom_from=1.05, zoom_to=1.0),
    )
    segs = []
    for k in range(5):
        f0 = SEG * k
        kind, frames = TRANSITIONS[k - 1] if k else ("fade", 0)
        cues = (Cue(start=f0 / FPS + 0.1, end=f0 / FPS + 1.1, text=f"Scene {k + 1}"),) if k % 2 else ()
        segs.append(Segment(
            kind="scene", index=k, start_frame=f0, frames=SEG, image=_still(d / f"still{k}.png", k), motion=motions[k],
            fade_in=0.0 if k else 0.2, fade_out=0.0 if k < 4 else 0.2, cues=cues,
            layers=(layers0, layers1, layers2, (), ())[k], transition=kind, transition_frames=frames))  # fmt: skip
    tone = d / "tone.wav"
    subprocess.run([find_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=22050:duration=1", "-ac", "1", str(tone)], check=True)  # fmt: skip
    return Timeline(width=W, height=H, fps=FPS, frames=5 * SEG, title="Layers", segments=tuple(segs),
                    cues=tuple(c for s in segs for c in s.cues),
                    audio=AudioPlan(narration=(AudioClip(path=tone, start=0.5),), speech=((0.5, 1.5),)))  # fmt: skip


def _plain(tl: Timeline) -> Timeline:
    """The same timeline without layers and with hard cuts for its transitions."""
    segs = tuple(
        s.model_copy(update={"layers": (), "transition": "fade", "transition_frames": 0}) for s in tl.segments
    )
    return tl.model_copy(update={"segments": segs})


def ssim_per_frame(a: Path, b: Path, crop: tuple[int, int, int, int] | None = None) -> list[float]:
    """Per-frame SSIM (luma) of two videos, both read as BT.601 limited-range YUV, optionally of a crop (w, h, x, y)."""
    norm = f"settb=1/{FPS},setpts=N,scale=out_color_matrix=bt601:out_range=tv:flags=bicubic,format=yuv420p"
    if crop:
        norm += ",crop={}:{}:{}:{}".format(*crop)
    graph = f"[0:v]{norm}[a];[1:v]{norm}[b];[a][b]ssim=stats_file=-"
    r = subprocess.run([find_ffmpeg(), "-hide_banner", "-nostdin", "-i", str(a), "-i", str(b), "-lavfi", graph,
                        "-f", "null", "-"], capture_output=True, text=True, check=True)  # fmt: skip
    return [float(m.group(1)) for m in re.finditer(r"n:\d+ Y:([\d.]+)", r.stdout)]


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("layers")
    tl = _timeline(d)
    out = {"server": d / "server.mp4", "plain": d / "plain.mp4", "browser": d / "browser.mp4"}
    composer = FFmpegComposer({"workers": 2})
    composer.execute(tl, out["server"], d / "work")
    composer.execute(_plain(tl), out["plain"], d / "work-plain")
    with TimelineServer(tl, PAGE) as srv:
        res = render_in_browser(srv.url, timeout=240)
        served = set(srv.requests)
    # stills, layer images (the label is one file in two segments), a counter's images, the narration
    assert sum(p.startswith("/assets/") for p in served) == 5 + 4 + 5 + 1
    if res.stats["container"] == "webm":
        out["browser"] = d / "browser.webm"
    out["browser"].write_bytes(res.data)
    return out


@pytest.mark.slow
def test_layers_and_transitions_match_the_server(renders: dict[str, Path]) -> None:
    server, plain, browser = renders["server"], renders["plain"], renders["browser"]
    ssim = ssim_per_frame(server, browser)
    assert len(ssim) == 5 * SEG
    base = ssim_per_frame(server, plain)

    # the icon's entrance (t = 0.3..0.65 s: frames 9..20), in the icon's box
    box = (112, 112, int(ICON[0]) - 56, int(ICON[1]) - 56)
    icon, icon_plain = ssim_per_frame(server, browser, box), ssim_per_frame(server, plain, box)
    entrance = range(10, 24)
    # the counter (its images change at 0.5, 0.7, 0.9 s), in its box
    cbox = (80, 56, int(COUNTER[0]) - 40, int(COUNTER[1]) - 28)
    count, count_plain = ssim_per_frame(server, browser, cbox), ssim_per_frame(server, plain, cbox)
    counting = range(16, 36)
    report = [f"\nlayers + transitions, SSIM (Y) browser vs server: mean {np.mean(ssim):.4f}, min {min(ssim):.3f}",
              f"icon entrance {[round(icon[n], 3) for n in entrance]} (without layers: "
              f"{[round(icon_plain[n], 3) for n in entrance]})",
              f"counter {np.mean([count[n] for n in counting]):.4f} (without layers: "
              f"{np.mean([count_plain[n] for n in counting]):.4f})"]  # fmt: skip
    windows = {}
    for k, (kind, d) in enumerate(TRANSITIONS, start=1):
        frames = range(SEG * k, SEG * k + d)
        windows[kind] = frames
        report.append(
            f"{kind}: {[round(ssim[n], 3) for n in frames]} (hard cut: {[round(base[n], 3) for n in frames]})"
        )
    print("\n".join(report))

    assert np.mean(ssim) >= 0.9
    assert min(ssim) >= 0.8
    # the layers are drawn where and when the server draws them (and the frames without them would not pass)
    assert np.mean([icon[n] for n in entrance]) >= 0.88
    assert min(icon[n] for n in entrance) >= 0.8
    assert np.mean([icon[n] for n in entrance]) >= np.mean([icon_plain[n] for n in entrance]) + 0.15
    assert np.mean([count[n] for n in counting]) >= 0.9
    assert np.mean([count[n] for n in counting]) >= np.mean([count_plain[n] for n in counting]) + 0.15
    # every transition mixes the same two pictures the same way (a hard cut would not pass)
    for kind, frames in windows.items():
        got = [ssim[n] for n in frames]
        first_half = list(frames)[: len(frames) // 2]
        assert np.mean(got) >= 0.85 and min(got) >= 0.8, (kind, got)
        assert np.mean([ssim[n] for n in first_half]) >= np.mean([base[n] for n in first_half]) + 0.1, kind


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    tl = _timeline(tmp_path_factory.mktemp("page"))
    with TimelineServer(tl, PAGE) as srv, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page()
        pg.goto(srv.url + "/")
        pg.wait_for_function("() => window.ReelforgeRenderer !== undefined")
        yield pg, tl
        browser.close()


def test_the_browser_uses_the_servers_layer_maths(page: tuple[Any, Timeline]) -> None:
    """Where, how big, how much revealed, which counter image and how opaque: ``layer_state``, frame by frame."""
    pg, tl = page
    layers = [layer for s in tl.segments for layer in s.layers]
    times = [n / FPS for n in range(0, 2 * SEG)]
    got = pg.evaluate(
        "([layers, times, fps]) => layers.map((l) => times.map((t) => "
        "ReelforgeRenderer.internals.layerState(ReelforgeRenderer.internals.normalize({width: 2, height: 2, fps, "
        "frames: 1, segments: [{kind: 'scene', index: 0, start_frame: 0, frames: 1, image: 'x', layers: [l]}]})"
        ".segments[0].layers[0], t, fps)))",
        [[layer.model_dump(mode="json") for layer in layers], times, FPS],
    )
    # the browser follows the numbers of the server's ffmpeg expressions (coefficients with 4 decimals), which
    # layer_state (exact decimals) can round the other way at a tie: 2 px apart at most, rarely
    exact = total = 0
    for layer, states in zip(layers, got, strict=True):
        for t, st in zip(times, states, strict=True):
            want = layer_state(layer, t, FPS)
            pixels = ("x0", "y0", "width", "height", "shown")
            assert all(abs(st[k] - getattr(want, k)) <= 2 for k in pixels), (layer.name, t, st, want)
            assert (st["frame"], st["visible"]) == (want.frame, want.visible), (layer.name, t)
            assert st["opacity"] == pytest.approx(want.opacity, abs=1e-3), (layer.name, t)
            exact += all(st[k] == getattr(want, k) for k in pixels)
            total += 1
    print(f"\nlayer states: {exact} of {total} exactly as layer_state gives them")
    assert exact >= 0.97 * total
    # xfade's progress, in 32-bit floats: 1 at the first frame of the overlap, 1/D at its last
    for d in (2, 10, 12, 15):
        ps = pg.evaluate(
            "(d) => [...Array(d).keys()].map((j) => ReelforgeRenderer.internals.transitionProgress(j, d))", d
        )
        assert ps == [float(np.float32(1) - np.float32(j) / np.float32(d)) for j in range(d)]
