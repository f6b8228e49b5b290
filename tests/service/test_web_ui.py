"""The web UI in real headless Chromium (Playwright): submit, watch progress, play while rendering, edit a
scene and re-render. Saves docs/ui-desktop.png and docs/ui-mobile.png."""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from svcutil import serving

from reelforge.service.app import create_app, web_dir

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def server(svc_settings) -> Iterator[str]:
    with serving(create_app(svc_settings())) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    if not (web_dir() / "vendor" / "hls.min.js").is_file():
        pytest.skip("hls.js is not built: run `make install` (needs npm)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def save_png(png: bytes, path: Path) -> None:
    """Screenshots for the docs, kept small (palette PNG)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        im.convert("RGB").quantize(colors=192, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def test_make_watch_edit_in_the_browser(server: str, browser: Any, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server + "/")
    assert page.title() == "reelforge"
    page.fill("#prompt", "How coral reefs grow")
    page.eval_on_selector("#duration", "e => { e.value = 10; e.dispatchEvent(new Event('input')); }")
    assert page.text_content("#duration-out") == "10 s"
    page.select_option("#resolution", "480p")
    page.select_option("#style", "upbeat")
    page.click("#submit")

    # live progress: stage bars and scene chips fill in from the SSE stream
    page.wait_for_selector("#job:not([hidden])")
    page.wait_for_function("document.querySelectorAll('#scenes .scene-chip').length >= 2", timeout=60_000)
    page.wait_for_function("document.querySelector('#stages li.complete') !== null", timeout=60_000)
    job_id = page.evaluate("location.hash.slice(1)")
    api = httpx.Client(base_url=server)

    # the player starts on the HLS stream as soon as the first segment is ready, before the video is done
    page.wait_for_function("document.querySelector('#player').currentTime > 0.3", timeout=120_000)
    status_when_playing = api.get(f"/v1/videos/{job_id}").json()["status"]
    t1 = page.evaluate("document.querySelector('#player').currentTime")
    time.sleep(1.0)
    t2 = page.evaluate("document.querySelector('#player').currentTime")
    assert t2 > t1, "the video is not playing"
    assert page.evaluate("document.querySelector('#player').src").startswith("blob:")  # hls.js (MSE)
    print(f"playback started while the job was {status_when_playing}")

    page.wait_for_selector("#job-status.done", timeout=120_000)
    page.wait_for_selector("#dl-video:not([hidden])")
    assert page.get_attribute("#dl-video", "href") == f"/v1/videos/{job_id}/video.mp4?download=1"
    page.wait_for_selector("#sb-scenes li.sb-scene img:not([hidden])")
    n_scenes = page.locator("#sb-scenes li.sb-scene").count()
    assert n_scenes >= 2
    assert page.locator("#history li button").count() >= 1

    # edit the last scene's picture and re-render just that scene
    last = page.locator("#sb-scenes li.sb-scene").nth(n_scenes - 1)
    new_visual = "a bright reef with orange fish, seen from above"
    last.locator('textarea[data-field="visual"]').fill(new_visual)
    assert page.text_content("#rerender") == "Re-render 1 scene"
    assert "changed" in (last.get_attribute("class") or "")
    page.screenshot(path=str(tmp_path / "edit.png"))
    page.click("#rerender")
    end = time.monotonic() + 120
    while True:
        job = api.get(f"/v1/videos/{job_id}").json()
        if job["generation"] == 1 and job["status"] == "done":
            break
        assert time.monotonic() < end, job
        time.sleep(0.2)
    assert job["result"]["cache"]["segment"] == {"hits": n_scenes, "misses": 1}
    page.wait_for_selector("#job-status.done", timeout=30_000)
    page.wait_for_function(
        f"[...document.querySelectorAll('#sb-scenes textarea[data-field=visual]')].some(t => t.value === {new_visual!r})"
    )
    page.wait_for_function("document.querySelector('#player').readyState >= 2", timeout=30_000)
    page.evaluate("document.querySelector('#player').currentTime = 4.0")
    page.evaluate("window.scrollTo(0, 0)")
    time.sleep(0.8)
    DOCS.mkdir(exist_ok=True)
    save_png(page.screenshot(full_page=False), DOCS / "ui-desktop.png")

    mobile = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    mobile.goto(f"{server}/#{job_id}")
    mobile.wait_for_selector("#job-status.done")
    mobile.wait_for_selector("#sb-scenes li.sb-scene img:not([hidden])")
    mobile.evaluate("document.querySelector('#job').scrollIntoView()")
    time.sleep(0.5)
    save_png(mobile.screenshot(full_page=False), DOCS / "ui-mobile.png")
    # nothing sticks out sideways on a phone
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 390
    assert not errors, errors
