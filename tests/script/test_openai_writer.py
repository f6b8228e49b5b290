"""The ``openai`` writer against a real HTTP server on 127.0.0.1 that speaks the OpenAI wire format
(``POST /v1/chat/completions``, ``GET /v1/models``): success, 429 then success, 500 until the retries
run out, malformed JSON, a slow server, json_schema rejected (400) and a bad key (401)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytest.importorskip("openai")

from reelforge.errors import ScriptError
from reelforge.models import Request
from reelforge.script.llm import SYSTEM, check_narration, topic_terms
from reelforge.script.openai import OpenAIWriter
from reelforge.script.plan import plan_durations, word_budget
from reelforge.script.template import analyse_topic
from reelforge.text import word_count

BEES = "how bees make honey"
FACTS = [
    "Bees visit hundreds of flowers to sip sweet nectar.",
    "Back at the hive, workers pass the nectar from bee to bee.",
    "Enzymes from the bees break the sugars into simpler ones.",
    "The bees fan their wings until the nectar dries into honey.",
    "Each full cell of honey is sealed with a cap of wax.",
    "A single bee makes only a spoonful of honey in its life.",
    "Honey never spoils, so the colony can eat it all winter.",
    "Beekeepers take only the honey the colony does not need.",
    "Bees dance to tell their sisters where the best flowers grow.",
    "Honey gets its colour and taste from the flowers bees visit.",
    "A strong colony can store more than fifty pounds of honey.",
    "Young worker bees make wax from glands under their bellies.",
    "The queen bee lays eggs while the workers gather the food.",
    "In winter, bees huddle together and live on their stored honey.",
    "People have collected honey from wild bees for thousands of years.",
    "Without bees, many fruits and flowers could not make seeds.",
]
PICTURES = [
    "A honey bee drinking nectar from a purple flower",
    "Worker bees crowded on golden honeycomb inside a hive",
    "A bee fanning its wings above open wax cells",
    "Capped honeycomb frames glowing amber in the light",
    "A beekeeper lifting a frame heavy with honey",
    "A jar of honey beside a wooden dipper",
]

Reply = tuple[int, dict[str, Any], float]  # status, JSON body, delay (s)


def completion(content: str, model: str = "fake-model") -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def error(status: int, message: str, kind: str = "invalid_request_error") -> Reply:
    return status, {"error": {"message": message, "type": kind, "param": None, "code": None}}, 0.0


def storyboard_json(user: str) -> str:
    """A good whole-storyboard answer for the plan described in the request."""
    limits = [int(n) for n in re.findall(r"^\d+\. .*; at most (\d+) words$", user, re.M)]
    scenes, k = [], 0
    for i, limit in enumerate(limits):
        words: list[str] = []
        while not words or word_count(" ".join(words)) < 0.6 * limit:
            nxt = FACTS[k % len(FACTS)]
            if words and word_count(" ".join([*words, nxt])) > limit:
                break
            words.append(nxt)
            k += 1
        scenes.append({"narration": " ".join(words), "visual": PICTURES[i % len(PICTURES)],
                       "keywords": ["bees", "honeycomb"]})  # fmt: skip
    return json.dumps({"title": "The Sweet Work of Honey Bees", "scenes": scenes})


def good(body: dict[str, Any]) -> Reply:
    """A capable model: a whole storyboard when asked for JSON, else the piece asked for."""
    user = body["messages"][-1]["content"]
    if "storyboard" in user:
        return 200, completion(storyboard_json(user), body["model"]), 0.0
    if "title" in user:
        return 200, completion("The Sweet Work of Honey Bees"), 0.0
    if "key points" in user:
        return 200, completion("- Collecting nectar\n- Making honey\n- Storing honey"), 0.0
    if "Describe one picture" in user:
        n = int(time.perf_counter() * 1000) % len(PICTURES)
        return 200, completion(f"{PICTURES[n]}, seen up close.\nKeywords: bees, honey"), 0.0
    limit = int(re.search(r"at most (\d+) words", user).group(1))  # type: ignore[union-attr]
    scene = int(m.group(1)) if (m := re.search(r"Scene (\d+) of", user)) else 1
    first = FACTS[2 * (scene - 1) % len(FACTS)]
    return 200, completion(f"{first} {FACTS[2 * scene - 1]}" if limit >= 22 else first), 0.0


@dataclass
class FakeOpenAI:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    #: answers for the next requests, in order; when empty, ``default`` answers
    queue: list[Reply | Callable[[dict[str, Any]], Reply]] = field(default_factory=list)
    default: Callable[[dict[str, Any]], Reply] = good

    def answer(self, body: dict[str, Any]) -> Reply:
        item = self.queue.pop(0) if self.queue else self.default
        return item(body) if callable(item) else item

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if "messages" in r]


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, payload: dict[str, Any], delay: float) -> None:
            if delay:
                time.sleep(delay)
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": "listed-model", "object": "model",
                                                             "created": 0, "owned_by": "me"}]}, 0.0)  # fmt: skip
            else:
                self._send(*error(404, f"no route {self.path}"))

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                fake.requests.append(body)
                fake.headers.append(dict(self.headers))
                if self.path != "/v1/chat/completions":
                    reply = error(404, f"no route {self.path}")
                else:
                    reply = fake.answer(body)
            self._send(*reply)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()


def writer(server: FakeOpenAI, **options: Any) -> OpenAIWriter:
    opts: dict[str, Any] = {"base_url": server.url, "api_key": "sk-test", "model": "fake-model",
                            "backoff": 0.01, "max_retries": 2, "timeout": 5}  # fmt: skip
    opts.update(options)
    return OpenAIWriter(opts)


def check_storyboard(sb: Any, duration: float) -> None:
    _, durations = plan_durations(duration)
    assert [s.duration for s in sb.scenes] == durations
    terms = topic_terms(analyse_topic(BEES))
    for s in sb.scenes:
        assert check_narration(s.narration, word_budget(s.duration), terms, [], "bees").ok, s.narration


def test_success_in_one_structured_call(server: FakeOpenAI) -> None:
    w = writer(server)
    sb = w.execute(Request(prompt=BEES, duration=45))
    check_storyboard(sb, 45)
    assert sb.title == "The Sweet Work of Honey Bees" and sb.writer == "openai"
    assert sb.scenes[0].narration.startswith(FACTS[0]) and sb.scenes[1].visual == PICTURES[1]
    (req,) = server.chat_requests()  # one call for everything
    assert req["model"] == "fake-model"
    assert req["response_format"]["type"] == "json_schema"
    assert req["response_format"]["json_schema"]["schema"]["required"] == ["title", "scenes"]
    assert {k.lower(): v for k, v in server.headers[0].items()}["authorization"] == "Bearer sk-test"
    system, user = req["messages"]
    assert system == {"role": "system", "content": SYSTEM}
    assert json.dumps(BEES) in user["content"] and user["role"] == "user"
    ident = w.identity()
    assert ident["model"] == {"endpoint": server.url, "model": "fake-model"}
    assert "sk-test" not in json.dumps(ident)


def test_rate_limited_then_success(server: FakeOpenAI) -> None:
    server.queue.append(error(429, "Rate limit reached", "rate_limit_error"))
    sb = writer(server).execute(Request(prompt=BEES, duration=30))
    check_storyboard(sb, 30)
    assert len(server.chat_requests()) == 2


def test_server_errors_give_a_clear_error_after_bounded_retries(server: FakeOpenAI) -> None:
    server.default = lambda body: error(500, "the model crashed", "server_error")
    t0 = time.perf_counter()
    with pytest.raises(ScriptError, match=r"failed with HTTP 500 after 3 tries: the model crashed"):
        writer(server, max_retries=2, backoff=0.01).execute(Request(prompt=BEES, duration=30))
    assert len(server.chat_requests()) == 3
    assert time.perf_counter() - t0 < 5


def test_malformed_json_is_repaired(server: FakeOpenAI) -> None:
    def fenced(body: dict[str, Any]) -> Reply:
        text = storyboard_json(body["messages"][-1]["content"])
        return 200, completion(f"Here is the storyboard:\n```json\n{text[:-1]},}}\n```"), 0.0

    server.queue.append(fenced)
    sb = writer(server).execute(Request(prompt=BEES, duration=30))
    check_storyboard(sb, 30)
    assert sb.title == "The Sweet Work of Honey Bees"
    assert len(server.chat_requests()) == 1


def test_unusable_json_falls_back_to_pieces_then_template(server: FakeOpenAI) -> None:
    server.queue.append((200, completion('{"title": "Bees", "scenes": [ {"narr'), 0.0))
    sb = writer(server, attempts=2).execute(Request(prompt=BEES, duration=30))
    check_storyboard(sb, 30)
    reqs = server.chat_requests()
    assert "response_format" not in reqs[1]  # piece by piece now, plain text
    kinds = [r["messages"][-1]["content"] for r in reqs[1:]]
    assert any("title" in k for k in kinds) and sum("Scene" in k for k in kinds) >= 4


def test_bad_pieces_of_a_structured_answer_are_redone_alone(server: FakeOpenAI) -> None:
    def one_bad(body: dict[str, Any]) -> Reply:
        data = json.loads(storyboard_json(body["messages"][-1]["content"]))
        data["scenes"][2]["narration"] = "Sure! Here is the narration for scene three."
        return 200, completion(json.dumps(data)), 0.0

    server.queue.append(one_bad)
    sb = writer(server).execute(Request(prompt=BEES, duration=30))
    check_storyboard(sb, 30)
    reqs = server.chat_requests()
    assert len(reqs) == 2 and "Scene 3 of 4" in reqs[1]["messages"][-1]["content"]
    assert sb.scenes[2].narration.startswith(FACTS[4])  # the piece answer for scene 3


def test_slow_server_times_out_clearly(server: FakeOpenAI) -> None:
    server.default = lambda body: (*good(body)[:2], 2.0)
    t0 = time.perf_counter()
    with pytest.raises(ScriptError, match=r"did not answer within 0.3 s \(2 tries\).*REELFORGE_LLM_TIMEOUT"):
        writer(server, timeout=0.3, max_retries=1).execute(Request(prompt=BEES, duration=30))
    assert time.perf_counter() - t0 < 3


def test_json_schema_rejected_falls_back_to_json_mode(server: FakeOpenAI) -> None:
    def picky(body: dict[str, Any]) -> Reply:
        if body.get("response_format", {}).get("type") == "json_schema":
            return error(400, "response_format type json_schema is not supported by this model")
        return good(body)

    server.default = picky
    w = writer(server)
    sb = w.execute(Request(prompt=BEES, duration=30))
    check_storyboard(sb, 30)
    reqs = server.chat_requests()
    assert [r["response_format"]["type"] for r in reqs] == ["json_schema", "json_object"]
    w.execute(Request(prompt=BEES, duration=20))  # remembered: JSON mode straight away
    assert server.chat_requests()[-1]["response_format"]["type"] == "json_object"


def test_bad_key_is_a_clear_error_without_retries(server: FakeOpenAI) -> None:
    server.default = lambda body: error(401, "Incorrect API key provided")
    with pytest.raises(ScriptError, match=r"rejected the API key \(HTTP 401\).*REELFORGE_LLM_API_KEY"):
        writer(server).execute(Request(prompt=BEES, duration=30))
    assert len(server.chat_requests()) == 1


def test_unknown_model_is_a_clear_error(server: FakeOpenAI) -> None:
    server.default = lambda body: error(404, "model 'nope' not found")
    with pytest.raises(ScriptError, match=r"no model 'nope'.*REELFORGE_LLM_MODEL"):
        writer(server, model="nope").execute(Request(prompt=BEES, duration=30))


def test_model_defaults_to_the_first_listed_and_no_key_is_needed_locally(server: FakeOpenAI) -> None:
    w = OpenAIWriter({"base_url": server.url, "backoff": 0.01})
    assert w.identity()["model"]["model"] == "listed-model"
    w.execute(Request(prompt=BEES, duration=20))
    assert server.chat_requests()[0]["model"] == "listed-model"


def test_no_key_and_no_endpoint_says_what_to_set() -> None:
    with pytest.raises(ScriptError, match="REELFORGE_LLM_API_KEY"):
        OpenAIWriter({}).execute(Request(prompt=BEES, duration=20))


def test_piece_mode_and_revise(server: FakeOpenAI) -> None:
    w = writer(server, structured=False)
    sb = w.execute(Request(prompt=BEES, duration=30))
    check_storyboard(sb, 30)
    assert all("response_format" not in r for r in server.chat_requests())
    scene = sb.scenes[1].model_copy(update={"narration": " ".join(FACTS[:4])})
    short = w.revise(scene, 12, Request(prompt=BEES, duration=30))
    assert word_count(short.narration) <= 12


def test_structured_visuals_without_keywords_or_periods_are_kept(server: FakeOpenAI) -> None:
    def bare(body: dict[str, Any]) -> Reply:
        data = json.loads(storyboard_json(body["messages"][-1]["content"]))
        for s in data["scenes"]:
            s["keywords"] = []
        return 200, completion(json.dumps(data)), 0.0

    server.queue.append(bare)
    sb = writer(server).execute(Request(prompt=BEES, duration=30))
    assert len(server.chat_requests()) == 1
    assert [s.visual for s in sb.scenes] == PICTURES[: len(sb.scenes)]
    assert all("bees" in s.keywords for s in sb.scenes)  # the topic's keywords fill in


@pytest.mark.parametrize("failure", ["down", "slow", "500"])
def test_auto_falls_back_when_the_endpoint_fails(
    server: FakeOpenAI, failure: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    tmp_path: Any,
) -> None:  # fmt: skip
    """``auto`` with an endpoint that is down, too slow or failing: bounded retries, a logged fallback (the
    template here: the local model is switched off for speed), and the stand-in is not cached under the
    endpoint's key, so the next run asks the endpoint again."""
    import logging

    from svcutil import free_port

    from reelforge.config import load_settings
    from reelforge.pipeline import Pipeline
    from reelforge.script import auto

    monkeypatch.setattr(auto, "runtime_available", lambda: False)
    url = server.url
    if failure == "down":
        url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    elif failure == "slow":
        server.default = lambda body: (*good(body)[:2], 2.0)
    else:
        server.default = lambda body: error(500, "the model crashed", "server_error")
    opts = {"base_url": url, "api_key": "sk-test", "model": "fake-model", "timeout": 0.3,
            "openai": {"backoff": 0.01, "max_retries": 1}}  # fmt: skip
    w = auto.AutoWriter(opts)
    with caplog.at_level(logging.WARNING, logger="reelforge.script"):
        sb = w.execute(Request(prompt=BEES, duration=30))
    assert isinstance(w.chosen, OpenAIWriter) and w.fell_back and sb.writer == "template"
    assert "the LLM endpoint failed" in caplog.text and "falling back to template" in caplog.text
    if failure != "down":
        assert len(server.chat_requests()) == 2  # one try and one retry, then the fallback

    settings = load_settings(None, cache_dir=tmp_path / "cache", writer="auto", llm_base_url=url,
                             llm_api_key="sk-test", llm_model="fake-model", llm_timeout=0.3,
                             options={"auto": {"openai": {"backoff": 0.01, "max_retries": 1}}})  # fmt: skip
    for _ in range(2):
        assert Pipeline(settings).write_storyboard(Request(prompt=BEES, duration=30)).writer == "template"
    assert not list((tmp_path / "cache").glob("script/*/*/storyboard.json"))  # nothing cached under its key
    if failure != "down":
        assert len(server.chat_requests()) > 2  # the second run asked the endpoint again


def test_auto_does_not_hide_a_bad_key(server: FakeOpenAI) -> None:
    from reelforge.script.auto import AutoWriter

    server.default = lambda body: error(401, "Incorrect API key provided")
    with pytest.raises(ScriptError, match="rejected the API key"):
        AutoWriter({"base_url": server.url, "api_key": "sk-bad", "model": "fake-model"}).execute(
            Request(prompt=BEES, duration=30)
        )
