""" "Render in my browser" in the real web UI (headless Chromium, Playwright): a finished 5 s job is rendered again
by the browser renderer from the server's timeline and assets, the file is offered for download and uploaded,
and what the server stored is the same video (length, size, sound). The job belongs to a token, which the page
carries to every URL the renderer fetches (``?access_token=``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mediatools import probe
from svcutil import serving

from reelforge.config import load_settings
from reelforge.service.app import create_app
from reelforge.service.jobs import TERMINAL
from reelforge.webrender import bundle_path, is_built

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
TOKEN = "browser-render-token-0123"
DUR = 5.0


@pytest.fixture
def server(tmp_path: Path, shared_cache: Path) -> Iterator[tuple[str, Path]]:
    if not is_built():
        pytest.skip(f"the renderer bundle {bundle_path()} is not built: run `make web` (needs npm)")
    settings = load_settings(
        None, writer="template", images="procedural", cache_dir=shared_cache, jobs=2,
        service={"artifact_dir": str(tmp_path / "jobs"), "heartbeat_seconds": 0.5,
                 "tokens": [{"name": "alice", "token": TOKEN}]},
    )  # fmt: skip
    with serving(create_app(settings)) as url:
        yield url, settings.service.artifact_dir


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_render_in_my_browser_and_upload(server: tuple[str, Path], browser: Any, tmp_path: Path) -> None:
    base, artifacts = server
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    r = api.post("/v1/videos", json={"prompt": "How bees make honey", "duration": DUR, "resolution": "480p"})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    end = time.monotonic() + 180
    while (job := api.get(f"/v1/videos/{job_id}").json())["status"] not in TERMINAL:
        assert time.monotonic() < end, job
        time.sleep(0.2)
    assert job["status"] == "done", job["error"]

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.add_init_script(f"localStorage.setItem('reelforge-token', {TOKEN!r})")
    errors: list[str] = []
    failed: list[str] = []
    fetched: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda res: failed.append(f"{res.status} {res.url}") if res.status >= 400
            and "hls.min.js" not in res.url else None)  # fmt: skip
    page.on("request", lambda req: fetched.append(req.url))
    page.goto(f"{base}/#{job_id}")
    page.wait_for_selector("#job-status.done")
    assert page.evaluate("ReelforgeRenderer.supported()") is True
    button = page.wait_for_selector("#browser-render:not([hidden])")
    assert button.text_content() == "Render in my browser"
    assert page.is_visible("#dl-video") and page.is_hidden("#dl-client")

    t0 = time.monotonic()
    page.click("#browser-render")
    page.wait_for_selector("#browser-box:not([hidden])")
    # the progress bar moves while it renders
    page.wait_for_function(
        "parseFloat(document.querySelector('#browser-bar').style.width) > 0", timeout=120_000
    )
    page.wait_for_function("window.browserRenderResult !== null && window.browserRenderResult !== undefined",
                           timeout=300_000, polling=200)  # fmt: skip
    result = page.evaluate("window.browserRenderResult")
    wall = time.monotonic() - t0
    assert result["ok"], (result, errors, failed)
    page.wait_for_selector("#dl-client:not([hidden])", timeout=30_000)
    assert page.get_attribute("#browser-bar", "style") == "width: 100%;"
    assert "saved on the server" in page.text_content("#browser-status")
    assert page.get_attribute("#browser-download", "href").startswith("blob:")
    ext = "webm" if result["stats"]["container"] == "webm" else "mp4"
    assert page.get_attribute("#browser-download", "download").endswith(f"-browser.{ext}")
    assert (
        page.get_attribute("#dl-client", "href")
        == f"/v1/videos/{job_id}/client.{ext}?download=1&access_token={TOKEN}"
    )

    timeline_urls = [u for u in fetched if "/timeline" in u]
    assert timeline_urls and all(f"access_token={TOKEN}" in u for u in timeline_urls)
    asset_urls = [u for u in fetched if f"/v1/videos/{job_id}/assets/" in u]
    assert asset_urls and all(u.endswith(f"?access_token={TOKEN}") for u in asset_urls)
    assert not errors, errors
    assert not failed, failed

    # what the server stored is the browser's file, and it is the same video
    links = api.get(f"/v1/videos/{job_id}").json()["links"]
    assert links["client_render"] == f"/v1/videos/{job_id}/client.{ext}"
    got = api.get(links["client_render"])
    assert got.status_code == 200 and len(got.content) == result["size"]
    out = tmp_path / f"client.{ext}"
    out.write_bytes(got.content)
    assert (artifacts / job_id / f"client.{ext}").read_bytes() == got.content
    info = probe(out)
    server_info = probe(artifacts / job_id / "video.mp4")
    assert info["duration"] == pytest.approx(DUR, abs=0.2)
    assert (info["video"]["width"], info["video"]["height"]) == (854, 480)
    assert (info["video"]["width"], info["video"]["height"]) == (server_info["video"]["width"],
                                                                  server_info["video"]["height"])  # fmt: skip
    assert "audio" in info and info["audio"]["sample_rate"] == 48000 and info["audio"]["channels"] == 2
    assert info["video"]["codec"] in ("h264", "vp9", "av1") and info["audio"]["codec"] in ("aac", "opus")
    print(f"\nbrowser render of a {DUR:g} s 480p job: {result['stats']['codec']}+{result['stats']['audioCodec']}"
          f" in {result['stats']['seconds']:.1f} s (click to upload: {wall:.1f} s), {result['size']} bytes")  # fmt: skip
