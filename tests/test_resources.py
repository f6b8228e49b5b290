"""Model caches register a releaser; release_models drops them (a one-shot make frees memory for the render)."""

from __future__ import annotations

from pathlib import Path

from reelforge import embed, resources
from reelforge.narration import piper
from reelforge.narration.piper import BUNDLED_VOICE, bundled_voices, load_voice


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def test_registered_releasers_run_and_the_voice_cache_empties(tmp_path: Path) -> None:
    calls: list[str] = []
    mine = resources.on_release(lambda: calls.append("mine"))
    model, config = bundled_voices()[BUNDLED_VOICE]
    voice = load_voice(model, config)
    assert load_voice(model, config) is voice  # cached: loaded once per process
    embedder = embed.default_embedder()
    resources.release_models()
    resources._releasers.remove(mine)
    assert calls == ["mine"]
    assert piper._voices == {}
    assert embed.default_embedder() is not embedder  # a fresh one is made on the next use
    assert load_voice(model, config) is not voice


def test_releasing_after_synthesis_hands_the_arena_back() -> None:
    model, config = bundled_voices()[BUNDLED_VOICE]
    voice = load_voice(model, config)
    text = "This sentence is long enough that the voice needs a good deal of working memory to speak it. " * 3
    list(voice.synthesize(text))
    before = _rss_mb()
    del voice
    resources.release_models()
    assert before - _rss_mb() > 50  # onnxruntime's arena and the session are gone
