"""The pipeline's side of the script stage: LLM settings reach the writer, the voice's speaking rate is
measured once and passed in, and scenes whose speech overruns are rewritten shorter and re-narrated alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from reelforge.backend import Backend, BackendOptions
from reelforge.config import load_settings
from reelforge.models import Request, Scene, SceneAssets, SceneVisual, SpokenSentence, Storyboard
from reelforge.pipeline import Pipeline
from reelforge.registry import Registry
from reelforge.script.auto import AutoWriter
from reelforge.script.openai import OpenAIWriter
from reelforge.script.plan import CALIBRATION_TEXT
from reelforge.script.template import TemplateWriter
from reelforge.text import word_count

SECONDS_PER_WORD = 0.4  # the fake voice speaks 2.5 words/s, plus 0.25 s between sentences


class FakeVoice(Backend):
    name: ClassVar[str] = "fakevoice"
    spoken: ClassVar[list[str]] = []

    class Options(BackendOptions):
        voice: str | None = None

    def execute(self, text: str, out_path: Path) -> SpokenSentence:
        FakeVoice.spoken.append(text)
        return SpokenSentence(text=text, path=out_path, duration=SECONDS_PER_WORD * word_count(text),
                              sample_rate=22050)  # fmt: skip


class ShortWriter(TemplateWriter):
    """The template writer, with a revise that says what it was asked."""

    name: ClassVar[str] = "short"
    revised: ClassVar[list[tuple[int, int]]] = []

    def revise(self, scene: Scene, max_words: int, request: Request) -> Scene:
        ShortWriter.revised.append((scene.index, max_words))
        return scene.model_copy(update={"narration": " ".join(["Bees"] * (max_words - 1)) + " fly."})


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.register("narration", FakeVoice)
    reg.register("script", ShortWriter)
    FakeVoice.spoken.clear()
    ShortWriter.revised.clear()
    return reg


def pipe(tmp_path: Path, registry: Registry, **settings: Any) -> Pipeline:
    settings.setdefault("tts", "fakevoice")
    return Pipeline(load_settings(None, cache_dir=tmp_path / "cache", **settings), registry=registry)


def test_settings_default_to_auto_and_read_llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("REELFORGE_LLM_API_KEY", "REELFORGE_LLM_BASE_URL", "REELFORGE_WRITER"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-openai-env")
    monkeypatch.setenv("REELFORGE_LLM_MODEL", "gpt-test")
    monkeypatch.setenv("REELFORGE_LLM_TIMEOUT", "12")
    s = load_settings(None)
    assert s.writer == "auto" and s.llm_api_key == "sk-from-openai-env"
    assert (s.llm_model, s.llm_timeout) == ("gpt-test", 12.0)
    monkeypatch.setenv("REELFORGE_LLM_API_KEY", "sk-reelforge")
    monkeypatch.setenv("REELFORGE_LLM_BASE_URL", "http://localhost:8080/v1")
    s = load_settings(None)
    assert (s.llm_api_key, s.llm_base_url) == ("sk-reelforge", "http://localhost:8080/v1")
    assert s.public_dump()["llm_api_key"] == "***"


def test_llm_settings_reach_the_writer_as_options(tmp_path: Path, registry: Registry) -> None:
    reg = Registry()
    reg.register("narration", FakeVoice)
    reg.register("script", OpenAIWriter)
    reg.register("script", AutoWriter)
    p = pipe(tmp_path, reg, writer="openai", llm_base_url="http://127.0.0.1:9/v1", llm_api_key="sk-1",
             llm_model="m1", llm_timeout=7.0, options={"openai": {"max_retries": 1}})  # fmt: skip
    w = p.script_writer(Request(prompt="bees", duration=20))
    assert isinstance(w, OpenAIWriter)
    o = w.options
    assert (o.base_url, o.api_key, o.model, o.timeout, o.max_retries) == (
        "http://127.0.0.1:9/v1",
        "sk-1",
        "m1",
        7,
        1,
    )
    assert o.words_per_second == 2.42  # measured with the fake voice
    a = pipe(tmp_path, reg, writer="auto", llm_base_url="http://127.0.0.1:9/v1", llm_model="m2",
             options={"openai": {"max_retries": 0}}).script_writer(Request(prompt="bees", duration=20))  # fmt: skip
    assert isinstance(a, AutoWriter)
    inner = a.chosen
    assert isinstance(inner, OpenAIWriter)
    assert (inner.options.model, inner.options.max_retries) == ("m2", 0)


def test_voice_rate_is_measured_once_per_voice_and_cached(tmp_path: Path, registry: Registry) -> None:
    p = pipe(tmp_path, registry, writer="template")
    assert p.voice_rate() == 2.42  # 58 words over 23.2 s of speech and 0.75 s of pauses
    n = len(FakeVoice.spoken)
    assert n == 4 and " ".join(FakeVoice.spoken) == CALIBRATION_TEXT
    again = pipe(tmp_path, registry, writer="template")
    assert again.voice_rate() == 2.42 and len(FakeVoice.spoken) == n
    assert again.cache.stats()["voice-rate"]["hits"] == 1
    w = again.script_writer(Request(prompt="bees", duration=20))
    assert isinstance(w, TemplateWriter) and w.words_per_second == 2.42
    explicit = pipe(tmp_path, registry, writer="template", options={"template": {"words_per_second": 3.0}})
    assert explicit.script_writer(Request(prompt="bees", duration=20)).words_per_second == 3.0


def _assets(sb: Storyboard, p: Pipeline) -> list[SceneAssets]:
    voice = FakeVoice({})
    return [
        SceneAssets(
            scene=s,
            narration=p._narrate_scene(voice, voice.identity(), sb, i),
            visual=SceneVisual(index=i, path=Path("x.png"), width=2, height=2),
        )
        for i, s in enumerate(sb.scenes)
    ]


def test_overrunning_scenes_are_rewritten_and_renarrated_alone(tmp_path: Path, registry: Registry) -> None:
    p = pipe(tmp_path, registry, writer="short")
    req = Request(prompt="how bees make honey", duration=30)
    sb = p.write_storyboard(req)
    long = sb.scenes[1].model_copy(update={"narration": " ".join(["Bees dance in the hive."] * 8)})
    sb = sb.with_scene(long)
    assets = _assets(sb, p)
    FakeVoice.spoken.clear()
    sb2, assets2 = p.shorten_overruns(req, sb, assets)
    slack = [s.duration - 0.35 - 0.30 for s in sb.scenes]
    over = [i for i, a in enumerate(assets) if a.narration.duration > slack[i]]
    assert 1 in over and len(over) < len(sb.scenes)
    words = [word_count(s.narration) for s in sb.scenes]
    expected = [(i, int(words[i] * slack[i] / assets[i].narration.duration * 0.95)) for i in over]
    assert ShortWriter.revised == expected
    assert FakeVoice.spoken == [sb2.scenes[i].narration for i in over]  # only those scenes spoken again
    for i, a in enumerate(assets2):
        if i in over:
            assert a.narration.duration <= slack[i] and a.scene == sb2.scenes[i]
            assert a.scene.duration == sb.scenes[i].duration
        else:
            assert a == assets[i] and sb2.scenes[i] == sb.scenes[i]
    # cached: a second run asks the writer nothing
    ShortWriter.revised.clear()
    p2 = pipe(tmp_path, registry, writer="short")
    p2.write_storyboard(req)
    sb3, _ = p2.shorten_overruns(req, sb, assets)
    assert ShortWriter.revised == [] and sb3 == sb2


def test_template_revise_drops_trailing_sentences() -> None:
    scene = Scene(index=0, narration="Bees fly far. They find flowers. They bring nectar home.", visual="v",
                  duration=5)  # fmt: skip
    w = TemplateWriter({})
    assert (
        w.revise(scene, 6, Request(prompt="bees", duration=10)).narration
        == "Bees fly far. They find flowers."
    )
    assert w.revise(scene, 1, Request(prompt="bees", duration=10)).narration == "Bees fly far."
