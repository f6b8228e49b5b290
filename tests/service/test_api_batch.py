"""Batches over the API: each video is an ordinary ``POST /v1/videos`` job carrying a ``batch`` tag; the tag
comes back on the job, ``GET /v1/videos?batch=TAG`` lists one batch, and the web UI groups the history."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


def test_jobs_that_share_a_batch_tag(svc_settings, client_for, stub):
    with client_for(svc_settings(), executor=stub()) as client:
        ids = []
        for prompt in ("Bees", "Ants", "Wasps"):
            r = client.post("/v1/videos", json={"prompt": prompt, "duration": 10, "batch": "insects 2024-05"})
            assert r.status_code == 202, r.text
            assert r.json()["batch"] == "insects 2024-05" and "batch" not in r.json()["request"]
            ids.append(r.json()["id"])
        lone = client.post("/v1/videos", json={"prompt": "Moths", "duration": 10}).json()
        assert lone["batch"] is None
        listed = client.get("/v1/videos", params={"batch": "insects 2024-05"}).json()["jobs"]
        assert sorted(j["id"] for j in listed) == sorted(ids)
        assert {j["batch"] for j in listed} == {"insects 2024-05"}
        assert len(client.get("/v1/videos").json()["jobs"]) == 4
        assert client.get("/v1/videos", params={"batch": "nope"}).json()["jobs"] == []
        for bad in ("", "x" * 65, "<script>", "../etc"):
            r = client.post("/v1/videos", json={"prompt": "Bees", "duration": 10, "batch": bad})
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "batch"], bad


def test_the_web_ui_groups_the_history_by_batch():
    import reelforge.service as svc

    js = (Path(svc.__file__).parent / "web" / "app.js").read_text(encoding="utf-8")
    assert "j.batch" in js and "Batch: " in js


@pytest.mark.slow
def test_the_history_shows_a_batch_under_one_heading(svc_settings, stub):
    """In headless Chromium: three jobs of a batch under their heading (with a done count), one job alone."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    import httpx
    from svcutil import serving

    from reelforge.service.app import create_app

    with serving(create_app(svc_settings(), executor=stub())) as url:
        for prompt in ("Bees", "Ants", "Wasps"):
            httpx.post(url + "/v1/videos", json={"prompt": prompt, "duration": 10, "batch": "insects"})
        httpx.post(url + "/v1/videos", json={"prompt": "Moths", "duration": 10})
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url + "/")
            page.wait_for_selector("#history .h-batch")
            head = page.inner_text("#history .h-batch-head")
            assert "Batch: insects" in head and "0/3 done" in head
            assert page.locator("#history .h-batch li").count() == 3
            assert page.locator("#history > li:not(.h-batch)").count() == 1
            browser.close()
            assert errors == []
