"""API fuzzing (issue #9): schemathesis generates requests from the app's own OpenAPI spec, valid ones and
invalid ones (wrong types, missing and extra fields, odd strings, ids, paths, headers, query values, bodies),
and sends them in-process (ASGI) to ``create_app(...)``. No request may get a 5xx.

The executor accepts jobs and never renders them. Half the cases are aimed at a seeded, finished job of the
token's owner (real files: the video, sidecars, an HLS segment, a timeline and its assets), so that fuzzed
PATCH bodies, uploads, asset names, Range headers and event ids reach the handlers instead of stopping at
401/404; the job is restored after every request that changed it (a PATCH re-queues it, a DELETE removes it).
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

pytest.importorskip("fastapi", reason="the service extra is not installed: pip install -e '.[service]'")
pytest.importorskip("schemathesis", reason="pip install schemathesis (the dev extra)")

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from svcseed import SEED, TOKEN, SeededService

# strategies holding whole videos make hypothesis warn about the size of their repr
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

EXAMPLES = 16  # per operation (21 of them), more for the three with bodies: about 420 requests
BODY_EXAMPLES = 48
#: Range headers for the file routes, valid and not
RANGES = [None, "bytes=0-0", "bytes=0-", "bytes=-1", "bytes=-0", "bytes=10-5", "bytes=0-1,4-8", "bytes=abc",
          "bytes=99999999999-", "bytes=" + "9" * 40 + "-", "items=0-1", "bytes=-", "bytes=1-2-3", "bytes= 0-1",
          "bytes=0-1,", "bytes=,", "bytes=0--1", "bytes=\u00b2-"]  # fmt: skip


def known_path(op: Any) -> dict[str, Any]:
    """Path parameters that name real things of the seeded job (so Range headers reach a file)."""
    names = {p.name for p in op.path_parameters}
    good: dict[str, Any] = {"job_id": SEED, "index": 0, "ext": "mp4",
                            "name": "s0-1-0.ts" if "/hls/" in op.path else "0.png"}  # fmt: skip
    return {k: v for k, v in good.items() if k in names}


def with_range(pair: tuple[Any, str | None]) -> Any:
    case, value = pair
    if value is not None:
        case.headers = {**(case.headers or {}), "Range": value}
    return case


def with_body(pair: tuple[Any, Any]) -> Any:
    case, body = pair
    case.body = body
    return case


# bodies closer to valid than the spec alone gives (its validators are not in the schema): they get past
# the first check and reach the deeper ones; hostile strings and paths among them
HOSTILE = st.sampled_from(["/etc/passwd", "../../../../etc/passwd", "..\\..\\windows", "file:///etc/passwd",
                           "%2e%2e%2f", "\x00", "{{7*7}}", "'; DROP TABLE jobs; --", "\u202e", "x" * 5000,
                           "<script>alert(1)</script>", "movie=/etc/passwd", "  "])  # fmt: skip
TEXT = st.one_of(st.text(max_size=60), HOSTILE)
NUMBER = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 4000), st.just(1e308))


@st.composite
def storyboards(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(0, 3))
    durs = [draw(st.floats(0.5, 20)) for _ in range(n)]
    title = draw(st.floats(0, 3))
    total = sum(durs) + title
    scenes = [{"index": draw(st.sampled_from([i, i, i, -1, 200])), "narration": draw(TEXT), "visual": draw(TEXT),
               "duration": d} for i, d in enumerate(durs)]  # fmt: skip
    sb: dict[str, Any] = {"title": draw(TEXT), "prompt": draw(TEXT), "title_duration": title, "scenes": scenes,
                          "duration": draw(st.sampled_from([total, total, total + 3, -1.0]))}  # fmt: skip
    if draw(st.booleans()):
        sb[draw(st.sampled_from(["image", "path", "clip", "music"]))] = draw(HOSTILE)
    return sb


WORDS = st.text(st.characters(codec="ascii", categories=["L", "Zs"]), min_size=1, max_size=80)
CREATE = st.fixed_dictionaries(
    {"prompt": st.one_of(WORDS, WORDS, TEXT), "duration": st.one_of(st.floats(5, 1800), st.floats(5, 1800), NUMBER)},
    optional={"style": st.sampled_from(["calm", "upbeat", "calm", "weird", ""]),
              "aspect": st.sampled_from(["16:9", "9:16", "1:1", "4:3"]),
              "resolution": st.sampled_from(["480p", "720p", "1080p", "8k"]),
              "fps": st.one_of(st.integers(12, 60), st.integers(-5, 500)),
              "voice": TEXT, "seed": st.integers(-1, 2**70), "subtitles": st.booleans(), "karaoke": st.booleans(),
              "backends": st.fixed_dictionaries({}, optional={k: st.sampled_from(["template", "procedural", "nope", "../x", "piper", "synth"])
                                                              for k in ("writer", "images", "music", "tts")}),
              "storyboard": storyboards()},
)  # fmt: skip
EDIT = st.fixed_dictionaries(
    {},
    optional={"title": st.one_of(st.none(), TEXT),
              "scenes": st.lists(st.fixed_dictionaries({"index": st.integers(-2, 130)},
                                                       optional={"narration": st.one_of(st.none(), TEXT),
                                                                 "visual": st.one_of(st.none(), TEXT),
                                                                 "image": HOSTILE}), max_size=4)},
)  # fmt: skip


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededService]:
    yield SeededService(tmp_path_factory.mktemp("fuzz"))


class Tally:
    """What the fuzzer sent and got."""

    def __init__(self) -> None:
        self.statuses: collections.Counter[int] = collections.Counter()
        self.per_op: dict[str, collections.Counter[int]] = {}
        self.failures: list[str] = []
        self.sent = 0

    def record(self, label: str, status: int, problem: str | None = None) -> None:
        self.sent += 1
        self.statuses[status] += 1
        self.per_op.setdefault(label, collections.Counter())[status] += 1
        if problem is not None:
            self.failures.append(f"{label}: {problem}")


def send_nonfinite_json(app: Any, case: Any) -> Any:
    """A body with NaN or ±Infinity: JSON has no such numbers, so ``requests`` refuses to encode it, but a
    hand-made client can send the literals (Python's own parser accepts them). Send exactly that."""
    from fastapi.testclient import TestClient

    headers = {**(case.headers or {}), "content-type": "application/json"}
    return TestClient(app).request(case.method, case.formatted_path, params=case.query, headers=headers,
                                   content=json.dumps(case.body, allow_nan=True))  # fmt: skip


def describe(case: Any) -> str:
    try:
        return str(case.as_curl_command())
    except requests.exceptions.InvalidJSONError:
        return f"{case.method} {case.formatted_path} body={case.body!r}"


def fuzz_operation(op: Any, svc: SeededService, uploads: Any, tally: Tally) -> None:
    label = f"{op.method.upper()} {op.path}"
    aimed: dict[str, Any] = {"headers": {"Authorization": f"Bearer {TOKEN}"}}
    if any(p.name == "job_id" for p in op.path_parameters):
        aimed["path_parameters"] = {"job_id": SEED}
    strategies = [
        op.as_strategy(GenerationMode.POSITIVE),
        op.as_strategy(GenerationMode.NEGATIVE),
        op.as_strategy(GenerationMode.POSITIVE, **aimed),
        op.as_strategy(GenerationMode.NEGATIVE, **aimed),
    ]
    real = op.as_strategy(GenerationMode.POSITIVE, headers=aimed["headers"], path_parameters=known_path(op))
    if op.method.upper() == "GET" and op.path_parameters:  # a real file of the job, with any Range
        strategies.append(st.tuples(real, st.sampled_from(RANGES)).map(with_range))
    bodies = {"POST": CREATE, "PATCH": EDIT, "PUT": uploads}.get(op.method.upper())
    if bodies is not None:
        strategies += [st.tuples(real, bodies).map(with_body)] * 2

    @settings(max_examples=BODY_EXAMPLES if op.body else EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=st.one_of(*strategies))
    def run(case: Any) -> None:
        svc.restore()
        try:
            try:
                response = case.call()
            except requests.exceptions.InvalidJSONError:
                response = send_nonfinite_json(svc.app, case)
        except Exception as exc:  # the app raised: as bad as a 500
            tally.record(label, 599, f"raised {type(exc).__name__}: {exc}\n  {describe(case)}")
            return
        status = response.status_code
        problem = f"{status} {response.text[:300]}\n  {describe(case)}" if status >= 500 else None
        tally.record(label, status, problem)

    run()


@pytest.mark.timeout(900)
def test_no_request_gets_a_5xx(fuzz: SeededService) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz.app)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 20, [f"{o.method} {o.path}" for o in operations]
    video = (fuzz.template / "video.mp4").read_bytes()
    uploads = st.one_of(
        st.binary(max_size=4096),
        st.sampled_from(
            [
                b"",
                video,
                (fuzz.template / "hls" / "s0-1-0.ts").read_bytes(),
                video[: len(video) // 2],
                video[:32],
                b"\x1a\x45\xdf\xa3" + b"\x00" * 100,
            ]
        ),
        st.integers(1, len(video) - 1).map(lambda n: video[:n] + b"\x00" * 64),
    )
    tally = Tally()
    t0 = time.monotonic()
    for op in operations:
        fuzz_operation(op, fuzz, uploads, tally)
    fuzz.restore()
    elapsed = time.monotonic() - t0
    print(f"\nschemathesis: {tally.sent} requests to {len(operations)} operations in {elapsed:.1f} s; "
          f"statuses {dict(sorted(tally.statuses.items()))}; seeded job restored {fuzz.restores} times")  # fmt: skip
    for label, counts in tally.per_op.items():
        print(f"  {label}: {dict(sorted(counts.items()))}")
    assert not tally.failures, "\n".join(tally.failures[:20])
    assert tally.sent >= 200
    assert sum(n for s, n in tally.statuses.items() if 200 <= s < 300) >= 20  # the handlers were reached, too


async def raw_get(app: Any, path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """A GET straight into the ASGI app with header bytes as they come off the wire (HTTP clients in Python
    re-encode header values; a server hands them over as bytes, decoded as Latin-1)."""
    import anyio

    sent: list[dict[str, Any]] = []
    done = anyio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
             "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 5000),
             "server": ("testserver", 80)}  # fmt: skip
    with anyio.fail_after(20):
        await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.mark.parametrize(
    "header,query",
    [(b"\xb2", b""), (b"\xb91", b""), (b"9" * 40, b""), (b" 12 ", b""), (None, b"after=" + b"9" * 30),
     (None, f"after={2**63}".encode()), (None, b"after=-1"), (None, b"after=%C2%B2")],
)  # fmt: skip
def test_odd_event_ids_never_break_the_stream(
    fuzz: SeededService, header: bytes | None, query: bytes
) -> None:
    """Fixed with issue #9; both broke the event stream: a Latin-1 digit in ``Last-Event-ID`` (``"²".isdigit()``
    is true but ``int("²")`` fails: a 500), and an id over 2**63 in ``?after=`` (SQLite's integers: the stream
    died after its first line)."""
    import anyio

    fuzz.restore()
    headers = [(b"authorization", f"Bearer {TOKEN}".encode())]
    if header is not None:
        headers.append((b"last-event-id", header))
    status, body = anyio.run(raw_get, fuzz.app, f"/v1/videos/{SEED}/events", query, headers)
    assert status in (200, 422), body
    if status == 200:
        assert b"event: end" in body


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_in_a_body_are_refused_clearly(fuzz: SeededService, number: str) -> None:
    """JSON has no NaN or Infinity, but Python's parser reads the literals (and 1e999 as inf): a duration,
    a seed or a scene duration like that is a 422 naming the field, never a 5xx or a render."""
    from fastapi.testclient import TestClient

    client = TestClient(fuzz.app)
    auth = {"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    for body, field in (
        (f'{{"prompt": "How bees make honey", "duration": {number}}}', "duration"),
        (f'{{"prompt": "How bees make honey", "duration": 10, "seed": {number}}}', "seed"),
        (f'{{"scenes": [{{"index": 0, "duration": {number}}}]}}', "duration"),
    ):
        method, path = ("PATCH", f"/v1/videos/{SEED}/storyboard") if body.startswith('{"scenes"') else (
            "POST", "/v1/videos")  # fmt: skip
        r = client.request(method, path, content=body, headers=auth)
        assert r.status_code == 422 and field in r.text, (body, r.status_code, r.text[:300])
        fuzz.restore()
