"""``auto``: openai when an endpoint/key is configured, else the local model, else the template writer."""

from __future__ import annotations

import logging

import pytest

from reelforge.models import Request
from reelforge.script import auto
from reelforge.script.auto import AutoOptions, AutoWriter, choose
from reelforge.script.local import LocalWriter, bundled_model, runtime_available
from reelforge.script.openai import OpenAIWriter
from reelforge.script.template import TemplateWriter


def test_an_endpoint_or_a_key_means_openai() -> None:
    assert choose(AutoOptions(base_url="http://localhost:11434/v1"))[0] == "openai"
    name, why = choose(AutoOptions(api_key="sk-x"))
    assert name == "openai" and "API key" in why
    w = AutoWriter({"base_url": "http://127.0.0.1:9/v1", "model": "llama3", "timeout": 5,
                    "words_per_second": 3.0, "openai": {"max_retries": 1}})  # fmt: skip
    inner = w.chosen
    assert isinstance(inner, OpenAIWriter)
    o = inner.options
    assert (o.base_url, o.model, o.timeout, o.max_retries, o.words_per_second) == (
        "http://127.0.0.1:9/v1",
        "llama3",
        5,
        1,
        3.0,
    )
    assert w.identity()["chosen"]["model"] == {"endpoint": "http://127.0.0.1:9/v1", "model": "llama3"}


@pytest.mark.skipif(not (runtime_available() and bundled_model()), reason="no local model installed")
def test_no_endpoint_means_the_local_model(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="reelforge.script"):
        w = AutoWriter({"local": {"threads": 1}, "words_per_second": 2.8, "model": "gpt-4o-mini"})
        inner = w.chosen
    assert isinstance(inner, LocalWriter)
    assert inner.options.threads == 1 and inner.options.words_per_second == 2.8
    assert inner.options.model is None  # an endpoint's model name is not a GGUF file
    assert "auto chose local" in caplog.text and "SmolLM2" in caplog.text
    assert w.identity()["chosen"]["model"]["file"].endswith(".gguf")


def test_a_gguf_model_option_is_used_when_it_exists(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auto, "runtime_available", lambda: True)
    gguf = tmp_path / "my.gguf"
    assert choose(AutoOptions(model=str(gguf)))[0] == "template"  # missing file
    gguf.write_bytes(b"GGUF")
    name, why = choose(AutoOptions(model=str(gguf)))
    assert name == "local" and "my.gguf" in why
    inner = AutoWriter({"model": str(gguf)}).chosen
    assert isinstance(inner, LocalWriter) and inner.options.model == str(gguf)


def test_nothing_available_means_template(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setattr(auto, "runtime_available", lambda: False)
    with caplog.at_level(logging.INFO, logger="reelforge.script"):
        w = AutoWriter({"words_per_second": 3.2, "template": {}})
        sb = w.execute(Request(prompt="how bees make honey", duration=20))
    assert isinstance(w.chosen, TemplateWriter) and w.chosen.words_per_second == 3.2
    assert sb.writer == "template"
    assert "auto chose template: no LLM endpoint configured and xllamacpp is not installed" in caplog.text
    monkeypatch.setattr(auto, "runtime_available", lambda: True)
    monkeypatch.setattr(auto, "bundled_model", lambda: None)
    assert choose(AutoOptions())[0] == "template"
