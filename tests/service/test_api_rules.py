"""API rules that need no rendering: validation messages, auth and limits, ids and paths, meta endpoints."""

from __future__ import annotations

import pytest

from reelforge.errors import ConfigError

TOKEN_A = "a" * 24
TOKEN_B = "b" * 24


def test_validation_errors_are_422_with_plain_field_messages(svc_settings, client_for, stub):
    with client_for(svc_settings(), executor=stub()) as client:
        r = client.post("/v1/videos", json={"prompt": "  ", "duration": 3, "style": "weird"})
        assert r.status_code == 422
        detail = {tuple(d["loc"]): d["msg"] for d in r.json()["detail"]}
        assert detail[("body", "prompt")].startswith("the prompt is empty")
        assert detail[("body", "duration")] == "duration 3 s is out of range: use 5 to 1800 seconds"
        assert ("body", "style") in detail
        assert not any(m.startswith("Value error") for m in detail.values())
        r = client.post("/v1/videos", json={"prompt": "x" * 2001, "duration": 10})
        assert "the limit is 2000" in r.json()["detail"][0]["msg"]
        r = client.post("/v1/videos", json={"prompt": "Bees", "duration": 10, "backends": {"images": "nope"}})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "backends", "images"]
        assert "unknown visuals backend 'nope'" in r.json()["detail"][0]["msg"]
        r = client.post("/v1/videos", json={"prompt": "Bees", "duration": 10, "voice": "/etc/passwd"})
        assert r.status_code == 422 and "file paths are not accepted" in r.json()["detail"][0]["msg"]
        r = client.post("/v1/videos", json={"prompt": "Bees", "duration": 10, "colour": "red"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "colour"]
        r = client.post("/v1/videos", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 422
        r = client.post("/v1/videos", json={"prompt": "p" * 300_000, "duration": 10})
        assert r.status_code == 413


def test_transition_is_a_job_setting_and_checked(svc_settings, client_for, stub):
    from reelforge.service.jobs import Job
    from reelforge.service.runner import job_settings

    settings = svc_settings()
    with client_for(settings, executor=stub()) as client:
        r = client.post("/v1/videos", json={"prompt": "Bees", "duration": 10, "transition": "spin"})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "transition"]
        assert "'crossfade'" in r.json()["detail"][0]["msg"] and "'wipe'" in r.json()["detail"][0]["msg"]
        r = client.post("/v1/videos", json={"prompt": "Bees", "duration": 10, "transition": "wipe"})
        assert r.status_code == 202, r.text
        assert r.json()["backends"] == {"transition": "wipe"} and "transition" not in r.json()["request"]
        job = Job(id="x", request=r.json()["request"], backends=r.json()["backends"])
        assert settings.transition == "auto" and job_settings(settings, job).transition == "wipe"
        r = client.post("/v1/videos", json={"prompt": "Bees", "duration": 10})
        assert r.json()["backends"] == {}


def test_submit_routes_by_queue_and_returns_links(svc_settings, client_for, stub):
    ex = stub()
    with client_for(svc_settings(), executor=ex) as client:
        r = client.post(
            "/v1/videos", json={"prompt": "Bees", "duration": 10, "backends": {"writer": "template"}}
        )
        assert r.status_code == 202
        body = r.json()
        assert r.headers["location"] == f"/v1/videos/{body['id']}"
        assert body["status"] == "queued" and body["queue"] == "cpu" and ex.submitted == [body["id"]]
        assert set(body["links"]) >= {
            "self",
            "events",
            "stream",
            "video",
            "storyboard",
            "subtitles",
            "poster",
        }
        # a queued job has an (empty, open) playlist already, so a player can start polling it
        pl = client.get(body["links"]["stream"]).text
        assert "#EXT-X-PLAYLIST-TYPE:EVENT" in pl and "#EXT-X-ENDLIST" not in pl
        assert client.get(body["links"]["video"]).status_code == 404


def test_tokens_required_off_loopback(svc_settings, client_for, stub):
    with (
        pytest.raises(ConfigError, match="needs tokens"),
        client_for(svc_settings(), host="0.0.0.0", executor=stub()),
    ):
        pass
    settings = svc_settings(tokens=[{"name": "alice", "token": TOKEN_A}])
    with client_for(settings, host="0.0.0.0", executor=stub()) as client:
        assert client.get("/healthz").status_code == 200  # health needs no token
        r = client.get("/v1/videos")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert "needs an API token" in r.json()["detail"]
        assert client.get("/v1/videos", headers={"Authorization": f"Bearer {TOKEN_B}"}).status_code == 401
        assert client.get("/v1/videos", headers={"Authorization": f"Basic {TOKEN_A}"}).status_code == 401
        assert client.get("/v1/videos", headers={"Authorization": f"Bearer {TOKEN_A}"}).status_code == 200
        assert client.get(f"/v1/videos?access_token={TOKEN_A}").status_code == 200
        assert client.get("/v1/backends").status_code == 401


def test_tokens_optional_on_loopback_but_checked_when_given(svc_settings, client_for, stub):
    settings = svc_settings(tokens=[{"name": "alice", "token": TOKEN_A}])
    with client_for(settings, executor=stub()) as client:
        assert client.get("/v1/videos").status_code == 200
        assert client.get("/v1/videos", headers={"Authorization": f"Bearer {TOKEN_B}"}).status_code == 401


def test_per_token_limits_and_ownership(svc_settings, client_for, stub):
    settings = svc_settings(
        tokens=[
            {"name": "alice", "token": TOKEN_A, "max_concurrent": 2, "max_duration": 60},
            {"name": "bob", "token": TOKEN_B},
        ]
    )
    alice = {"Authorization": f"Bearer {TOKEN_A}"}
    bob = {"Authorization": f"Bearer {TOKEN_B}"}
    with client_for(settings, host="0.0.0.0", executor=stub()) as client:
        r = client.post("/v1/videos", json={"prompt": "Bees", "duration": 61}, headers=alice)
        assert r.status_code == 422
        assert r.json()["detail"][0] == {"loc": ["body", "duration"], "type": "value_error",
                                         "msg": "duration 61 s is over your limit of 60 s"}  # fmt: skip
        ids = [client.post("/v1/videos", json={"prompt": "Bees", "duration": 30}, headers=alice).json()["id"]
               for _ in range(2)]  # fmt: skip
        r = client.post("/v1/videos", json={"prompt": "Bees", "duration": 30}, headers=alice)
        assert r.status_code == 429 and "the limit is 2" in r.json()["detail"]
        # bob's limit is his own, and he cannot see alice's jobs
        assert (
            client.post("/v1/videos", json={"prompt": "Ants", "duration": 30}, headers=bob).status_code == 202
        )
        assert client.get(f"/v1/videos/{ids[0]}", headers=bob).status_code == 404
        assert client.delete(f"/v1/videos/{ids[0]}", headers=bob).status_code == 404
        assert [j["request"]["prompt"] for j in client.get("/v1/videos", headers=bob).json()["jobs"]] == [
            "Ants"
        ]
        # cancelling one frees a slot
        assert client.delete(f"/v1/videos/{ids[0]}", headers=alice).status_code == 202
        assert (
            client.post("/v1/videos", json={"prompt": "Bees", "duration": 30}, headers=alice).status_code
            == 202
        )


@pytest.mark.parametrize(
    "path,codes",
    [
        ("/v1/videos/..%2F..%2Fetc%2Fpasswd", {404, 422}),
        ("/v1/videos/../../etc/passwd", {404}),
        ("/v1/videos/ABCDEF0123456789ABCDEF0123456789", {422}),
        ("/v1/videos/0123456789abcdef0123456789abcde", {422}),
        ("/v1/videos/0123456789abcdef0123456789abcdef", {404}),
        ("/v1/videos/0123456789abcdef0123456789abcdef/video.mp4", {404}),
        ("/v1/videos/0123456789abcdef0123456789abcdef/hls/..%2F..%2Fjobs.sqlite3", {404}),
        ("/v1/videos/0123456789abcdef0123456789abcdef/scenes/-1/thumbnail.jpg", {404, 422}),
        ("/static/..%2F..%2F..%2Fconfig.py", {404}),
        ("/static/../app.py", {404}),
    ],
)
def test_no_path_traversal(svc_settings, client_for, path, codes, stub):
    with client_for(svc_settings(), executor=stub()) as client:
        assert client.get(path).status_code in codes


def test_files_only_from_the_jobs_own_directory(svc_settings, client_for, stub):
    settings = svc_settings()
    with client_for(settings, executor=stub()) as client:
        job_id = client.post("/v1/videos", json={"prompt": "Bees", "duration": 10}).json()["id"]
        secret = settings.service.artifact_dir / "secret.ts"
        secret.write_text("no")
        for name in ("..%2Fsecret.ts", "%2E%2E%2Fsecret.ts", "s0-1-0.ts%00.txt", "secret.ts"):
            assert client.get(f"/v1/videos/{job_id}/hls/{name}").status_code == 404, name
        link = settings.service.artifact_dir / job_id / "hls"
        link.mkdir(parents=True)
        (link / "s0-1-0.ts").symlink_to(secret)  # a link out of the job's directory is not followed
        assert client.get(f"/v1/videos/{job_id}/hls/s0-1-0.ts").status_code == 404


def test_meta_endpoints_and_ui(svc_settings, client_for, stub):
    with client_for(svc_settings(), executor=stub()) as client:
        assert client.get("/healthz").json() == {
            "status": "ok",
            "version": client.app.version,
            "executor": "stub",
        }
        backends = client.get("/v1/backends").json()
        assert "template" in [b["name"] for b in backends["script"]]
        assert set(backends) == {"script", "narration", "visuals", "music", "compose"}
        assert "en_US-joe-medium" in client.get("/v1/voices").json()["voices"]
        spec = client.get("/openapi.json").json()
        assert {"/v1/videos", "/v1/videos/{job_id}", "/v1/videos/{job_id}/events"} <= set(spec["paths"])
        assert client.get("/docs").status_code == 200
        page = client.get("/")
        assert page.status_code == 200 and "<title>reelforge</title>" in page.text
        assert client.get("/static/app.js").status_code == 200
        assert client.get("/static/style.css").status_code == 200


def test_queue_unreachable_is_503_and_leaves_no_job(svc_settings, client_for, stub):
    class Down(stub):  # type: ignore[misc, valid-type]
        def submit(self, job):
            raise ConnectionError("redis is down")

    with client_for(svc_settings(), executor=Down()) as client:
        r = client.post("/v1/videos", json={"prompt": "Bees", "duration": 10})
        assert r.status_code == 503 and "cannot be reached" in r.json()["detail"]
        assert client.get("/v1/videos").json()["jobs"] == []
